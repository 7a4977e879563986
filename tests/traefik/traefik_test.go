// Package traefik runs the mcpauth plugin inside a real Traefik v3.6 (a local plugin
// interpreted by Traefik's own Yaegi) in front of an echo backend, and puts it through
// the shared token table, header spoofing over the wire, path and method tricks, the
// metadata documents and the revocation feed.
package traefik

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/jwtvectors"
	"github.com/mcp-oauth-gateway/gateway/tests/internal/traefiktest"
)

const mcpHost = "mcp.test.example"

// revFeed is a revocation feed (docs/interfaces.md) the test controls.
type revFeed struct {
	mu     sync.Mutex
	jtis   []string
	users  []string
	before int64
	polls  int
}

func (f *revFeed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.polls++
	if r.Header.Get("Authorization") != "Bearer feed-token" {
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	tokens := []any{}
	for _, j := range f.jtis {
		tokens = append(tokens, map[string]any{"jti": j, "exp": time.Now().Add(time.Hour).Unix()})
	}
	users := []any{}
	for _, u := range f.users {
		users = append(users, map[string]any{"sub": u, "before": f.before})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{"cursor": "x", "reset": true, "tokens": tokens, "users": users, "clients": []any{}})
}

// dynamicConfig builds the file provider configuration: one router per plugin mode
// (selected by the X-Test-Mode header) and a plain router without middleware.
func dynamicConfig(k *jwtvectors.Keys, echoURL, jwksURL, feedURL string) string {
	rev := k.ConfigMap(jwtvectors.ModeJWKS, jwksURL)
	rev["revocationURL"] = feedURL
	rev["revocationInterval"] = "1s"
	rev["revocationToken"] = "feed-token"
	router := func(rule string, prio int, mw string) map[string]any {
		r := map[string]any{"rule": rule, "service": "echo", "priority": prio, "entryPoints": []any{"web"}}
		if mw != "" {
			r["middlewares"] = []any{mw}
		}
		return r
	}
	doc := map[string]any{"http": map[string]any{
		"routers": map[string]any{
			"jwks":  router("Host(`"+mcpHost+"`)", 10, "auth-jwks"),
			"hmac":  router("Host(`"+mcpHost+"`) && Header(`X-Test-Mode`, `hmac`)", 20, "auth-hmac"),
			"rev":   router("Host(`"+mcpHost+"`) && Header(`X-Test-Mode`, `rev`)", 20, "auth-rev"),
			"plain": router("Host(`plain.test.example`)", 10, ""),
		},
		"services": map[string]any{"echo": map[string]any{"loadBalancer": map[string]any{
			"servers": []any{map[string]any{"url": echoURL}},
		}}},
		"middlewares": map[string]any{
			"auth-jwks": map[string]any{"plugin": map[string]any{"mcpauth": k.ConfigMap(jwtvectors.ModeJWKS, jwksURL)}},
			"auth-hmac": map[string]any{"plugin": map[string]any{"mcpauth": k.ConfigMap(jwtvectors.ModeHMAC, "")}},
			"auth-rev":  map[string]any{"plugin": map[string]any{"mcpauth": rev}},
		},
	}}
	b, err := yaml.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// traefikDoer sends the request over the wire, verbatim, through Traefik.
func traefikDoer(tr *traefiktest.Traefik, extra string) jwtvectors.Doer {
	return func(t *testing.T, mode jwtvectors.Mode, req *http.Request) jwtvectors.Result {
		t.Helper()
		h := req.Header.Clone()
		if mode == jwtvectors.ModeHMAC {
			h.Set("X-Test-Mode", "hmac")
		} else if extra != "" {
			h.Set("X-Test-Mode", extra)
		}
		target := strings.TrimPrefix(req.RequestURI, "http://"+mcpHost)
		if target == "" {
			target = req.URL.RequestURI()
		}
		resp, body, err := traefiktest.RawRequest(tr.Addr, req.Method, target, mcpHost, h)
		if err != nil {
			t.Fatalf("request through Traefik: %v", err)
		}
		res := jwtvectors.Result{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
		if resp.Header.Get(traefiktest.EchoHeader) == "reached" {
			res.Reached = true
			var echo traefiktest.Echo
			if req.Method != http.MethodHead {
				if err := json.Unmarshal(body, &echo); err != nil {
					t.Fatalf("echo body: %v", err)
				}
			}
			res.Backend = echo.Header
		}
		return res
	}
}

func TestTraefik(t *testing.T) {
	bin := traefiktest.Bin(t)
	k, err := jwtvectors.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	echo := traefiktest.EchoBackend(t)
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, k.JWKS())
	}))
	defer jwks.Close()
	feed := &revFeed{}
	feedSrv := httptest.NewServer(feed)
	defer feedSrv.Close()

	tr := traefiktest.Start(t, traefiktest.Options{
		Bin:         bin,
		LocalPlugin: true,
		Dynamic:     dynamicConfig(k, echo.URL, jwks.URL+"/.well-known/jwks.json", feedSrv.URL+"/internal/revocations"),
		ReadyHost:   mcpHost,
		ReadyPath:   "/.well-known/oauth-protected-resource/mcp",
		ReadyStatus: http.StatusOK,
	})
	do := traefikDoer(tr, "")

	t.Run("token table", func(t *testing.T) {
		jwtvectors.CheckTokenTable(t, k, do, func(c jwtvectors.Case) string {
			if len(c.Token) > 512<<10 {
				return "Go's HTTP server refuses headers over 1 MB before any middleware (checked below)"
			}
			return ""
		})
	})
	t.Run("requests", func(t *testing.T) { jwtvectors.CheckRequests(t, k, do) })
	t.Run("identity headers over the wire", func(t *testing.T) { jwtvectors.CheckIdentityHeaders(t, k, do) })
	t.Run("underscore headers reach the plugin", func(t *testing.T) {
		// Traefik v3.6 has no aliasHeadersStrategy: names with '_' pass through, so
		// the plugin itself must strip them (as the identity header check shows).
		r := jwtvectors.Bearer(http.MethodPost, "/mcp", k.Valid(time.Now(), "u"))
		r.Header["X_Custom_Probe"] = []string{"through"}
		res := do(t, jwtvectors.ModeJWKS, r)
		if got := res.Backend["X_custom_probe"]; len(got) != 1 || got[0] != "through" {
			t.Fatalf("backend headers %v: X_Custom_Probe did not pass through Traefik", res.Backend)
		}
	})
	t.Run("1 MB header refused before the backend", func(t *testing.T) {
		r := jwtvectors.Bearer(http.MethodPost, "/mcp", strings.Repeat("A", 1<<20))
		res := do(t, jwtvectors.ModeJWKS, r)
		if res.Reached || res.Status < 400 {
			t.Fatalf("status %d reached %v, want a 4xx refusal", res.Status, res.Reached)
		}
	})
	t.Run("no middleware router reaches backend", func(t *testing.T) {
		resp, _, err := traefiktest.RawRequest(tr.Addr, "GET", "/mcp", "plain.test.example", nil)
		if err != nil || resp.Header.Get(traefiktest.EchoHeader) != "reached" {
			t.Fatalf("plain router: %v %v", resp, err)
		}
	})
	t.Run("revocation within the interval", func(t *testing.T) {
		rdo := traefikDoer(tr, "rev")
		c := jwtvectors.Claims(time.Now().Add(-time.Minute), "77")
		token := jwtvectors.Sign("RS256", k.RSA, map[string]any{"typ": "at+jwt", "kid": jwtvectors.RSAKid}, c)
		other := k.Valid(time.Now(), "78")
		call := func(tok string) jwtvectors.Result {
			return rdo(t, jwtvectors.ModeJWKS, jwtvectors.Bearer(http.MethodPost, "/mcp", tok))
		}
		if res := call(token); !res.Reached {
			t.Fatalf("fresh token refused: %d %s", res.Status, res.Body)
		}
		feed.mu.Lock()
		feed.jtis = append(feed.jtis, c["jti"].(string))
		feed.mu.Unlock()
		start := time.Now()
		for call(token).Reached {
			if time.Since(start) > 15*time.Second {
				t.Fatal("revoked token still accepted 15s after revocation (interval 1s)")
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("token revocation took effect after %v (revocationInterval 1s)", time.Since(start).Round(time.Millisecond))
		if res := call(other); !res.Reached {
			t.Errorf("another user's token refused after a jti revocation: %d %s", res.Status, res.Body)
		}
		// Revoke everything of user 78 issued until now.
		feed.mu.Lock()
		feed.users = append(feed.users, "78")
		feed.before = time.Now().Unix()
		feed.mu.Unlock()
		start = time.Now()
		for call(other).Reached {
			if time.Since(start) > 15*time.Second {
				t.Fatal("user revocation not applied within 15s")
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("user revocation took effect after %v", time.Since(start).Round(time.Millisecond))
	})
	t.Run("config reload keeps working", func(t *testing.T) {
		// Traefik rebuilds middlewares on every change (New's context ends): the
		// rebuilt instance must serve, with the package-level caches still there.
		cfg := dynamicConfig(k, echo.URL, jwks.URL+"/.well-known/jwks.json", feedSrv.URL+"/internal/revocations")
		cfg = strings.ReplaceAll(cfg, "Test MCP", "Test MCP reloaded")
		tr.WriteDynamic(t, cfg)
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, body, err := traefiktest.RawRequest(tr.Addr, "GET", "/.well-known/oauth-protected-resource", mcpHost, nil)
			if err == nil && resp.StatusCode == 200 && strings.Contains(string(body), "reloaded") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("reloaded configuration not served within 30s")
			}
			time.Sleep(100 * time.Millisecond)
		}
		if res := do(t, jwtvectors.ModeJWKS, jwtvectors.Bearer(http.MethodPost, "/mcp", k.Valid(time.Now(), "rl"))); !res.Reached {
			t.Fatalf("after reload: %d %s", res.Status, res.Body)
		}
	})
	if t.Failed() {
		t.Logf("Traefik log:\n%s", tr.Logs())
	}
}
