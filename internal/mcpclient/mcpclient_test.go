package mcpclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestSafeToOpen(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://auth.example.com/authorize?x=1", true},
		{"http://localhost:8080/authorize", true},
		{"http://auth.localhost:8080/authorize", true},
		{"http://127.0.0.1:8080/authorize", true},
		{"http://[::1]:8080/authorize", true},
		{"http://example.com/authorize", false},
		{"http://localhost.example.com/authorize", false},
		{"http://127.0.0.1.nip.io/", false},
		{"javascript:alert(1)", false},
		{"JAVASCRIPT:alert(1)", false},
		{"file:///etc/passwd", false},
		{"data:text/html,hi", false},
		{"https://user@example.com/", false},
		{"https://example.com/ --foo", false},
		{"https://example.com/\n", false},
		{"-https://example.com/", false},
		{"https:///nohost", false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			err := SafeToOpen(tc.url)
			if got := err == nil; got != tc.ok {
				t.Errorf("SafeToOpen(%q) = %v, want ok=%v", tc.url, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrUnsafeURL) {
				t.Errorf("error %v does not wrap ErrUnsafeURL", err)
			}
		})
	}
}

func TestCheckCallback(t *testing.T) {
	const state, iss = "s-123", "http://localhost:8080"
	tests := []struct {
		name        string
		q           url.Values
		issRequired bool
		wantCode    string
		wantErr     error
	}{
		{"good", url.Values{"state": {state}, "code": {"c1"}, "iss": {iss}}, true, "c1", nil},
		{"good without iss when not advertised", url.Values{"state": {state}, "code": {"c1"}}, false, "c1", nil},
		{"missing iss when advertised", url.Values{"state": {state}, "code": {"c1"}}, true, "", ErrIssuer},
		{"wrong iss", url.Values{"state": {state}, "code": {"c1"}, "iss": {"http://evil"}}, false, "", ErrIssuer},
		{"wrong state", url.Values{"state": {"other"}, "code": {"c1"}, "iss": {iss}}, true, "", ErrStateMismatch},
		{"no state", url.Values{"code": {"c1"}, "iss": {iss}}, true, "", ErrStateMismatch},
		{"error", url.Values{"state": {state}, "error": {"access_denied"}, "iss": {iss}}, true, "", ErrDenied},
		{"no code", url.Values{"state": {state}, "iss": {iss}}, true, "", ErrDenied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := checkCallback(tc.q, state, iss, tc.issRequired)
			if got.code != tc.wantCode || !errors.Is(got.err, tc.wantErr) || (tc.wantErr == nil) != (got.err == nil) {
				t.Errorf("checkCallback = (%q, %v), want (%q, %v)", got.code, got.err, tc.wantCode, tc.wantErr)
			}
		})
	}
}

func TestWithResources(t *testing.T) {
	got := withResources("http://localhost:8080/authorize?a=1", []string{"http://localhost:8081/mcp", "http://localhost:8082/mcp"})
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if r := u.Query()["resource"]; len(r) != 2 || r[0] != "http://localhost:8081/mcp" || r[1] != "http://localhost:8082/mcp" {
		t.Errorf("resource params = %q, want both MCP URLs in order", r)
	}
	if u.Query().Get("a") != "1" {
		t.Errorf("existing parameter lost: %s", got)
	}
}

func TestTargets(t *testing.T) {
	lt := LocalTarget(8080, []string{"everything", "memory"})
	if lt.Issuer != "http://localhost:8080" {
		t.Errorf("local issuer = %q", lt.Issuer)
	}
	if s, _ := lt.Service("memory"); s.URL != "http://localhost:8082/mcp" {
		t.Errorf("local memory URL = %q, want http://localhost:8082/mcp", s.URL)
	}
	dt := DeployedTarget("example.com", []string{"everything"})
	if dt.Issuer != "https://auth.example.com" || dt.Services[0].URL != "https://everything.example.com/mcp" {
		t.Errorf("deployed target = %+v", dt)
	}
}

func TestWriteConfigs(t *testing.T) {
	var buf bytes.Buffer
	tgt := LocalTarget(8080, []string{"everything", "memory"})
	if err := WriteConfigs(&buf, tgt); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"claude mcp add --transport http everything http://localhost:8081/mcp\n",
		"claude mcp add --transport http memory http://localhost:8082/mcp\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The two JSON documents must parse and name every service.
	var docs []map[string]map[string]map[string]any
	for _, block := range strings.Split(out, "\n\n") {
		if strings.HasPrefix(block, "{") {
			var d map[string]map[string]map[string]any
			if err := json.Unmarshal([]byte(block), &d); err != nil {
				t.Fatalf("JSON block does not parse: %v\n%s", err, block)
			}
			docs = append(docs, d)
		}
	}
	if len(docs) != 2 {
		t.Fatalf("found %d JSON blocks, want 2 (Claude Desktop, VS Code)", len(docs))
	}
	if got := docs[0]["mcpServers"]["memory"]["args"]; got == nil || !strings.Contains(strings.Join(toStrings(got), " "), "mcp-remote http://localhost:8082/mcp --allow-http") {
		t.Errorf("Claude Desktop memory args = %v", got)
	}
	if got := docs[1]["servers"]["everything"]; got["type"] != "http" || got["url"] != "http://localhost:8081/mcp" {
		t.Errorf("VS Code everything = %v", got)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"abc": "abc", "a b": "'a b'", "it's": `'it'\''s'`, "$(x)": "'$(x)'"} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOpenURL: an opener that fails (xdg-open without a browser exits non-zero) is an
// error the caller can report, as is no opener at all; one that succeeds is not.
func TestOpenURL(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the opener is xdg-open on Linux only")
	}
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	ctx := context.Background()
	const u = "http://localhost:8080/authorize?x=1"
	if err := OpenURL(ctx, u); !errors.Is(err, ErrNoOpener) {
		t.Errorf("no xdg-open: %v, want ErrNoOpener", err)
	}
	write := func(script string) {
		if err := os.WriteFile(filepath.Join(dir, "xdg-open"), []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(`echo "xdg-open: no method available for opening '$1'" >&2; exit 3`)
	if err := OpenURL(ctx, u); err == nil || !strings.Contains(err.Error(), "found no browser") {
		t.Errorf("failing xdg-open: %v, want an error", err)
	}
	write(`[ "$1" = "` + u + `" ] || exit 9`)
	if err := OpenURL(ctx, u); err != nil {
		t.Errorf("working xdg-open: %v", err)
	}
}
