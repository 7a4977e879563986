package keys

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
)

func TestMintVerify(t *testing.T) {
	clock := time.Unix(1_800_000_000, 0)
	now := func() time.Time { return clock }
	km, err := New(nil, Options{Algorithm: HS256, Secret: []byte(strings.Repeat("s", 32)), AccessTokenLifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	codec, err := NewCodec("https://auth.example.com", km, now)
	if err != nil {
		t.Fatal(err)
	}
	mint := func(mod func(*Claims)) string {
		cl := &Claims{ClientID: "c1", Scope: "read", Login: "alice", Name: "Alice"}
		cl.Subject, cl.ID, cl.Audience = "42", auth.NewTokenID(), []string{"https://files.example.com/mcp"}
		cl.IssuedAt = jwt.NewNumericDate(clock)
		cl.ExpiresAt = jwt.NewNumericDate(clock.Add(time.Hour))
		if mod != nil {
			mod(cl)
		}
		s, err := codec.Mint(context.Background(), cl)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tok := mint(nil)
	header, claims := jwt.MapClaims{}, jwt.MapClaims{}
	parsed, _, _ := jwt.NewParser().ParseUnverified(tok, claims)
	for k, v := range parsed.Header {
		header[k] = v
	}
	if header["typ"] != TokenType || header["kid"] != HS256KeyID || claims["nbf"] != claims["iat"] || claims["iss"] != "https://auth.example.com" {
		t.Fatalf("header %v claims %v: want typ at+jwt, kid, nbf = iat, iss", header, claims)
	}
	if aud, ok := claims["aud"].([]any); !ok || len(aud) != 1 {
		t.Fatalf("aud = %#v, want a one-element array", claims["aud"])
	}

	tests := []struct {
		name     string
		token    string
		audience string
		wantOK   bool
	}{
		{"valid", tok, "https://files.example.com/mcp", true},
		{"valid, any audience", tok, "", true},
		{"other audience", tok, "https://other.example.com/mcp", false},
		{"expired beyond skew", mint(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(clock.Add(-61 * time.Second)) }), "", false},
		{"expired within skew", mint(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(clock.Add(-30 * time.Second)) }), "", true},
		{"issued in the future", mint(func(c *Claims) { c.IssuedAt = jwt.NewNumericDate(clock.Add(5 * time.Minute)) }), "", false},
		{"no subject", mint(func(c *Claims) { c.Subject = "" }), "", false},
		{"tampered", tok[:len(tok)-2] + "xx", "", false},
		{"too long", tok + strings.Repeat("a", 9000), "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cl, err := codec.Verify(context.Background(), tc.token, tc.audience)
			if (err == nil) != tc.wantOK {
				t.Fatalf("Verify err = %v, want ok=%v", err, tc.wantOK)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("err %v does not wrap ErrInvalid", err)
			}
			if err == nil && (cl.Subject != "42" || cl.Login != "alice" || cl.ClientID != "c1") {
				t.Fatalf("claims = %+v", cl)
			}
		})
	}
	other, _ := NewCodec("https://evil.example.com", km, now)
	if _, err := other.Verify(context.Background(), tok, ""); err == nil {
		t.Fatal("a token of another issuer verified")
	}
}
