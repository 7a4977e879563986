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

// identity is what a verified token says; it is cached per token string.
type identity struct {
	sub, login, name, clientID, scope, jti string
	iat, exp                               int64
	// denied is "" or why this instance's requiredScopes/allowedUsers refuse the user;
	// computed once, as the policy is fixed per instance.
	denied string
}

// keyLookup finds the key for a kid.
type keyLookup interface {
	key(ctx context.Context, kid string) (*publicKey, error)
}

var b64 = base64.RawURLEncoding.Strict()

// verify checks token completely (structure, alg, key, signature, typ, iss, aud, time
// claims, claim types) at unix time now and returns its identity. It does not look
// at revocation or per-route policy.
func (s *settings) verify(ctx context.Context, keys keyLookup, token string, now int64) (*identity, error) {
	if len(token) > maxTokenBytes {
		return nil, errTooLarge
	}
	dot1 := strings.IndexByte(token, '.')
	if dot1 < 0 {
		return nil, errMalformed
	}
	dot2 := strings.IndexByte(token[dot1+1:], '.')
	if dot2 < 0 {
		return nil, errMalformed
	}
	dot2 += dot1 + 1
	if strings.IndexByte(token[dot2+1:], '.') >= 0 {
		return nil, errMalformed
	}
	hdrBytes, err := b64.DecodeString(token[:dot1])
	if err != nil {
		return nil, errMalformed
	}
	var hdr map[string]interface{}
	if err := json.Unmarshal(hdrBytes, &hdr); err != nil {
		return nil, errMalformed
	}
	alg, _ := hdr["alg"].(string)
	if !s.algorithms[alg] {
		return nil, errAlgorithm
	}
	typ, _ := hdr["typ"].(string)
	if !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return nil, errType
	}
	if _, ok := hdr["crit"]; ok {
		return nil, errCritical
	}
	sig, err := b64.DecodeString(token[dot2+1:])
	if err != nil {
		return nil, errMalformed
	}
	if err := s.checkSignature(ctx, keys, hdr, alg, token[:dot2], sig); err != nil {
		return nil, err
	}
	payload, err := b64.DecodeString(token[dot1+1 : dot2])
	if err != nil {
		return nil, errMalformed
	}
	var claims map[string]interface{}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, errMalformed
	}
	return s.checkClaims(claims, now)
}

// checkSignature verifies sig over signingInput. jku, x5u and jwk headers are never
// read: keys come only from the configured set, by kid.
func (s *settings) checkSignature(ctx context.Context, keys keyLookup, hdr map[string]interface{}, alg, signingInput string, sig []byte) error {
	if alg == algHS256 {
		mac := hmac.New(sha256.New, s.hmacKey)
		mac.Write([]byte(signingInput))
		if !hmac.Equal(mac.Sum(nil), sig) {
			return errSignature
		}
		return nil
	}
	kid, _ := hdr["kid"].(string)
	if kid == "" {
		return errUnknownKey
	}
	k, err := keys.key(ctx, kid)
	if err != nil {
		return err
	}
	if k.alg != alg {
		return errAlgorithm
	}
	digest := sha256.Sum256([]byte(signingInput))
	if alg == algRS256 {
		if rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, digest[:], sig) != nil {
			return errSignature
		}
		return nil
	}
	if len(sig) != 64 {
		return errSignature
	}
	r := new(big.Int).SetBytes(sig[:32])
	sv := new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(k.ec, digest[:], r, sv) {
		return errSignature
	}
	return nil
}

// checkClaims validates the RFC 9068 claims and builds the identity.
func (s *settings) checkClaims(c map[string]interface{}, now int64) (*identity, error) {
	if iss, ok := c["iss"].(string); !ok || iss != s.issuer {
		return nil, errIssuer
	}
	if !s.audienceOK(c["aud"]) {
		return nil, errAudience
	}
	exp, ok := numericDate(c, "exp", true)
	if !ok {
		return nil, errClaims
	}
	if now >= exp+s.skew {
		return nil, errExpired
	}
	iat, ok := numericDate(c, "iat", true)
	if !ok {
		return nil, errClaims
	}
	if iat > now+s.skew {
		return nil, errIssuedInFuture
	}
	nbf, ok := numericDate(c, "nbf", false)
	if !ok {
		return nil, errClaims
	}
	if nbf > now+s.skew {
		return nil, errNotYetValid
	}
	id := &identity{iat: iat, exp: exp}
	var okSub, okLogin, okName, okClient, okScope, okJTI bool
	id.sub, okSub = stringClaim(c, "sub", true)
	id.login, okLogin = stringClaim(c, "login", false)
	id.name, okName = stringClaim(c, "name", false)
	id.clientID, okClient = stringClaim(c, "client_id", true)
	id.scope, okScope = stringClaim(c, "scope", false)
	id.jti, okJTI = stringClaim(c, "jti", true)
	if !okSub || !okLogin || !okName || !okClient || !okScope || !okJTI {
		return nil, errClaims
	}
	if hasControl(id.sub) || hasControl(id.login) || hasControl(id.name) ||
		hasControl(id.clientID) || hasControl(id.scope) {
		return nil, errControlChars
	}
	id.denied = s.deny(id)
	return id, nil
}

func (s *settings) audienceOK(v interface{}) bool {
	switch aud := v.(type) {
	case string:
		return s.audiences[aud]
	case []interface{}:
		found := false
		for _, a := range aud {
			as, ok := a.(string)
			if !ok {
				return false
			}
			if s.audiences[as] {
				found = true
			}
		}
		return found
	}
	return false
}

// numericDate reads an integer-valued NumericDate (seconds); fractions are truncated
// as jwt/v5 does for comparisons at second precision.
func numericDate(c map[string]interface{}, name string, required bool) (int64, bool) {
	v, present := c[name]
	if !present {
		return 0, !required
	}
	f, ok := v.(float64)
	if !ok || f != f || f > 1e15 || f < -1e15 {
		return 0, false
	}
	return int64(f), true
}

func stringClaim(c map[string]interface{}, name string, required bool) (string, bool) {
	v, present := c[name]
	if !present {
		return "", !required
	}
	s, ok := v.(string)
	if !ok || (required && s == "") {
		return "", false
	}
	return s, true
}

// hasControl reports C0 controls, DEL and C1 controls (and invalid UTF-8, whose
// bytes could be read as anything downstream): none may become header bytes.
func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == '\uFFFD' {
			return true
		}
	}
	return false
}

// deny applies requiredScopes and allowedUsers.
func (s *settings) deny(id *identity) string {
	if len(s.requiredScopes) > 0 {
		have := " " + id.scope + " "
		for _, sc := range s.requiredScopes {
			if !strings.Contains(have, " "+sc+" ") {
				return "insufficient scope"
			}
		}
	}
	if !s.allowAllUsers && !s.allowedSubs[id.sub] && !s.allowedLogins[strings.ToLower(id.login)] {
		return "user not allowed"
	}
	return ""
}
