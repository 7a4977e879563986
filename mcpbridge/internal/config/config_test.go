package config

import (
	"io"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParse(t *testing.T) {
	c, err := Parse([]string{"--", "node", "server.js"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":3000" || c.MaxSessions != 256 || c.MaxPerUser != 32 || c.IdleTimeout != 30*time.Minute || len(c.AllowedOrigins) != 0 ||
		strings.Join(c.ProtocolVersions, ",") != "2025-11-25,2025-06-18,2025-03-26,2024-11-05" || strings.Join(c.Command, " ") != "node server.js" {
		t.Errorf("defaults = %+v", c)
	}

	c, err = Parse([]string{"--max-sessions", "5", "--", "x"}, env(map[string]string{
		"LISTEN_ADDR": "127.0.0.1:9", "MCPBRIDGE_MAX_SESSIONS": "7", "MCPBRIDGE_ALLOWED_ORIGINS": "https://a.example, https://b.example",
		"MCPBRIDGE_REQUEST_TIMEOUT": "90s", "LOG_FORMAT": "json", "LOG_LEVEL": "debug",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9" || c.MaxSessions != 5 || len(c.AllowedOrigins) != 2 || c.RequestTimeout != 90*time.Second || c.LogFormat != "json" {
		t.Errorf("env and flags = %+v (a flag must win over its variable)", c)
	}

	_, err = Parse([]string{"--idle-timeout", "soon", "--max-sessions", "-1", "--log-format", "xml"}, env(nil), io.Discard)
	if err == nil {
		t.Fatal("bad configuration accepted")
	}
	for _, want := range []string{"idle timeout", "max sessions", "log format", "no MCP server command"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not report %q (every problem at once)", err, want)
		}
	}
}

func TestHealthcheckURL(t *testing.T) {
	for _, tc := range []struct{ listen, want string }{
		{"", "http://127.0.0.1:3000/mcp"},
		{":8080", "http://127.0.0.1:8080/mcp"},
		{"0.0.0.0:3001", "http://127.0.0.1:3001/mcp"},
	} {
		if got := HealthcheckURL(env(map[string]string{"LISTEN_ADDR": tc.listen})); got != tc.want {
			t.Errorf("HealthcheckURL(%q) = %q, want %q", tc.listen, got, tc.want)
		}
	}
}
