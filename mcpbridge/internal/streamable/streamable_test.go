package streamable

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/session"
	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/stdiotest"
)

func TestMain(m *testing.M) {
	stdiotest.MaybeRun()
	os.Exit(m.Run())
}

func TestAccepts(t *testing.T) {
	tests := []struct {
		header    string
		json, sse bool
	}{
		{"", true, false},
		{"application/json, text/event-stream", true, true},
		{"text/event-stream", false, true},
		{"application/json", true, false},
		{"*/*", true, false},
		{"application/json;q=0, text/event-stream", false, true},
		{"text/html", false, false},
		{"garbage;;;", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.header, func(t *testing.T) {
			j, s := accepts(tc.header)
			if j != tc.json || s != tc.sse {
				t.Errorf("accepts(%q) = %v, %v; want %v, %v", tc.header, j, s, tc.json, tc.sse)
			}
		})
	}
}

func TestOriginPolicy(t *testing.T) {
	loopback, err := newOriginPolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	listed, err := newOriginPolicy([]string{"https://claude.ai", " https://Example.COM:8443 "})
	if err != nil {
		t.Fatal(err)
	}
	anyOrigin, _ := newOriginPolicy([]string{"*"})
	tests := []struct {
		name   string
		policy *originPolicy
		origin string
		want   bool
	}{
		{"absent", loopback, "", true},
		{"localhost", loopback, "http://localhost:6274", true},
		{"127.0.0.1", loopback, "http://127.0.0.1", true},
		{"::1", loopback, "http://[::1]:3000", true},
		{"*.localhost", loopback, "http://app.localhost:5173", true},
		{"127.0.0.0/8", loopback, "http://127.0.0.2:8080", true},
		{"rebinding", loopback, "http://evil.example.com", false},
		{"localhost look-alike", loopback, "http://localhost.evil.com", false},
		{"null", loopback, "null", false},
		{"listed", listed, "https://claude.ai", true},
		{"listed case-insensitive", listed, "https://example.com:8443", true},
		{"listed wrong scheme", listed, "http://claude.ai", false},
		{"listed wrong port", listed, "https://example.com", false},
		{"listed suffix trick", listed, "https://claude.ai.evil.com", false},
		{"listed excludes loopback", listed, "http://localhost", false},
		{"origin with path", listed, "https://claude.ai/x", false},
		{"any", anyOrigin, "https://whatever.example", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.policy.allows(tc.origin); got != tc.want {
				t.Errorf("allows(%q) = %v, want %v", tc.origin, got, tc.want)
			}
		})
	}
	if _, err := newOriginPolicy([]string{"claude.ai"}); err == nil {
		t.Error("an origin without scheme was accepted")
	}
}

func TestSSEWriter(t *testing.T) {
	rec := httptest.NewRecorder()
	w := newSSEWriter(rec)
	w.Prime("e1_0")
	w.Write("e1_1", []byte(`{"a":1}`))
	w.Comment("keepalive")
	w.Write("e1_2", []byte(`{"b":2}`))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "id: e1_0\nretry: 500\ndata: \n\nid: e1_1\nevent: message\ndata: {\"a\":1}\n\n: keepalive\n\nid: e1_2\nevent: message\ndata: {\"b\":2}\n\n"
	if got := rec.Body.String(); got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/event-stream" || !rec.Flushed {
		t.Errorf("content type %q flushed %v", ct, rec.Flushed)
	}
}

// server starts the handler over a registry of scripted children.
func server(t *testing.T) *httptest.Server {
	t.Helper()
	argv, _ := stdiotest.Command()
	reg, err := session.NewRegistry(session.Options{Command: argv, Env: stdiotest.Env()})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(reg, Options{ProtocolVersions: []string{"2025-11-25", "2025-06-18", "2025-03-26"}, MaxMessage: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		reg.CloseAll(ctx)
		srv.Close()
	})
	return srv
}

func post(t *testing.T, url string, header map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

func TestHandlerResponses(t *testing.T) {
	srv := server(t)
	resp, body := post(t, srv.URL, nil, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26"}}`)
	sid := resp.Header.Get(HeaderSessionID)
	if resp.StatusCode != 200 || sid == "" || !strings.Contains(body, `"protocolVersion":"2025-03-26"`) {
		t.Fatalf("initialize: %d %q %s", resp.StatusCode, sid, body)
	}
	in := func(version string, extra ...string) map[string]string {
		h := map[string]string{HeaderSessionID: sid}
		if version != "" {
			h[HeaderProtocolVersion] = version
		}
		for i := 0; i+1 < len(extra); i += 2 {
			h[extra[i]] = extra[i+1]
		}
		return h
	}
	tests := []struct {
		name        string
		header      map[string]string
		body        string
		status      int
		contentType string
		has         []string
	}{
		{"lone response is JSON", in("2025-11-25"), `{"jsonrpc":"2.0","id":"e","method":"echo","params":{"x":1}}`, 200, "application/json", []string{`"id":"e"`}},
		{"progress makes a stream", in("2025-11-25"), `{"jsonrpc":"2.0","id":"p","method":"progress","params":{"steps":2,"_meta":{"progressToken":1}}}`, 200, "text/event-stream",
			[]string{"_0\nretry: 500\ndata: \n\nid: e", "_1\nevent: message\ndata: {", `"progress":2`, `"id":"p"`}},
		{"SSE-only client gets a stream", in("2025-11-25", "Accept", "text/event-stream"), `{"jsonrpc":"2.0","id":"s","method":"echo"}`, 200, "text/event-stream", []string{`"id":"s"`}},
		{"notification", in("2025-11-25"), `{"jsonrpc":"2.0","method":"notifications/initialized"}`, 202, "", nil},
		{"batch allowed without version header", in("", "Accept", "application/json"), `[{"jsonrpc":"2.0","id":1,"method":"echo"},{"jsonrpc":"2.0","id":2,"method":"echo"}]`, 200, "application/json", []string{`[{`, `"id":1`, `"id":2`}},
		{"batch of notifications", in("2025-03-26"), `[{"jsonrpc":"2.0","method":"notifications/x"},{"jsonrpc":"2.0","id":"r","result":{}}]`, 202, "", nil},
		{"batch refused in 2025-06-18", in("2025-06-18"), `[{"jsonrpc":"2.0","id":1,"method":"echo"}]`, 400, "application/json", []string{"batches"}},
		{"unknown version", in("2024-01-01"), `{"jsonrpc":"2.0","id":1,"method":"echo"}`, 400, "application/json", []string{"2024-01-01"}},
		{"too large", in("2025-11-25"), `{"jsonrpc":"2.0","id":1,"method":"echo","params":"` + strings.Repeat("a", 1<<16) + `"}`, 413, "application/json", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := post(t, srv.URL, tc.header, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != tc.contentType {
				t.Errorf("content type %q, want %q", ct, tc.contentType)
			}
			for _, want := range tc.has {
				if !strings.Contains(body, want) {
					t.Errorf("body %q lacks %q", body, want)
				}
			}
		})
	}
}
