package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const composeDir = "../../compose"

// testEnv writes a dotenv file with every variable the stack requires.
func testEnv(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), ".env")
	env := "BASE_DOMAIN=example.org\nACME_EMAIL=ops@example.org\nREDIS_PASSWORD=r\nGITHUB_CLIENT_ID=i\n" +
		"GITHUB_CLIENT_SECRET=s\nALLOWED_GITHUB_USERS=octocat\nREVOCATION_FEED_TOKEN=f\nIDENTITY_SECRET=identity-secret-of-32-bytes-at-least\n"
	if err := os.WriteFile(p, []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTable(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-compose", composeDir, "-env", testEnv(t)}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if !strings.HasPrefix(lines[0], "PRIO") || len(lines) < 10 {
		t.Fatalf("table:\n%s", out.String())
	}
	// Highest priority first, and the auth routers are where the routing table says.
	if !strings.HasPrefix(lines[1], "10 ") || !strings.HasPrefix(lines[len(lines)-1], "1 ") {
		t.Errorf("not sorted by priority:\n%s", out.String())
	}
	for _, want := range []string{"auth-oauth", "auth (http://auth:8000)", "Host(`auth.example.org`)", "mcpauth-memory"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestJSON(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-compose", composeDir, "-env", testEnv(t), "-json"}, &out); err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		HTTP struct {
			Routers map[string]json.RawMessage `json:"routers"`
		} `json:"http"`
	}
	if err := json.Unmarshal(out.Bytes(), &cfg); err != nil || cfg.HTTP.Routers["auth-verify"] == nil {
		t.Errorf("-json output is not the dynamic configuration (%v):\n%s", err, out.String())
	}
}

func TestErrors(t *testing.T) {
	var out bytes.Buffer
	err := run([]string{"-compose", composeDir, "-env", filepath.Join(t.TempDir(), "missing")}, &out)
	if err == nil || !strings.Contains(err.Error(), "just generate-all-secrets") {
		t.Errorf("missing env file: error %v, want one naming the recipe", err)
	}
	p := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(p, []byte("BASE_DOMAIN=example.org\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-compose", composeDir, "-env", p}, &out); err == nil || !strings.Contains(err.Error(), "ACME_EMAIL") {
		t.Errorf("incomplete env file: error %v, want one naming a missing variable", err)
	}
}
