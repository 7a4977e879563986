package identity

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/internal/contract"
)

func TestRequire(t *testing.T) {
	key := []byte(strings.Repeat("s", 32))
	now := time.Unix(1_800_000_000, 0)
	var served int
	h := Require(key, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served++ }),
		slog.New(slog.DiscardHandler), func() time.Time { return now })
	req := func(mod func(*http.Request)) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "http://memory.example.com/mcp", nil)
		r.Header.Set(contract.HeaderUserID, "4242")
		r.Header.Set(contract.HeaderUserLogin, "octocat")
		r.Header.Set(contract.HeaderScopes, "mcp")
		Sign(key, r, now)
		if mod != nil {
			mod(r)
		}
		return r
	}
	cases := []struct {
		name string
		mod  func(*http.Request)
		want int
	}{
		{"signed by the edge", nil, 200},
		{"unsigned", func(r *http.Request) { r.Header.Del(contract.HeaderIdentitySignature) }, 403},
		{"identity changed after signing", func(r *http.Request) { r.Header.Set(contract.HeaderUserID, "1") }, 403},
		{"identity header added after signing", func(r *http.Request) { r.Header.Set(contract.HeaderUserName, "Mallory") }, 403},
		{"another path", func(r *http.Request) { r.URL.Path = "/mcp/other" }, 403},
		{"another host", func(r *http.Request) { r.Host = "files.example.com" }, 403},
		{"signed with another key", func(r *http.Request) { Sign([]byte(strings.Repeat("x", 32)), r, now) }, 403},
		{"stale", func(r *http.Request) { Sign(key, r, now.Add(-2*time.Minute)) }, 403},
	}
	for _, c := range cases {
		served = 0
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req(c.mod))
		if rec.Code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, rec.Code, rec.Body, c.want)
		}
		if (served == 1) != (c.want == 200) {
			t.Errorf("%s: next served %d times", c.name, served)
		}
		if c.want == 403 {
			body, _ := io.ReadAll(rec.Body)
			if !strings.Contains(string(body), `"error":"identity_unverified"`) || rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("%s: body %s", c.name, body)
			}
		}
	}
}
