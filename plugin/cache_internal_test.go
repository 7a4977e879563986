package mcpauth

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/jwtvectors"
)

// newHMACMiddleware is an instance in HS256 mode in front of next (nil: an empty
// handler), with headers as its identity header names (nil: the defaults).
func newHMACMiddleware(t *testing.T, next http.Handler, headers map[string]string) *Middleware {
	t.Helper()
	cfg := CreateConfig()
	cfg.Issuer, cfg.Resource, cfg.HMACSecret = jwtvectors.Issuer, jwtvectors.Resource, jwtvectors.HMACSecret
	if headers != nil {
		cfg.Headers = headers
	}
	if next == nil {
		next = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	}
	h, err := New(context.Background(), next, cfg, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	return h.(*Middleware)
}

// TestCacheBounded floods the cache with more valid tokens than it holds: it stays at
// maxCachedTokens entries, and an evicted token still works (it is verified again).
func TestCacheBounded(t *testing.T) {
	m := newHMACMiddleware(t, nil, nil)
	h := http.Handler(m)
	now := time.Now()
	token := func(i int) string {
		return jwtvectors.Sign("HS256", []byte(jwtvectors.HMACSecret), map[string]interface{}{"typ": "at+jwt"}, jwtvectors.Claims(now, fmt.Sprint(i)))
	}
	send := func(tok string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, jwtvectors.Bearer("POST", "/mcp", tok))
		return rec.Code
	}
	first := token(0)
	for i := 0; i < maxCachedTokens+50; i++ {
		tok := first
		if i > 0 {
			tok = token(i)
		}
		if code := send(tok); code != http.StatusOK {
			t.Fatalf("token %d: status %d", i, code)
		}
	}
	m.mu.RLock()
	n := len(m.cache)
	m.mu.RUnlock()
	if n != maxCachedTokens || len(m.ring) != maxCachedTokens {
		t.Fatalf("cache holds %d entries, ring %d, want %d", n, len(m.ring), maxCachedTokens)
	}
	m.mu.RLock()
	_, ok := m.cache["Bearer "+first]
	m.mu.RUnlock()
	if ok {
		t.Fatalf("the oldest token is still cached after %d newer ones", maxCachedTokens+49)
	}
	if code := send(first); code != http.StatusOK {
		t.Fatalf("evicted token: status %d, want 200 after re-verification", code)
	}
}

// TestSafeHeaders: the common names settled by one lookup in the strip loop never
// include a spelling of an identity header, also when the identity headers are
// renamed to common names; through ServeHTTP, spoofed identity headers are removed
// on a token's first request (serveToken) and on the cached fast path, and other
// headers are kept.
func TestSafeHeaders(t *testing.T) {
	token := jwtvectors.Sign("HS256", []byte(jwtvectors.HMACSecret), map[string]interface{}{"typ": "at+jwt"}, jwtvectors.Claims(time.Now(), "1"))
	for _, names := range [][5]string{
		{"X-User-Id", "X-User-Login", "X-User-Name", "X-Auth-Client-Id", "X-Auth-Scopes"},
		{"X-Real-Ip", "Accept", "X-Forwarded-User", "User-Agent", "X-Request-Id"},
	} {
		h := newIdentityHeaders(names)
		for _, n := range names {
			if h.safe[n] {
				t.Errorf("identity header %q is in the safe set", n)
			}
		}
		for n := range h.safe {
			if h.normal[normalizeHeaderName(n)] {
				t.Errorf("safe name %q normalises to an identity header (names %v)", n, names)
			}
		}
		if got, want := len(h.safe), len(commonHeaders)-4; names[1] == "Accept" && got != want {
			t.Errorf("renamed: %d safe names, want %d", got, want)
		}

		var seen http.Header
		m := newHMACMiddleware(t, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r.Header }),
			map[string]string{"userId": names[0], "userLogin": names[1], "userName": names[2], "clientId": names[3], "scopes": names[4]})
		for _, path := range []string{"first request", "cached"} {
			r := jwtvectors.Bearer("POST", "/mcp", token)
			for _, n := range names {
				r.Header[n] = []string{"spoof"}
				r.Header[strings.ToLower(n)] = []string{"spoof"}
				r.Header[strings.ReplaceAll(n, "-", "_")] = []string{"spoof"}
			}
			r.Header["Content-Type"] = []string{"application/json"}
			seen = nil
			rec := httptest.NewRecorder()
			m.ServeHTTP(rec, r)
			if rec.Code != http.StatusOK || seen == nil {
				t.Fatalf("%v, %s: status %d, want 200", names, path, rec.Code)
			}
			for k, v := range seen {
				if !h.normal[normalizeHeaderName(k)] {
					continue
				}
				if k != http.CanonicalHeaderKey(k) || len(v) != 1 || v[0] == "spoof" {
					t.Errorf("%v, %s: %q %q reached the service", names, path, k, v)
				}
			}
			if seen.Get(names[0]) != "1" || seen.Get("Content-Type") != "application/json" {
				t.Errorf("%v, %s: identity %q, Content-Type %q", names, path, seen.Get(names[0]), seen.Get("Content-Type"))
			}
		}
	}
}

// TestKnownHeaders: the header segment of a token that verified is remembered (so
// later tokens of the same key skip its decoding), a remembered segment does not
// make a bad signature pass, headers of tokens that failed are not remembered, and
// the set stays bounded while tokens with new headers keep verifying.
func TestKnownHeaders(t *testing.T) {
	m := newHMACMiddleware(t, nil, nil)
	h := http.Handler(m)
	known := func() int {
		m.s.knownMu.Lock()
		defer m.s.knownMu.Unlock()
		return len(m.s.knownHeaders)
	}
	send := func(tok string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, jwtvectors.Bearer("POST", "/mcp", tok))
		return rec.Code
	}
	now := time.Now()
	secret := []byte(jwtvectors.HMACSecret)
	sign := func(hdr map[string]interface{}, sub string) string {
		return jwtvectors.Sign("HS256", secret, hdr, jwtvectors.Claims(now, sub))
	}
	good := sign(map[string]interface{}{"typ": "at+jwt"}, "1")
	if code := send(good); code != http.StatusOK || known() != 1 {
		t.Fatalf("valid token: status %d, %d known headers, want 200 and 1", code, known())
	}
	// Same header segment, another user's claims, the first token's signature.
	other := strings.Split(sign(map[string]interface{}{"typ": "at+jwt"}, "2"), ".")
	parts := strings.Split(good, ".")
	if code := send(parts[0] + "." + other[1] + "." + parts[2]); code != http.StatusUnauthorized {
		t.Fatalf("known header with a forged payload: status %d, want 401", code)
	}
	// A new header whose token is signed with another key is refused and not kept.
	forged := jwtvectors.Sign("HS256", []byte("another-secret-of-at-least-32-bytes!!"), map[string]interface{}{"typ": "at+jwt", "kid": "x"}, jwtvectors.Claims(now, "3"))
	if code := send(forged); code != http.StatusUnauthorized || known() != 1 {
		t.Fatalf("forged token: status %d, %d known headers, want 401 and 1", code, known())
	}
	for i := 0; i < maxKnownHeaders+5; i++ {
		tok := sign(map[string]interface{}{"typ": "at+jwt", "n": i}, fmt.Sprint(i))
		if code := send(tok); code != http.StatusOK {
			t.Fatalf("header %d: status %d", i, code)
		}
	}
	if known() != maxKnownHeaders {
		t.Fatalf("%d known headers, want the bound %d", known(), maxKnownHeaders)
	}
}
