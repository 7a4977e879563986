package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/golden"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/keys"
	"github.com/mcp-oauth-gateway/gateway/internal/contract"
)

func TestMetadataGolden(t *testing.T) {
	h := NewMetadataHandler("https://auth.example.com")
	for _, path := range []string{contract.PathMetadata, contract.PathOpenIDConfig} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Header().Get("Content-Type"))
		}
		golden.Check(t, "authorization-server.json", golden.JSON(t, rec.Body.Bytes()))
	}
}

// TestMetadataSecurity checks the metadata items of docs/security.md one by one, so a
// careless -update cannot silently drop one.
func TestMetadataSecurity(t *testing.T) {
	for _, issuer := range []string{"https://auth.example.com", "http://127.0.0.1:8000", "https://auth.example.com:8443"} {
		t.Run(issuer, func(t *testing.T) {
			rec := httptest.NewRecorder()
			NewMetadataHandler(issuer).ServeHTTP(rec, httptest.NewRequest("GET", contract.PathMetadata, nil))
			var doc map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			checks := []struct {
				field string
				want  any
			}{
				{"issuer", issuer},
				{"authorization_endpoint", issuer + "/authorize"},
				{"token_endpoint", issuer + "/token"},
				{"registration_endpoint", issuer + "/register"},
				{"revocation_endpoint", issuer + "/revoke"},
				{"introspection_endpoint", issuer + "/introspect"},
				{"jwks_uri", issuer + "/.well-known/jwks.json"},
				{"code_challenge_methods_supported", []any{"S256"}},
				{"response_types_supported", []any{"code"}},
				{"response_modes_supported", []any{"query"}},
				{"grant_types_supported", []any{"authorization_code", "refresh_token"}},
				{"token_endpoint_auth_methods_supported", []any{"client_secret_basic", "client_secret_post", "none"}},
				{"authorization_response_iss_parameter_supported", true},
			}
			for _, c := range checks {
				got, _ := json.Marshal(doc[c.field])
				want, _ := json.Marshal(c.want)
				if !bytes.Equal(got, want) {
					t.Errorf("%s = %s, want %s", c.field, got, want)
				}
			}
			for _, f := range []string{"scopes_supported", "revocation_endpoint_auth_methods_supported", "introspection_endpoint_auth_methods_supported"} {
				if _, ok := doc[f]; !ok {
					t.Errorf("%s missing", f)
				}
			}
		})
	}
}

type fakeKeys struct {
	set keys.JWKS
	err error
}

func (f fakeKeys) JWKS(context.Context) (keys.JWKS, error) { return f.set, f.err }

func TestJWKSHandler(t *testing.T) {
	rec := httptest.NewRecorder()
	NewJWKSHandler(fakeKeys{set: keys.JWKS{Keys: []keys.JWK{}}}, nil).ServeHTTP(rec, httptest.NewRequest("GET", contract.PathJWKS, nil))
	if rec.Code != 200 || rec.Body.String() != "{\"keys\":[]}\n" {
		t.Errorf("empty set: %d %q", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	NewJWKSHandler(fakeKeys{err: errors.New("boom")}, nil).ServeHTTP(rec, httptest.NewRequest("GET", contract.PathJWKS, nil))
	if rec.Code != 500 || bytes.Contains(rec.Body.Bytes(), []byte("boom")) {
		t.Errorf("error: %d %q", rec.Code, rec.Body)
	}
}
