package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/config"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/keys"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/store"
	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/redistest"
	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/syncbuf"
)

type env struct {
	srv  *httptest.Server
	logs *syncbuf.Buffer
}

// newServer builds the real router on the Redis at redisURL.
func newServer(t *testing.T, redisURL string, extra map[string]string) *env {
	t.Helper()
	vars := map[string]string{
		"AUTH_ISSUER_URL":         "http://127.0.0.1:8000",
		"REDIS_URL":               redisURL,
		"GITHUB_CLIENT_ID":        "id",
		"GITHUB_CLIENT_SECRET":    "secret",
		"ALLOWED_GITHUB_USERS":    "*",
		"JWT_ALGORITHM":           "ES256",
		"REGISTRATION_RATE_LIMIT": "0",
		"MAX_BODY_BYTES":          "4096",
	}
	for k, v := range extra {
		vars[k] = v
	}
	cfg, err := config.Load(func(k string) string { return vars[k] }, config.Serve, keys.CheckPEM)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(cfg.RedisURL, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	km, err := keys.New(keys.NewRedisBackend(st.Redis()), keys.Options{Algorithm: cfg.JWTAlgorithm, AccessTokenLifetime: cfg.AccessTokenLifetime})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncbuf.Buffer{}
	h, err := New(Deps{Config: cfg, Store: st, Keys: km, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{srv: srv, logs: logs}
}

func (e *env) do(t *testing.T, method, path, body string, header ...string) reply {
	t.Helper()
	contentType := ""
	if body != "" {
		contentType = "application/json"
	}
	return send(t, e.srv.URL, method, path, contentType, body, header...)
}

func TestRoutes(t *testing.T) {
	e := newServer(t, redistest.URL(t), nil)
	cases := []struct {
		name, method, path, body string
		header                   []string
		want                     int
		wantInBody               string
	}{
		{"health", "GET", "/health", "", nil, 200, `"status":"ok"`},
		{"metadata", "GET", "/.well-known/oauth-authorization-server", "", nil, 200, `"issuer":"http://127.0.0.1:8000"`},
		{"openid configuration", "GET", "/.well-known/openid-configuration", "", nil, 200, `"code_challenge_methods_supported":["S256"]`},
		{"metadata HEAD", "HEAD", "/.well-known/oauth-authorization-server", "", nil, 200, ""},
		{"jwks", "GET", "/.well-known/jwks.json", "", nil, 200, `"crv":"P-256"`},
		{"unknown path", "GET", "/nope", "", nil, 404, `"error":"not_found"`},
		{"wrong method", "DELETE", "/register", "", nil, 405, `"error":"invalid_request"`},
		{"preflight", "OPTIONS", "/register", "", []string{"Origin", "https://inspector.example", "Access-Control-Request-Method", "POST"}, 204, ""},
		{"oversized body", "POST", "/register", `{"client_name":"` + strings.Repeat("x", 5000) + `"}`, nil, 413, `"error":"invalid_request"`},
		{"register", "POST", "/register", `{"redirect_uris":["http://127.0.0.1:9/cb"]}`, nil, 201, `"registration_access_token":"reg-`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, tc.method, tc.path, tc.body, tc.header...)
			if r.status != tc.want || !strings.Contains(string(r.raw), tc.wantInBody) {
				t.Fatalf("got %d %s, want %d with %s", r.status, r.raw, tc.want, tc.wantInBody)
			}
			if r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("security headers missing: %v", r.header)
			}
			if tc.want >= 400 && r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("error without Cache-Control: no-store")
			}
		})
	}
}

// TestRoundTrip is the curl round trip of docs/authsvc.md through the real router,
// and checks the request log: one line each, client_id present, no secrets.
func TestRoundTrip(t *testing.T) {
	e := newServer(t, redistest.URL(t), nil)
	r := e.do(t, "POST", "/register", `{"redirect_uris":["http://127.0.0.1:9/cb"],"client_name":"curl","token_endpoint_auth_method":"none"}`)
	if r.status != 201 {
		t.Fatalf("POST: %d %s", r.status, r.raw)
	}
	id, _ := r.body["client_id"].(string)
	tok, _ := r.body["registration_access_token"].(string)
	auth := []string{"Authorization", "Bearer " + tok}
	steps := []struct {
		method, body string
		want         int
	}{
		{"GET", "", 200},
		{"PUT", `{"client_id":"` + id + `","redirect_uris":["http://127.0.0.1:9/cb"],"client_name":"renamed","token_endpoint_auth_method":"none"}`, 200},
		{"DELETE", "", 204},
		{"GET", "", 401},
	}
	for _, s := range steps {
		got := e.do(t, s.method, "/register/"+id, s.body, auth...)
		if got.status != s.want {
			t.Fatalf("%s: %d %s, want %d", s.method, got.status, got.raw, s.want)
		}
		if s.method == "PUT" && got.body["client_name"] != "renamed" {
			t.Errorf("PUT response %s", got.raw)
		}
		if s.want == 401 && !strings.Contains(got.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("401 without invalid_token challenge: %v", got.header)
		}
	}
	logs := e.logs.String()
	if strings.Contains(logs, tok) || strings.Contains(logs, strings.TrimPrefix(tok, "reg-")) {
		t.Error("the registration access token reached the log")
	}
	lines := 0
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) != nil || entry["msg"] != "request" {
			continue
		}
		lines++
		if entry["status"] != float64(401) && entry["client_id"] != id {
			t.Errorf("log line without client_id: %s", line)
		}
	}
	if lines != 5 {
		t.Errorf("%d request log lines, want 5:\n%s", lines, logs)
	}
}

// TestRedisGoneIs503 stops a dedicated redis-server under a running authsvc: every
// endpoint that needs Redis answers 503 with a generic body, nothing panics, nothing
// of the internal error leaks, and the outage is logged.
func TestRedisGoneIs503(t *testing.T) {
	addr, stop, err := redistest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	e := newServer(t, "redis://"+addr+"/0", nil)
	reg := e.do(t, "POST", "/register", `{"redirect_uris":["http://127.0.0.1:9/cb"]}`)
	if reg.status != 201 {
		t.Fatalf("register while up: %d", reg.status)
	}
	if r := e.do(t, "GET", "/.well-known/jwks.json", ""); r.status != 200 {
		t.Fatalf("jwks while up: %d", r.status)
	}
	id, _ := reg.body["client_id"].(string)
	tok, _ := reg.body["registration_access_token"].(string)
	stop()

	cases := []struct {
		name, method, path, body string
		header                   []string
		want                     int
	}{
		{"health", "GET", "/health", "", nil, 503},
		{"register", "POST", "/register", `{"redirect_uris":["http://127.0.0.1:9/cb"]}`, nil, 503},
		{"read", "GET", "/register/" + id, "", []string{"Authorization", "Bearer " + tok}, 503},
		{"update", "PUT", "/register/" + id, `{"client_id":"` + id + `","redirect_uris":["http://127.0.0.1:9/cb"]}`, []string{"Authorization", "Bearer " + tok}, 503},
		{"delete", "DELETE", "/register/" + id, "", []string{"Authorization", "Bearer " + tok}, 503},
		{"metadata still served", "GET", "/.well-known/oauth-authorization-server", "", nil, 200},
		{"jwks served from cache", "GET", "/.well-known/jwks.json", "", nil, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, tc.method, tc.path, tc.body, tc.header...)
			if r.status != tc.want {
				t.Fatalf("status = %d (%s), want %d", r.status, r.raw, tc.want)
			}
			for _, leak := range []string{addr, "dial", "refused", "redis:", "store:"} {
				if strings.Contains(string(r.raw), leak) {
					t.Errorf("body leaks %q: %s", leak, r.raw)
				}
			}
			if tc.want == 503 && tc.path != "/health" && (r.body["error"] != "temporarily_unavailable" || r.header.Get("Cache-Control") != "no-store") {
				t.Errorf("503 body %s", r.raw)
			}
		})
	}
	if !strings.Contains(e.logs.String(), "storage unavailable") {
		t.Errorf("outage not logged:\n%s", e.logs.String())
	}
}

func TestHealthChecksRedis(t *testing.T) {
	ctx := context.Background()
	st, _ := store.Open(redistest.URL(t), "", nil)
	defer st.Close()
	rec := httptest.NewRecorder()
	health(st).ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil).WithContext(ctx))
	if rec.Code != 200 {
		t.Errorf("health with Redis up: %d", rec.Code)
	}
	dead, _ := store.Open("redis://127.0.0.1:1/0", "", nil)
	defer dead.Close()
	rec = httptest.NewRecorder()
	health(dead).ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil))
	if rec.Code != 503 {
		t.Errorf("health with Redis unreachable: %d", rec.Code)
	}
}

// TestEveryAdvertisedEndpointIsRouted keeps the discovery document and the routing
// table in step: each endpoint the metadata names must exist (any answer but 404).
func TestEveryAdvertisedEndpointIsRouted(t *testing.T) {
	e := newServer(t, redistest.URL(t), nil)
	md := e.do(t, "GET", "/.well-known/oauth-authorization-server", "")
	n := 0
	for field, v := range md.body {
		u, ok := v.(string)
		if !ok || !(strings.HasSuffix(field, "_endpoint") || field == "jwks_uri") {
			continue
		}
		path := strings.TrimPrefix(u, "http://127.0.0.1:8000")
		if path == u {
			t.Errorf("%s = %q is not under the issuer", field, u)
			continue
		}
		n++
		for _, method := range []string{"GET", "POST"} {
			if r := e.do(t, method, path, ""); r.status == http.StatusNotFound {
				t.Errorf("%s %s (%s) is not routed: 404", method, path, field)
			}
		}
	}
	if n < 6 {
		t.Errorf("only %d endpoints advertised, want at least 6", n)
	}
}
