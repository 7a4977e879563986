package mcpauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
)

// Supported signature algorithms.
const (
	algRS256 = "RS256"
	algES256 = "ES256"
	algHS256 = "HS256"
)

// maxTokenBytes bounds the token before any decoding: authsvc's tokens are well under
// 2 KB, and nothing larger deserves base64 and JSON work.
const maxTokenBytes = 8 << 10

// Token errors. Their messages become error_description, so they never contain
// token content.
var (
	errMalformed       = errors.New("malformed token")
	errTooLarge        = errors.New("token too large")
	errAlgorithm       = errors.New("signing algorithm not allowed")
	errType            = errors.New("token type is not at+jwt")
	errCritical        = errors.New("unsupported critical header")
	errUnknownKey      = errors.New("unknown signing key")
	errKeysUnavailable = errors.New("signing keys unavailable")
	errSignature       = errors.New("invalid signature")
	errIssuer          = errors.New("wrong issuer")
	errAudience        = errors.New("token is not for this resource")
	errExpired         = errors.New("token expired")
	errNotYetValid     = errors.New("token not yet valid")
	errIssuedInFuture  = errors.New("token issued in the future")
	errClaims          = errors.New("missing or malformed claims")
	errControlChars    = errors.New("claim contains control characters")
	errRevoked         = errors.New("token revoked")
)

var b64 = base64.RawURLEncoding.Strict()

// jwtHeader is what verify uses of a JOSE header that passed its checks.
type jwtHeader struct {
	alg, kid string
}

// maxKnownHeaders bounds settings.knownHeaders. Only headers of tokens whose
// signature verified enter it (one per signing key in practice), so attackers
// cannot fill it.
const maxKnownHeaders = 16

// verifyToken checks token completely (structure, alg, key, signature, typ, iss, aud, time
// claims, claim types) at unix time now (seconds) and returns its cache entry. It does
// not look at revocation. Keys come from s.inlineKeys or remote (jwksURL); jku, x5u
// and jwk headers are never read. A header segment seen on a token that verified is
// remembered, so the tokens of one signing key (all with the same header bytes)
// skip its decoding. RS256, the common case, is verified inline; under Yaegi every
// call allocates its callee's whole frame.
func verifyToken(ctx context.Context, s *settings, remote *remoteKeys, token string, now int64) (*cacheEntry, error) {
	if len(token) > maxTokenBytes {
		return nil, errTooLarge
	}
	parts := strings.SplitN(token, ".", 4)
	if len(parts) != 3 {
		return nil, errMalformed
	}
	s.knownMu.Lock()
	hd := s.knownHeaders[parts[0]]
	s.knownMu.Unlock()
	known := hd != nil
	var err error
	if !known {
		if hd, err = parseHeader(s, parts[0]); err != nil {
			return nil, err
		}
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return nil, errMalformed
	}
	signingInput := token[:len(parts[0])+1+len(parts[1])]
	alg := hd.alg
	if alg == algHS256 {
		err = checkHMAC(s, signingInput, sig)
	} else {
		k := s.inlineKeys[hd.kid]
		if remote != nil {
			// remoteKey's common case, inlined.
			remote.mu.Lock()
			k = remote.keys[hd.kid]
			remote.mu.Unlock()
			if k == nil {
				k, err = remoteKey(ctx, remote, hd.kid)
			}
		}
		switch {
		case err != nil:
		case k == nil:
			err = errUnknownKey
		case k.alg != alg:
			err = errAlgorithm
		case alg == algRS256:
			digest := sha256.Sum256([]byte(signingInput))
			if rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, digest[:], sig) != nil {
				err = errSignature
			}
		default:
			err = checkES256(k, signingInput, sig)
		}
	}
	if err != nil {
		return nil, err
	}
	if !known {
		s.knownMu.Lock()
		if len(s.knownHeaders) < maxKnownHeaders {
			s.knownHeaders[parts[0]] = hd
		}
		s.knownMu.Unlock()
	}
	pb, err := b64.DecodeString(parts[1])
	var claims map[string]interface{}
	if err != nil || json.Unmarshal(pb, &claims) != nil {
		return nil, errMalformed
	}
	if !strictClaims(pb, claims) {
		return nil, errClaims
	}
	return checkClaims(s, claims, now)
}

// parseHeader decodes and checks a JOSE header segment: alg in the allow-list, typ
// at+jwt per RFC 9068 (media types compare case-insensitively), no critical
// extensions (this verifier implements none).
func parseHeader(s *settings, segment string) (*jwtHeader, error) {
	hb, err := b64.DecodeString(segment)
	var hdr map[string]interface{}
	if err != nil || json.Unmarshal(hb, &hdr) != nil {
		return nil, errMalformed
	}
	alg, _ := hdr["alg"].(string)
	typ, _ := hdr["typ"].(string)
	if !s.algorithms[alg] {
		return nil, errAlgorithm
	}
	if typ != "at+jwt" && !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return nil, errType
	}
	if crit, ok := hdr["crit"]; ok && crit != nil {
		return nil, errCritical
	}
	kid, _ := hdr["kid"].(string)
	return &jwtHeader{alg: alg, kid: kid}, nil
}

// checkHMAC verifies an HS256 signature in constant time.
func checkHMAC(s *settings, signingInput string, sig []byte) error {
	mac := hmac.New(sha256.New, s.hmacKey)
	mac.Write([]byte(signingInput))
	if !hmac.Equal(mac.Sum(nil), sig) {
		return errSignature
	}
	return nil
}

// checkES256 verifies a raw r||s P-256 signature.
func checkES256(k *publicKey, signingInput string, sig []byte) error {
	digest := sha256.Sum256([]byte(signingInput))
	if len(sig) != 64 || !ecdsa.Verify(k.ec, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return errSignature
	}
	return nil
}

// checkClaims validates the RFC 9068 claims and builds the cache entry. Numeric dates
// must be JSON numbers (fractions truncate, as jwt/v5 compares at second precision);
// exp and iat are required, nbf optional.
func checkClaims(s *settings, c map[string]interface{}, now int64) (*cacheEntry, error) {
	if iss, _ := c["iss"].(string); iss != s.issuer || iss == "" {
		return nil, errIssuer
	}
	// aud is one string or an array of strings, one of which is accepted. (Inline,
	// as are the optional claims below: under Yaegi a call costs its callee's whole
	// frame.)
	audOK := false
	switch aud := c["aud"].(type) {
	case string:
		audOK = s.audiences[aud]
	case []interface{}:
		for _, a := range aud {
			as, isString := a.(string)
			if !isString {
				return nil, errAudience
			}
			audOK = audOK || s.audiences[as]
		}
	}
	if !audOK {
		return nil, errAudience
	}
	expF, okExp := c["exp"].(float64)
	iatF, okIat := c["iat"].(float64)
	nbfV, hasNbf := c["nbf"]
	nbfF, okNbf := nbfV.(float64)
	// A bound keeps the int64 conversions meaningful: the three dates together stay
	// under 1e15 s (31 million years) in magnitude. One sum of squares, not six
	// comparisons: under Yaegi every expression is a frame slot. (JSON numbers are
	// finite; a huge one squares to +Inf, which fails the test too.)
	if !okExp || !okIat || (hasNbf && !okNbf) || expF*expF+iatF*iatF+nbfF*nbfF >= 1e30 {
		return nil, errClaims
	}
	exp, iat := int64(expF), int64(iatF)
	early, late := now-s.skew, now+s.skew
	switch {
	case exp <= early:
		return nil, errExpired
	case iat > late:
		return nil, errIssuedInFuture
	case int64(nbfF) > late:
		return nil, errNotYetValid
	}
	sub, _ := c["sub"].(string)
	clientID, _ := c["client_id"].(string)
	jti, _ := c["jti"].(string)
	// login, name and scope may be absent but, when present, must be strings. Each
	// comma-ok form has variables of its own: under Yaegi a reused one keeps its
	// previous value when the key is missing (docs/plugin.md, Yaegi notes).
	loginV, hasLogin := c["login"]
	nameV, hasName := c["name"]
	scopeV, hasScope := c["scope"]
	login, okLogin := loginV.(string)
	name, okName := nameV.(string)
	scope, okScope := scopeV.(string)
	if hasLogin != okLogin || hasName != okName || hasScope != okScope || sub == "" || clientID == "" || jti == "" {
		return nil, errClaims
	}
	if strings.ContainsAny(sub+login+name+clientID+scope, controlChars) {
		return nil, errControlChars
	}
	notAfter := (exp + s.skew) * 1e9
	e := &cacheEntry{sub: sub, clientID: clientID, jti: jti, iat: iat, notAfter: notAfter, fastBy: notAfter,
		values:       [][]string{{sub}, {login}, {name}, {clientID}, {scope}},
		signedValues: "\n" + sub + "\n" + login + "\n" + name + "\n" + clientID + "\n" + scope}
	if len(s.requiredScopes) > 0 || !s.allowAllUsers {
		if e.denied = deny(s, scope, sub, login); e.denied != "" {
			e.fastBy = 0 // the fast path never serves a refusal
		}
	}
	return e, nil
}

// controlChars are the runes no header value may carry: C0 controls, DEL, C1
// controls, and U+FFFD (what invalid UTF-8 decodes to, whose bytes could be read as
// anything downstream). checkClaims refuses them with one native call
// (strings.ContainsAny): a rune loop would be interpreted statement by statement.
const controlChars = "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f" +
	"\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f" +
	"\u0080\u0081\u0082\u0083\u0084\u0085\u0086\u0087\u0088\u0089\u008a\u008b\u008c\u008d\u008e\u008f" +
	"\u0090\u0091\u0092\u0093\u0094\u0095\u0096\u0097\u0098\u0099\u009a\u009b\u009c\u009d\u009e\u009f\ufffd"

// deny applies requiredScopes and allowedUsers to a token's scope, sub and login.
func deny(s *settings, scope, sub, login string) string {
	if len(s.requiredScopes) > 0 {
		have := " " + scope + " "
		for _, sc := range s.requiredScopes {
			if !strings.Contains(have, " "+sc+" ") {
				return "insufficient scope"
			}
		}
	}
	if !s.allowAllUsers && !s.allowedSubs[sub] && !s.allowedLogins[strings.ToLower(login)] {
		return "user not allowed"
	}
	return ""
}
