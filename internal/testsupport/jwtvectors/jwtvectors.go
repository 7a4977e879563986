// Package jwtvectors builds the table of access tokens the mcpauth plugin is tested
// with — natively, under Yaegi and inside a real Traefik — and the oracle those tests
// compare the plugin with: golang-jwt/jwt/v5 configured with the same policy.
//
// Every attack on JWTs listed in docs/security.md is a case, next to valid tokens for each
// supported algorithm. Each case states whether it must be accepted; tests check both
// that statement and that the oracle agrees, so neither can drift silently.
// Test-only: nothing in the product imports it.
package jwtvectors

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/mcp-oauth-gateway/gateway/internal/claimrules"

	"github.com/golang-jwt/jwt/v5"
)

// The fixed parts of the policy every table test configures the plugin with.
const (
	Issuer          = "https://auth.test.example"
	Resource        = "https://mcp.test.example/mcp"
	DefaultAudience = "https://mcp.test.example/default"
	HMACSecret      = "test-hmac-secret-0123456789abcdef0123456789abcdef"
	Skew            = 30 * time.Second
	MaxTokenBytes   = 8 << 10

	RSAKid  = "rsa-1"
	ECKid   = "ec-1"
	WeakKid = "rsa-weak"
	HMACKid = "hs256"
)

// Mode says which plugin configuration a case is meant for.
type Mode string

// The two plugin configurations: asymmetric keys from a JWKS, or an HS256 secret.
const (
	ModeJWKS Mode = "jwks"
	ModeHMAC Mode = "hmac"
)

// Keys holds the signing keys of one test run.
type Keys struct {
	RSA   *rsa.PrivateKey // listed in the JWKS as RSAKid
	EC    *ecdsa.PrivateKey
	Weak  *rsa.PrivateKey // 1024 bits, listed as WeakKid: must be ignored
	Rogue *rsa.PrivateKey // an attacker's key, never listed
	HMAC  []byte
}

// NewKeys generates fresh keys.
func NewKeys() (*Keys, error) {
	k := &Keys{HMAC: []byte(HMACSecret)}
	var err error
	if k.RSA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	if k.Rogue, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	if k.Weak, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
		return nil, err
	}
	if k.EC, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	return k, nil
}

// JWKS is the key set the plugin is given, as authsvc would publish it, plus one
// malformed entry (a rogue key under a numeric kid) that must be skipped.
func (k *Keys) JWKS() string {
	rogue := rsaJWK(RSAKid, &k.Rogue.PublicKey)
	rogue["kid"] = 7 // not a string: the entry must be skipped, not filed under the previous kid
	doc := map[string]interface{}{"keys": []interface{}{
		rsaJWK(RSAKid, &k.RSA.PublicKey),
		rogue,
		ecJWK(ECKid, &k.EC.PublicKey),
		rsaJWK(WeakKid, &k.Weak.PublicKey),
	}}
	b, _ := json.Marshal(doc)
	return string(b)
}

func rsaJWK(kid string, pub *rsa.PublicKey) map[string]interface{} {
	return map[string]interface{}{
		"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes()),
	}
}

func ecJWK(kid string, pub *ecdsa.PublicKey) map[string]interface{} {
	point, err := pub.Bytes() // 0x04, X (32 bytes), Y (32 bytes)
	if err != nil {
		panic("jwtvectors: " + err.Error())
	}
	return map[string]interface{}{
		"kty": "EC", "kid": kid, "use": "sig", "alg": "ES256", "crv": "P-256",
		"x": b64(point[1:33]), "y": b64(point[33:]),
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Sign builds a JWS from arbitrary header and claims, signed with key by alg
// ("none" leaves the signature empty). It is deliberately permissive: it has to
// build the malformed tokens attackers send.
func Sign(alg string, key interface{}, header, claims map[string]interface{}) string {
	h := map[string]interface{}{"alg": alg}
	for k, v := range header {
		if v == nil {
			delete(h, k)
			continue
		}
		h[k] = v
	}
	hb, _ := json.Marshal(h)
	cb, _ := json.Marshal(claims)
	input := b64(hb) + "." + b64(cb)
	m := jwt.GetSigningMethod(alg)
	if m == nil || key == nil {
		return input + "."
	}
	sig, err := m.Sign(input, key)
	if err != nil {
		panic(fmt.Sprintf("jwtvectors: signing %s: %v", alg, err))
	}
	return input + "." + b64(sig)
}

// Claims returns the claims of a valid token issued at now for sub.
func Claims(now time.Time, sub string) map[string]interface{} {
	return map[string]interface{}{
		"iss":       Issuer,
		"sub":       sub,
		"aud":       []interface{}{Resource},
		"client_id": "client-" + sub,
		"scope":     "mcp:tools mcp:resources",
		"jti":       "jti-" + sub + "-" + fmt.Sprint(now.UnixNano()),
		"iat":       now.Unix(),
		"nbf":       now.Unix(),
		"exp":       now.Add(time.Hour).Unix(),
		"login":     "user" + sub,
		"name":      "User " + sub,
	}
}

// Valid returns a valid RS256 token for sub, as authsvc would issue it.
func (k *Keys) Valid(now time.Time, sub string) string {
	return Sign("RS256", k.RSA, map[string]interface{}{"typ": "at+jwt", "kid": RSAKid}, Claims(now, sub))
}

// Case is one row of the table.
type Case struct {
	Name  string
	Mode  Mode
	Token string
	Valid bool // whether the plugin must accept it
}

// with returns a copy of the valid claims with changes applied (nil deletes).
func with(now time.Time, changes map[string]interface{}) map[string]interface{} {
	c := Claims(now, "4242")
	for k, v := range changes {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

// Cases builds the table at time now.
func (k *Keys) Cases(now time.Time) []Case {
	rsHdr := map[string]interface{}{"typ": "at+jwt", "kid": RSAKid}
	esHdr := map[string]interface{}{"typ": "at+jwt", "kid": ECKid}
	hsHdr := map[string]interface{}{"typ": "at+jwt", "kid": HMACKid}
	hdr := func(base map[string]interface{}, changes map[string]interface{}) map[string]interface{} {
		out := map[string]interface{}{}
		for k, v := range base {
			out[k] = v
		}
		for k, v := range changes {
			out[k] = v
		}
		return out
	}
	valid := with(now, nil)
	rs := func(c map[string]interface{}) string { return Sign("RS256", k.RSA, rsHdr, c) }
	good := rs(valid)
	parts := strings.Split(good, ".")
	pubDER, _ := x509.MarshalPKIXPublicKey(&k.RSA.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	pkcs1PEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.RSA.PublicKey)})
	rogueJWK := rsaJWK("rogue", &k.Rogue.PublicKey)
	tampered := parts[0] + "." + b64([]byte(`{"iss":"`+Issuer+`","sub":"1","aud":"`+Resource+`","client_id":"c","jti":"j","iat":1,"exp":9999999999}`)) + "." + parts[2]
	ecSig := Sign("ES256", k.EC, esHdr, valid)
	ecParts := strings.Split(ecSig, ".")
	derSig, _ := ecdsa.SignASN1(rand.Reader, k.EC, sha256Sum(ecParts[0]+"."+ecParts[1]))
	big10k := with(now, map[string]interface{}{"pad": strings.Repeat("A", 10<<10)})
	big1m := with(now, map[string]interface{}{"pad": strings.Repeat("A", 1<<20)})

	cases := []Case{
		// Valid tokens, every algorithm and the accepted variations.
		{"valid RS256", ModeJWKS, good, true},
		{"valid ES256", ModeJWKS, ecSig, true},
		{"valid HS256", ModeHMAC, Sign("HS256", k.HMAC, hsHdr, valid), true},
		{"valid HS256 without kid", ModeHMAC, Sign("HS256", k.HMAC, map[string]interface{}{"typ": "at+jwt"}, valid), true},
		{"valid aud as string", ModeJWKS, rs(with(now, map[string]interface{}{"aud": Resource})), true},
		{"valid aud among others", ModeJWKS, rs(with(now, map[string]interface{}{"aud": []interface{}{"https://other.example", Resource}})), true},
		{"valid default audience", ModeJWKS, rs(with(now, map[string]interface{}{"aud": []interface{}{DefaultAudience}})), true},
		{"valid typ application/at+jwt", ModeJWKS, Sign("RS256", k.RSA, hdr(rsHdr, map[string]interface{}{"typ": "application/at+jwt"}), valid), true},
		{"valid typ upper case", ModeJWKS, Sign("RS256", k.RSA, hdr(rsHdr, map[string]interface{}{"typ": "AT+JWT"}), valid), true},
		{"valid jku header ignored", ModeJWKS, Sign("RS256", k.RSA, hdr(rsHdr, map[string]interface{}{"jku": "https://evil.example/jwks.json"}), valid), true},
		{"valid x5u header ignored", ModeJWKS, Sign("RS256", k.RSA, hdr(rsHdr, map[string]interface{}{"x5u": "https://evil.example/cert.pem"}), valid), true},
		{"valid embedded jwk ignored", ModeJWKS, Sign("RS256", k.RSA, hdr(rsHdr, map[string]interface{}{"jwk": rogueJWK}), valid), true},
		{"valid nbf within skew", ModeJWKS, rs(with(now, map[string]interface{}{"nbf": now.Add(10 * time.Second).Unix()})), true},
		{"valid iat within skew", ModeJWKS, rs(with(now, map[string]interface{}{"iat": now.Add(10 * time.Second).Unix()})), true},
		{"valid exp within skew", ModeJWKS, rs(with(now, map[string]interface{}{"exp": now.Add(-10 * time.Second).Unix()})), true},
		{"valid without nbf", ModeJWKS, rs(with(now, map[string]interface{}{"nbf": nil})), true},
		{"valid unicode name", ModeJWKS, rs(with(now, map[string]interface{}{"name": "José Ñúñez 山田"})), true},
		{"valid empty scope", ModeJWKS, rs(with(now, map[string]interface{}{"scope": ""})), true},
		{"valid without login and name", ModeJWKS, rs(with(now, map[string]interface{}{"login": nil, "name": nil})), true},
		{"valid without name", ModeJWKS, rs(with(now, map[string]interface{}{"name": nil})), true},
		{"valid without scope", ModeJWKS, rs(with(now, map[string]interface{}{"scope": nil})), true},
		{"valid without login", ModeJWKS, rs(with(now, map[string]interface{}{"login": nil})), true},

		// alg attacks.
		{"alg none", ModeJWKS, Sign("none", nil, rsHdr, valid), false},
		{"alg None", ModeJWKS, Sign("None", nil, rsHdr, valid), false},
		{"alg NONE", ModeJWKS, Sign("NONE", nil, rsHdr, valid), false},
		{"alg nOnE", ModeJWKS, Sign("nOnE", nil, rsHdr, valid), false},
		{"alg none with signature", ModeJWKS, strings.Replace(good, parts[0], b64([]byte(`{"alg":"none","typ":"at+jwt","kid":"rsa-1"}`)), 1), false},
		{"alg none HMAC mode", ModeHMAC, Sign("none", nil, hsHdr, valid), false},
		{"alg missing", ModeJWKS, Sign("RS256", k.RSA, hdr(rsHdr, map[string]interface{}{"alg": nil}), valid), false},
		{"alg lower case rs256", ModeJWKS, strings.Replace(good, parts[0], b64([]byte(`{"alg":"rs256","typ":"at+jwt","kid":"rsa-1"}`)), 1), false},
		{"alg RS512 not allowed", ModeJWKS, Sign("RS512", k.RSA, rsHdr, valid), false},
		{"alg PS256 not allowed", ModeJWKS, Sign("PS256", k.RSA, rsHdr, valid), false},
		{"HS256 with RSA public key PEM", ModeJWKS, Sign("HS256", pubPEM, rsHdr, valid), false},
		{"HS256 with RSA PKCS1 PEM", ModeJWKS, Sign("HS256", pkcs1PEM, rsHdr, valid), false},
		{"HS256 with RSA modulus", ModeJWKS, Sign("HS256", k.RSA.PublicKey.N.Bytes(), rsHdr, valid), false},
		{"HS256 with the HMAC secret in JWKS mode", ModeJWKS, Sign("HS256", k.HMAC, hsHdr, valid), false},
		{"RS256 in HMAC mode", ModeHMAC, good, false},
		{"HS256 with wrong secret", ModeHMAC, Sign("HS256", []byte("another-secret-0123456789abcdef0123456789"), hsHdr, valid), false},
		{"ES256 header with RSA kid", ModeJWKS, Sign("ES256", k.EC, hdr(esHdr, map[string]interface{}{"kid": RSAKid}), valid), false},
		{"RS256 header with EC kid", ModeJWKS, Sign("RS256", k.RSA, hdr(rsHdr, map[string]interface{}{"kid": ECKid}), valid), false},
		{"ES256 DER signature", ModeJWKS, ecParts[0] + "." + ecParts[1] + "." + b64(derSig), false},

		// kid and key attacks.
		{"kid unknown", ModeJWKS, Sign("RS256", k.RSA, hdr(rsHdr, map[string]interface{}{"kid": "nope"}), valid), false},
		{"kid missing", ModeJWKS, Sign("RS256", k.RSA, hdr(rsHdr, map[string]interface{}{"kid": nil}), valid), false},
		{"kid path traversal", ModeJWKS, Sign("RS256", k.RSA, hdr(rsHdr, map[string]interface{}{"kid": "../../../../dev/null"}), valid), false},
		{"kid sql injection", ModeJWKS, Sign("RS256", k.RSA, hdr(rsHdr, map[string]interface{}{"kid": "x' OR '1'='1"}), valid), false},
		{"kid number", ModeJWKS, Sign("RS256", k.RSA, hdr(rsHdr, map[string]interface{}{"kid": 1}), valid), false},
		{"kid huge", ModeJWKS, Sign("RS256", k.RSA, hdr(rsHdr, map[string]interface{}{"kid": strings.Repeat("k", 4000)}), valid), false},
		{"kid of weak 1024-bit key", ModeJWKS, Sign("RS256", k.Weak, hdr(rsHdr, map[string]interface{}{"kid": WeakKid}), valid), false},
		{"rogue key with real kid", ModeJWKS, Sign("RS256", k.Rogue, rsHdr, valid), false},
		{"rogue key in embedded jwk", ModeJWKS, Sign("RS256", k.Rogue, hdr(rsHdr, map[string]interface{}{"kid": "rogue", "jwk": rogueJWK}), valid), false},
		{"rogue key behind jku", ModeJWKS, Sign("RS256", k.Rogue, hdr(rsHdr, map[string]interface{}{"kid": "rogue", "jku": "http://127.0.0.1:1/jwks.json"}), valid), false},
		{"rogue key behind x5u", ModeJWKS, Sign("RS256", k.Rogue, hdr(rsHdr, map[string]interface{}{"x5u": "http://127.0.0.1:1/cert.pem"}), valid), false},
		{"tampered payload", ModeJWKS, tampered, false},
		{"crit header", ModeJWKS, Sign("RS256", k.RSA, hdr(rsHdr, map[string]interface{}{"crit": []interface{}{"exp"}}), valid), false},

		// typ.
		{"typ JWT", ModeJWKS, Sign("RS256", k.RSA, hdr(rsHdr, map[string]interface{}{"typ": "JWT"}), valid), false},
		{"typ missing", ModeJWKS, Sign("RS256", k.RSA, hdr(rsHdr, map[string]interface{}{"typ": nil}), valid), false},
		{"typ number", ModeJWKS, Sign("RS256", k.RSA, hdr(rsHdr, map[string]interface{}{"typ": 1}), valid), false},
		{"typ HMAC mode JWT", ModeHMAC, Sign("HS256", k.HMAC, map[string]interface{}{"typ": "JWT"}, valid), false},

		// Time claims.
		{"expired", ModeJWKS, rs(with(now, map[string]interface{}{"exp": now.Add(-2 * time.Hour).Unix()})), false},
		{"expired beyond skew", ModeJWKS, rs(with(now, map[string]interface{}{"exp": now.Add(-Skew - 5*time.Second).Unix()})), false},
		{"exp missing", ModeJWKS, rs(with(now, map[string]interface{}{"exp": nil})), false},
		{"exp string", ModeJWKS, rs(with(now, map[string]interface{}{"exp": fmt.Sprint(now.Add(time.Hour).Unix())})), false},
		{"nbf in the future", ModeJWKS, rs(with(now, map[string]interface{}{"nbf": now.Add(5 * time.Minute).Unix()})), false},
		{"nbf string", ModeJWKS, rs(with(now, map[string]interface{}{"nbf": "0"})), false},
		{"iat in the future", ModeJWKS, rs(with(now, map[string]interface{}{"iat": now.Add(5 * time.Minute).Unix()})), false},
		{"iat missing", ModeJWKS, rs(with(now, map[string]interface{}{"iat": nil})), false},
		{"expired HS256", ModeHMAC, Sign("HS256", k.HMAC, hsHdr, with(now, map[string]interface{}{"exp": now.Add(-time.Hour).Unix()})), false},

		// Issuer.
		{"iss missing", ModeJWKS, rs(with(now, map[string]interface{}{"iss": nil})), false},
		{"iss trailing slash", ModeJWKS, rs(with(now, map[string]interface{}{"iss": Issuer + "/"})), false},
		{"iss upper case", ModeJWKS, rs(with(now, map[string]interface{}{"iss": strings.ToUpper(Issuer)})), false},
		{"iss http", ModeJWKS, rs(with(now, map[string]interface{}{"iss": strings.Replace(Issuer, "https", "http", 1)})), false},
		{"iss with space", ModeJWKS, rs(with(now, map[string]interface{}{"iss": Issuer + " "})), false},
		{"iss foreign", ModeJWKS, rs(with(now, map[string]interface{}{"iss": "https://evil.example"})), false},
		{"iss array", ModeJWKS, rs(with(now, map[string]interface{}{"iss": []interface{}{Issuer}})), false},

		// Audience.
		{"aud missing", ModeJWKS, rs(with(now, map[string]interface{}{"aud": nil})), false},
		{"aud foreign", ModeJWKS, rs(with(now, map[string]interface{}{"aud": "https://other.test.example/mcp"})), false},
		{"aud foreign array", ModeJWKS, rs(with(now, map[string]interface{}{"aud": []interface{}{"https://other.test.example/mcp"}})), false},
		{"aud empty array", ModeJWKS, rs(with(now, map[string]interface{}{"aud": []interface{}{}})), false},
		{"aud empty string", ModeJWKS, rs(with(now, map[string]interface{}{"aud": ""})), false},
		{"aud number", ModeJWKS, rs(with(now, map[string]interface{}{"aud": 7})), false},
		{"aud array with a number", ModeJWKS, rs(with(now, map[string]interface{}{"aud": []interface{}{Resource, 7}})), false},
		{"aud prefix of resource", ModeJWKS, rs(with(now, map[string]interface{}{"aud": "https://mcp.test.example/"})), false},

		// Identity claims.
		{"sub missing", ModeJWKS, rs(with(now, map[string]interface{}{"sub": nil})), false},
		{"sub empty", ModeJWKS, rs(with(now, map[string]interface{}{"sub": ""})), false},
		{"sub number", ModeJWKS, rs(with(now, map[string]interface{}{"sub": 4242})), false},
		{"client_id missing", ModeJWKS, rs(with(now, map[string]interface{}{"client_id": nil})), false},
		{"jti missing", ModeJWKS, rs(with(now, map[string]interface{}{"jti": nil})), false},
		{"scope array", ModeJWKS, rs(with(now, map[string]interface{}{"scope": []interface{}{"a"}})), false},
		{"login with CRLF", ModeJWKS, rs(with(now, map[string]interface{}{"login": "eve\r\nX-User-Id: 1"})), false},
		{"name with NUL", ModeJWKS, rs(with(now, map[string]interface{}{"name": "eve\x00"})), false},
		{"scope with LF", ModeJWKS, rs(with(now, map[string]interface{}{"scope": "a\nb"})), false},
		{"sub with tab", ModeJWKS, rs(with(now, map[string]interface{}{"sub": "1\t2"})), false},
		{"login with DEL", ModeJWKS, rs(with(now, map[string]interface{}{"login": "eve\x7f"})), false},
		{"name with C1 NEL", ModeJWKS, rs(with(now, map[string]interface{}{"name": "eve\u0085"})), false},
		{"client_id with CR", ModeJWKS, rs(with(now, map[string]interface{}{"client_id": "c\r"})), false},

		// Not JWTs, or broken ones.
		{"refresh token", ModeJWKS, "rt-" + b64(make([]byte, 32)), false},
		{"registration token", ModeJWKS, "reg-" + b64(make([]byte, 32)), false},
		{"refresh token HMAC mode", ModeHMAC, "rt-" + b64(make([]byte, 32)), false},
		{"empty", ModeJWKS, "", false},
		{"dots only", ModeJWKS, "..", false},
		{"two segments", ModeJWKS, parts[0] + "." + parts[1], false},
		{"four segments", ModeJWKS, good + "." + parts[2], false},
		{"bad base64 header", ModeJWKS, "!!!." + parts[1] + "." + parts[2], false},
		{"bad base64 payload", ModeJWKS, parts[0] + ".%%%." + parts[2], false},
		{"bad base64 signature", ModeJWKS, parts[0] + "." + parts[1] + ".***", false},
		{"padded signature", ModeJWKS, good + "==", false},
		{"standard base64 alphabet", ModeJWKS, strings.NewReplacer("-", "+", "_", "/").Replace(good), strings.NewReplacer("-", "+", "_", "/").Replace(good) == good},
		{"header not JSON", ModeJWKS, b64([]byte("not json")) + "." + parts[1] + "." + parts[2], false},
		{"payload JSON array", ModeJWKS, signRaw(k, rsHdr, []byte(`[1,2]`)), false},
		{"payload not JSON", ModeJWKS, signRaw(k, rsHdr, []byte(`{"iss":`)), false},
		{"header JSON array", ModeJWKS, b64([]byte(`["RS256"]`)) + "." + parts[1] + "." + parts[2], false},
		{"10 KB token", ModeJWKS, rs(big10k), false},
		{"1 MB token", ModeJWKS, rs(big1m), false},
		{"1 MB header", ModeJWKS, Sign("RS256", k.RSA, hdr(rsHdr, map[string]interface{}{"pad": strings.Repeat("B", 1<<20)}), valid), false},
	}
	return append(cases, k.StrictClaimCases(now)...)
}

// StrictClaimCases are the rows of the strict claim rule (internal/claimrules): names
// are case-sensitive, a claim the gateway reads named in another case, or any claim
// named twice, is refused, and NumericDates are numbers. authsvc runs them too: the
// edge and authsvc must agree on each.
func (k *Keys) StrictClaimCases(now time.Time) []Case {
	rsHdr := map[string]interface{}{"typ": "at+jwt", "kid": RSAKid}
	valid := with(now, nil)
	rs := func(c map[string]interface{}) string { return Sign("RS256", k.RSA, rsHdr, c) }
	return []Case{
		{"sub and SUB", ModeJWKS, signRaw(k, rsHdr, rawWith(valid, `"SUB":"evil",`)), false},
		{"exp and EXP", ModeJWKS, signRaw(k, rsHdr, rawWith(valid, `"EXP":99999999999,`)), false},
		{"iss and ISS", ModeJWKS, signRaw(k, rsHdr, rawWith(valid, `"ISS":"https://evil.example",`)), false},
		{"Sub instead of sub", ModeJWKS, rs(renamed(valid, "sub", "Sub")), false},
		{"Client_Id instead of client_id", ModeJWKS, rs(renamed(valid, "client_id", "Client_Id")), false},
		{"sub twice", ModeJWKS, signRaw(k, rsHdr, rawWith(valid, `"sub":"evil",`)), false},
		{"sub twice, once escaped", ModeJWKS, signRaw(k, rsHdr, rawWith(valid, `"\u0073ub":"evil",`)), false},
		{"sub twice, spaced", ModeJWKS, signRaw(k, rsHdr, rawWith(valid, `"sub" : "evil" ,`)), false},
		{"an unread claim twice", ModeJWKS, signRaw(k, rsHdr, rawWith(valid, `"x":1,"x":2,`)), false},
		{"exp as a string", ModeJWKS, rs(with(now, map[string]interface{}{"exp": fmt.Sprint(now.Add(time.Hour).Unix())})), false},
		{"an unread claim in capitals", ModeJWKS, rs(with(now, map[string]interface{}{"Custom": "X"})), true},
		{"a name with an escape", ModeJWKS, signRaw(k, rsHdr, rawWith(valid, `"caf\u00e9":1,`)), true},
	}
}

// rawWith is the JSON of claims with members inserted first, verbatim (repeated or
// re-cased names that a map cannot hold).
func rawWith(claims map[string]interface{}, members string) []byte {
	b, _ := json.Marshal(claims)
	return append([]byte("{"+members), b[1:]...)
}

// renamed is a copy of claims with one name spelled otherwise.
func renamed(claims map[string]interface{}, from, to string) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range claims {
		out[k] = v
	}
	out[to] = out[from]
	delete(out, from)
	return out
}

// signRaw signs an arbitrary payload byte string with the RSA key.
func signRaw(k *Keys, header map[string]interface{}, payload []byte) string {
	h := map[string]interface{}{"alg": "RS256"}
	for key, v := range header {
		h[key] = v
	}
	hb, _ := json.Marshal(h)
	input := b64(hb) + "." + b64(payload)
	sig, err := jwt.SigningMethodRS256.Sign(input, k.RSA)
	if err != nil {
		panic(err)
	}
	return input + "." + b64(sig)
}

// Oracle decides a token with golang-jwt/jwt/v5 and the plugin's policy: alg
// allow-list, keys by kid (RSA ≥ 2048 bits), strict base64, exp required, iat
// required and not in the future, iss exact, aud ∋ resource or default audience,
// skew, typ at+jwt, no crit, and the identity claims the plugin turns into headers.
func (k *Keys) Oracle(mode Mode, token string, now time.Time) error {
	if len(token) > MaxTokenBytes {
		return errors.New("token too large")
	}
	algs := []string{"RS256", "ES256"}
	if mode == ModeHMAC {
		algs = []string{"HS256"}
	}
	p := jwt.NewParser(
		jwt.WithValidMethods(algs),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(Resource, DefaultAudience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Skew),
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if parts := strings.Split(token, "."); len(parts) == 3 {
		if payload, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
			if err := claimrules.Check(payload); err != nil {
				return err
			}
		}
	}
	claims := jwt.MapClaims{}
	_, err := p.ParseWithClaims(token, claims, func(t *jwt.Token) (interface{}, error) {
		typ, _ := t.Header["typ"].(string)
		if !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
			return nil, errors.New("typ is not at+jwt")
		}
		if c, ok := t.Header["crit"]; ok && c != nil {
			return nil, errors.New("crit not supported")
		}
		if mode == ModeHMAC {
			return k.HMAC, nil
		}
		kid, _ := t.Header["kid"].(string)
		switch kid {
		case RSAKid:
			return &k.RSA.PublicKey, nil
		case ECKid:
			return &k.EC.PublicKey, nil
		}
		return nil, errors.New("unknown kid") // WeakKid included: under 2048 bits
	})
	if err != nil {
		return err
	}
	if _, ok := claims["iat"]; !ok {
		return errors.New("iat missing")
	}
	for _, name := range []string{"sub", "client_id", "jti"} {
		if s, ok := claims[name].(string); !ok || s == "" {
			return fmt.Errorf("%s missing", name)
		}
	}
	for _, name := range []string{"sub", "login", "name", "client_id", "scope"} {
		v, present := claims[name]
		if !present {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s is not a string", name)
		}
		for _, r := range s {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == '\uFFFD' {
				return fmt.Errorf("%s has control characters", name)
			}
		}
	}
	return nil
}

func sha256Sum(s string) []byte {
	h := jwt.SigningMethodES256.Hash.New()
	h.Write([]byte(s))
	return h.Sum(nil)
}
