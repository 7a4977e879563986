package config

import (
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParse(t *testing.T) {
	c, err := Parse([]string{"--", "node", "server.js"}, env(map[string]string{"MCPBRIDGE_IDENTITY_SECRET": strings.Repeat("s", 32)}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":3000" || c.MaxSessions != 256 || c.MaxPerUser != 32 || c.IdleTimeout != 30*time.Minute || len(c.AllowedOrigins) != 0 ||
		strings.Join(c.ProtocolVersions, ",") != "2025-11-25,2025-06-18,2025-03-26,2024-11-05" || strings.Join(c.Command, " ") != "node server.js" {
		t.Errorf("defaults = %+v", c)
	}

	if c.GoMaxProcs != 0 {
		t.Errorf("gomaxprocs defaults to %d, want 0 (Go's default)", c.GoMaxProcs)
	}

	c, err = Parse([]string{"--max-sessions", "5", "--", "x"}, env(map[string]string{"MCPBRIDGE_ALLOW_UNSIGNED_IDENTITY": "true", "MCPBRIDGE_GOMAXPROCS": "1",
		"LISTEN_ADDR": "127.0.0.1:9", "MCPBRIDGE_MAX_SESSIONS": "7", "MCPBRIDGE_ALLOWED_ORIGINS": "https://a.example, https://b.example",
		"MCPBRIDGE_REQUEST_TIMEOUT": "90s", "LOG_FORMAT": "json", "LOG_LEVEL": "debug",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9" || c.MaxSessions != 5 || len(c.AllowedOrigins) != 2 || c.RequestTimeout != 90*time.Second || c.LogFormat != "json" ||
		c.GoMaxProcs != 1 {
		t.Errorf("env and flags = %+v (a flag must win over its variable)", c)
	}

	_, err = Parse([]string{"--idle-timeout", "soon", "--max-sessions", "-1", "--log-format", "xml", "--gomaxprocs", "-2"}, env(nil), io.Discard)
	if err == nil {
		t.Fatal("bad configuration accepted")
	}
	for _, want := range []string{"idle timeout", "max sessions", "log format", "gomaxprocs", "no MCP server command"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not report %q (every problem at once)", err, want)
		}
	}
}

// TestIdentityChoice: the bridge starts only with an explicit choice: the edge's
// signing secret, or trusting unsigned identity headers.
func TestIdentityChoice(t *testing.T) {
	secret := strings.Repeat("s", 32)
	dir := t.TempDir()
	secretFile, shortFile := dir+"/secret", dir+"/short"
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(shortFile, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env    map[string]string
		want   string // error substring; "" = accepted
		signed bool
	}{
		{nil, "set MCPBRIDGE_IDENTITY_SECRET", false},
		{map[string]string{"MCPBRIDGE_IDENTITY_SECRET": secret}, "", true},
		{map[string]string{"MCPBRIDGE_ALLOW_UNSIGNED_IDENTITY": "true"}, "", false},
		{map[string]string{"MCPBRIDGE_ALLOW_UNSIGNED_IDENTITY": "false"}, "set MCPBRIDGE_IDENTITY_SECRET", false},
		{map[string]string{"MCPBRIDGE_IDENTITY_SECRET": "short"}, "at least 32 bytes", false},
		{map[string]string{"MCPBRIDGE_IDENTITY_SECRET": secret, "MCPBRIDGE_ALLOW_UNSIGNED_IDENTITY": "true"}, "not both", false},
		{map[string]string{"MCPBRIDGE_ALLOW_UNSIGNED_IDENTITY": "maybe"}, "want true or false", false},
		{map[string]string{"MCPBRIDGE_ALLOW_UNSIGNED_IDENTITY": "true", "MCPBRIDGE_REPLICA_URL": "auto"}, "replicas need MCPBRIDGE_IDENTITY_SECRET", false},
		{map[string]string{"MCPBRIDGE_IDENTITY_SECRET": secret, "MCPBRIDGE_REPLICA_URL": "auto"}, "", true},
		// From a file (a Docker or Swarm secret), the trailing line break removed.
		{map[string]string{"MCPBRIDGE_IDENTITY_SECRET_FILE": secretFile}, "", true},
		{map[string]string{"MCPBRIDGE_IDENTITY_SECRET_FILE": shortFile}, "at least 32 bytes", false},
		{map[string]string{"MCPBRIDGE_IDENTITY_SECRET_FILE": dir + "/missing"}, "identity secret file: open " + dir + "/missing", false},
		{map[string]string{"MCPBRIDGE_IDENTITY_SECRET_FILE": secretFile, "MCPBRIDGE_IDENTITY_SECRET": secret}, "not both", false},
	} {
		c, err := Parse([]string{"--", "x"}, env(tc.env), io.Discard)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.env, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: error %v, want it to say %q", tc.env, err, tc.want)
		case err == nil && (c.IdentitySecret != nil) != tc.signed:
			t.Errorf("%v: secret set %v, want %v", tc.env, c.IdentitySecret != nil, tc.signed)
		case err == nil && tc.signed && string(c.IdentitySecret) != secret:
			t.Errorf("%v: secret %q, want %q", tc.env, c.IdentitySecret, secret)
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

// TestDocsTableMatchesFlags keeps docs/bridge.md's configuration table and the flags in
// step, both ways: every flag is a row with its environment variable and default, and
// every row is a flag.
func TestDocsTableMatchesFlags(t *testing.T) {
	var usage strings.Builder
	if _, err := Parse([]string{"-h"}, env(nil), &usage); err == nil {
		t.Fatal("-h parsed without error")
	}
	// Each flag's usage: "  -name string\n    \tdescription (env NAME) (default "x")".
	flags := map[string][2]string{} // flag → env, default
	for _, m := range regexp.MustCompile(`(?s)\n  -([a-z-]+) string\n\s+(.*?)\(env ([A-Z_]+)\)(?: \(default "([^"]*)"\))?`).FindAllStringSubmatch(usage.String(), -1) {
		flags[m[1]] = [2]string{m[3], m[4]}
	}
	if len(flags) < 10 {
		t.Fatalf("read %d flags from the usage text; did its format change?\n%s", len(flags), usage.String())
	}
	doc, err := os.ReadFile("../../../docs/bridge.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile("(?m)^\\| `--([a-z-]+)` \\| `([A-Z_]+)` \\| ([^|]*) \\|").FindAllStringSubmatch(string(doc), -1)
	documented := map[string]bool{}
	for _, r := range rows {
		name, envName, def := r[1], r[2], strings.Trim(strings.TrimSpace(r[3]), "`")
		documented[name] = true
		f, ok := flags[name]
		if !ok {
			t.Errorf("docs/bridge.md documents --%s, which mcpbridge does not have", name)
			continue
		}
		if def == "(empty)" {
			def = ""
		}
		if f[0] != envName || f[1] != def {
			t.Errorf("docs/bridge.md: --%s has env %s default %q; the flag has env %s default %q", name, envName, def, f[0], f[1])
		}
	}
	for name := range flags {
		if !documented[name] {
			t.Errorf("docs/bridge.md does not document --%s", name)
		}
	}
}
