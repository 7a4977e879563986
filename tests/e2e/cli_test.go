package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// actAsBrowser is the test binary run as `xdg-open URL`: it walks the login and
// consent like a person and lands on the client's loopback redirect.
func actAsBrowser(args []string) int {
	if len(args) != 1 {
		fmt.Fprintf(os.Stderr, "xdg-open (e2e browser): want exactly one argument, got %q\n", args)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := newBrowserNoT().Follow(ctx, args[0]); err != nil {
		fmt.Fprintf(os.Stderr, "xdg-open (e2e browser): %v\n", err)
		return 1
	}
	return 0
}

// TestMCPClientTokenCLI runs `mcp-client token` (just mcp-client-token) as users do:
// it registers, opens the "browser" (this test binary installed as xdg-open, given the
// URL as its only argument), catches the redirect, exchanges the code and writes the
// tokens into .env without disturbing the other lines; the token then works through
// Traefik.
func TestMCPClientTokenCLI(t *testing.T) {
	ctx := testContext(t)
	mcpURL := stack.MCPURL("filesystem")
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(dir, "xdg-open")); err != nil {
		t.Fatal(err)
	}
	envFile := filepath.Join(dir, ".env")
	before := "# my settings\nBASE_DOMAIN=localhost\nMCP_CLIENT_ACCESS_TOKEN=old-token\nOTHER=kept\n"
	if err := os.WriteFile(envFile, []byte(before), 0o600); err != nil {
		t.Fatal(err)
	}

	github.LoginAs(bob)
	cmd := exec.CommandContext(ctx, clientBin, "token", "-issuer", stack.Issuer, "-resource", mcpURL, "-env-file", envFile)
	cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("mcp-client token: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), stack.Issuer+"/authorize?") {
		t.Errorf("the authorization URL is not printed for the user:\n%s", out.String())
	}

	b, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	for _, keep := range []string{"# my settings\n", "BASE_DOMAIN=localhost\n", "OTHER=kept\n"} {
		if !strings.Contains(string(b), keep) {
			t.Errorf(".env lost %q:\n%s", keep, b)
		}
	}
	access := env["MCP_CLIENT_ACCESS_TOKEN"]
	if access == "" || access == "old-token" || env["MCP_CLIENT_REFRESH_TOKEN"] == "" || env["MCP_CLIENT_ID"] == "" {
		t.Fatalf(".env after mcp-client token:\n%s", b)
	}
	c := claims(t, access)
	if c["login"] != bob.Login || c["client_id"] != env["MCP_CLIENT_ID"] {
		t.Errorf("token claims login=%v client_id=%v, want bob and %s", c["login"], c["client_id"], env["MCP_CLIENT_ID"])
	}
	if st, _ := os.Stat(envFile); st.Mode().Perm() != 0o600 {
		t.Errorf(".env mode = %o, want 600 kept", st.Mode().Perm())
	}
	initSession(t, ctx, mcpURL, access, nil)

	// `just mcp-client-refresh`: rotates both tokens in .env; the new one works.
	refresh := exec.CommandContext(ctx, clientBin, "refresh", "-issuer", stack.Issuer, "-env-file", envFile)
	refresh.Env = os.Environ()
	if b, err := refresh.CombinedOutput(); err != nil {
		t.Fatalf("mcp-client refresh: %v\n%s", err, b)
	}
	b, _ = os.ReadFile(envFile)
	after := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			after[k] = v
		}
	}
	if after["MCP_CLIENT_ACCESS_TOKEN"] == access || after["MCP_CLIENT_REFRESH_TOKEN"] == env["MCP_CLIENT_REFRESH_TOKEN"] || after["MCP_CLIENT_ID"] != env["MCP_CLIENT_ID"] {
		t.Fatalf("refresh did not rotate the tokens in .env:\n%s", b)
	}
	if !strings.Contains(string(b), "OTHER=kept\n") {
		t.Errorf(".env lost other lines on refresh:\n%s", b)
	}
	initSession(t, ctx, mcpURL, after["MCP_CLIENT_ACCESS_TOKEN"], nil)
}
