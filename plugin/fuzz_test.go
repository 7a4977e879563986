package mcpauth_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/jwtvectors"
)

// FuzzToken sends arbitrary Bearer tokens: the plugin must never panic, and whatever
// it lets through, jwt/v5 with the same policy must accept too.
func FuzzToken(f *testing.F) {
	k := testKeys(f)
	for _, c := range k.Cases(time.Now()) {
		if c.Mode == jwtvectors.ModeJWKS && len(c.Token) < 4096 {
			f.Add(c.Token)
		}
	}
	do := nativeDoer(f, "", nil)
	f.Fuzz(func(t *testing.T, token string) {
		r := jwtvectors.Bearer(http.MethodPost, "/mcp", "")
		r.Header["Authorization"] = []string{"Bearer " + token}
		res := do(t, jwtvectors.ModeJWKS, r)
		if res.Reached {
			if err := k.Oracle(jwtvectors.ModeJWKS, strings.TrimSpace(token), time.Now()); err != nil {
				t.Fatalf("plugin accepted a token jwt/v5 refuses (%v): %q", err, token)
			}
		} else if res.Status != http.StatusUnauthorized && res.Status != http.StatusBadRequest {
			t.Fatalf("status %d for a refused token", res.Status)
		}
	})
}

// FuzzHeaders adds an arbitrary client header to a valid request: whatever its
// spelling, no header that normalises to an identity header may reach the backend
// except the plugin's own.
func FuzzHeaders(f *testing.F) {
	k := testKeys(f)
	token := k.Valid(time.Now(), "fz")
	for _, s := range jwtvectors.Spoofs {
		f.Add(s, "spoof")
	}
	f.Add("X-User-Id\x00", "v")
	f.Add("x-uSeR_iD", "v")
	f.Add("X.User.Login", "v")
	do := nativeDoer(f, "", nil) // one instance: after the first request, the fast path
	f.Fuzz(func(t *testing.T, name, value string) {
		r := jwtvectors.Bearer(http.MethodPost, "/mcp", token)
		r.Header[name] = []string{value, value}
		res := do(t, jwtvectors.ModeJWKS, r)
		if !res.Reached {
			t.Fatalf("valid request refused with %d", res.Status)
		}
		own := map[string]string{"x-user-id": "fz", "x-user-login": "userfz", "x-user-name": "User fz", "x-auth-client-id": "client-fz", "x-auth-scopes": "mcp:tools mcp:resources"}
		for n, vals := range res.Backend {
			norm := jwtvectors.NormalizeHeaderName(n)
			want, isID := own[norm]
			if !isID {
				continue
			}
			if n != http.CanonicalHeaderKey(norm) || len(vals) != 1 || vals[0] != want {
				t.Fatalf("backend saw %q = %q", n, vals)
			}
		}
	})
}
