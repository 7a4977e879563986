package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-oauth-gateway/gateway/tests/internal/mcpservers"
)

// TestTypeScriptSDKv2 drives the official TypeScript SDK v2 client through the whole
// gateway (Traefik, the plugin, the bridges of the npm servers, a token from the real
// OAuth flow), pinned to 2026-07-28 and in auto mode: tools, resources, prompts,
// progress, and sampling and elicitation round trips (multi round-trip requests the
// bridge makes of the 2025 servers' own requests) on everything; storing and reading
// on memory and filesystem.
func TestTypeScriptSDKv2(t *testing.T) {
	dir := mcpservers.NPMDir("tsclient")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "client")); err != nil {
		t.Fatalf("the TypeScript SDK v2 client is not installed: run `just test-e2e` (scripts/install-mcp-npm.sh tsclient): %v", err)
	}
	script, err := os.ReadFile("testdata/ts-client-v2.mjs")
	if err != nil {
		t.Fatal(err)
	}
	// ES modules resolve packages from their own location: the script runs from the
	// directory the SDK is installed in.
	run := filepath.Join(dir, "e2e-ts-client-v2.mjs")
	if err := os.WriteFile(run, script, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	servers := []string{"everything", "memory", "filesystem"}
	var urls []string
	for _, s := range servers {
		urls = append(urls, stack.MCPURL(s))
	}
	tok := userToken(t, ctx, bob, urls...)
	for _, mode := range []string{"pin", "auto"} {
		for i, server := range servers {
			t.Run(mode+"/"+server, func(t *testing.T) {
				cmd := exec.CommandContext(ctx, "node", run, urls[i], tok.Token.AccessToken, mode, server)
				cmd.Dir = dir
				var stderr strings.Builder
				cmd.Stderr = &stderr
				stdout, err := cmd.Output()
				if err != nil {
					t.Fatalf("TypeScript client: %v\n%s\n%s", err, stdout, stderr.String())
				}
				var got struct {
					Era       string         `json:"era"`
					Version   string         `json:"version"`
					SessionID string         `json:"sessionId"`
					Steps     map[string]any `json:"steps"`
				}
				if err := json.Unmarshal(stdout, &got); err != nil {
					t.Fatalf("TypeScript client output %q: %v", stdout, err)
				}
				// Both modes reach the modern era: the gateway speaks 2026-07-28.
				if got.Era != "modern" || got.Version != "2026-07-28" || got.SessionID != "" {
					t.Errorf("negotiated era %q version %q session %q, want modern 2026-07-28 without a session", got.Era, got.Version, got.SessionID)
				}
				s := got.Steps
				switch server {
				case "everything":
					if !strings.Contains(str(s["echo"]), "hello from v2") || !strings.Contains(str(s["long"]), "completed") ||
						s["resource"] != true || s["prompt"] == float64(0) {
						t.Errorf("everything steps: %v", s)
					}
					if p, _ := s["progress"].([]any); len(p) != 3 {
						t.Errorf("progress notifications %v, want 3 on the call's own stream", s["progress"])
					}
					if !strings.Contains(str(s["sampling"]), "sampled answer 42") || s["sampled"] != true || s["elicited"] != true {
						t.Errorf("sampling/elicitation round trips: %v", s)
					}
				case "memory":
					if s["graph"] != true {
						t.Errorf("memory steps: %v", s)
					}
				case "filesystem":
					if !strings.Contains(str(s["read"]), "written by v2") {
						t.Errorf("filesystem steps: %v", s)
					}
				}
			})
		}
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
