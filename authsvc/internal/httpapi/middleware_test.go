package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}
	cases := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"direct untrusted peer ignores XFF", "203.0.113.5:1234", []string{"1.2.3.4"}, "203.0.113.5"},
		{"trusted proxy, one hop", "10.0.0.2:80", []string{"198.51.100.7"}, "198.51.100.7"},
		{"client-forged left entry ignored", "10.0.0.2:80", []string{"1.1.1.1, 198.51.100.7"}, "198.51.100.7"},
		{"chain of trusted proxies", "10.0.0.2:80", []string{"198.51.100.7, 10.0.0.9"}, "198.51.100.7"},
		{"multiple headers", "127.0.0.1:80", []string{"1.1.1.1", "198.51.100.8"}, "198.51.100.8"},
		{"garbage in chain stops at proxy", "10.0.0.2:80", []string{"nonsense"}, "10.0.0.2"},
		{"trusted peer without XFF", "10.0.0.2:80", nil, "10.0.0.2"},
		{"all trusted", "10.0.0.2:80", []string{"10.1.1.1"}, "10.1.1.1"},
		{"ipv6 peer", "[2001:db8::1]:443", nil, "2001:db8::1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ClientIP(r, trusted).String(); got != tc.want {
				t.Errorf("ClientIP = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestLoggingOneLineWithClientIDAndNoQuery(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	h := Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetClientID(r.Context(), "client-123")
		if got := ClientIDFromContext(r.Context()); got != "client-123" {
			t.Errorf("ClientIDFromContext = %q", got)
		}
		w.WriteHeader(http.StatusTeapot)
	}), Logging(log))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/callback?code=SECRETCODE&state=s", nil))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d log lines, want 1: %q", len(lines), buf.String())
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &entry); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"method": "GET", "path": "/callback", "status": float64(418), "client_id": "client-123"} {
		if entry[k] != want {
			t.Errorf("%s = %v, want %v", k, entry[k], want)
		}
	}
	if _, ok := entry["duration_ms"]; !ok {
		t.Error("no duration_ms")
	}
	if strings.Contains(buf.String(), "SECRETCODE") {
		t.Error("the query string reached the log")
	}
}

func TestRecover(t *testing.T) {
	var buf bytes.Buffer
	h := Chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }), Recover(slog.New(slog.NewTextHandler(&buf, nil))))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "server_error") || strings.Contains(rec.Body.String(), "boom") {
		t.Errorf("got %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(buf.String(), "boom") {
		t.Error("panic not logged")
	}
}

func TestLimitBody(t *testing.T) {
	h := Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
		}
	}), LimitBody(10))
	cases := []struct {
		name   string
		body   string
		length int64 // -1 = unknown (chunked)
		want   int
	}{
		{"small", "12345", 5, 200},
		{"declared too large", strings.Repeat("x", 11), 11, 413},
		{"chunked too large", strings.Repeat("x", 100), -1, 413},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
			r.ContentLength = tc.length
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tc.want {
				t.Errorf("status = %d, want %d", rec.Code, tc.want)
			}
		})
	}
}

func TestSecurityHeadersAndCORS(t *testing.T) {
	h := Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), SecurityHeaders, CORS)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	for k, v := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Access-Control-Allow-Origin": "*"} {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	pre := httptest.NewRequest("OPTIONS", "/register", nil)
	pre.Header.Set("Access-Control-Request-Method", "POST")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, pre)
	if rec.Code != 204 || !strings.Contains(rec.Header().Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight: %d %v", rec.Code, rec.Header())
	}
	if rec.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Error("CORS must not allow credentials")
	}
}
