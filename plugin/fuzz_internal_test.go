package mcpauth

import (
	"testing"
)

// FuzzParseJWKS: a hostile or broken JWKS endpoint must not panic the parser.
func FuzzParseJWKS(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","kid":"b","crv":"P-256","x":"AA","y":"AA"}]}`))
	f.Add([]byte(`{"keys":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := parseJWKS(data)
		if err == nil && keys == nil {
			t.Fatal("nil keys without error")
		}
	})
}

// FuzzDecodeFeed: a hostile revocation feed must not panic the poller.
func FuzzDecodeFeed(f *testing.F) {
	f.Add([]byte(`{"cursor":"1","reset":true,"tokens":[{"jti":"a","exp":1}],"users":[{"sub":"1","before":2}],"clients":[{"client_id":"c","before":3}]}`))
	f.Add([]byte(`{"tokens":[1,"x",{"jti":5}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		upd, err := decodeFeed(data)
		if err == nil {
			rv := &revocations{tokens: map[string]int64{}, users: map[string]int64{}, clients: map[string]int64{}}
			rv.applyLocked(upd)
		}
	})
}

// FuzzBearer: the Authorization parser never panics and never returns whitespace.
func FuzzBearer(f *testing.F) {
	f.Add("Bearer abc")
	f.Add("bearer   ")
	f.Fuzz(func(t *testing.T, v string) {
		tok, ok := bearerToken(v)
		if ok && tok != "" && (tok[0] == ' ' || tok[len(tok)-1] == ' ') {
			t.Fatalf("token %q has surrounding spaces", tok)
		}
	})
}
