package stack_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-oauth-gateway/gateway/internal/labels"
)

// TestComposeValidationCatches breaks a copy of the compose files the ways a hand
// edit could, and wants the loader (compose-go, as in `docker compose config`) to
// refuse each: this is what makes a green TestComposeProject mean something. (A copied
// service file whose service was not renamed is merged, not refused, by include;
// TestComposeProject's exact service list catches that.)
func TestComposeValidationCatches(t *testing.T) {
	tests := []struct {
		name, file, old, new, want string
	}{
		{"unknown dependency", "auth.yaml", "      redis:\n        condition: service_healthy", "      rediss:\n        condition: service_healthy", "rediss"},
		{"undeclared network", "redis.yaml", "    networks:\n      - backend", "    networks:\n      - backend2", "backend2"},
		{"undeclared volume", "redis.yaml", "      - redis-data:/data", "      - redis-dat:/data", "redis-dat"},
		{"unknown service key", "mcp-time.yaml", "    restart: unless-stopped", "    restart: unless-stopped\n    helthcheck: {}", "helthcheck"},
		{"bad healthcheck interval", "redis.yaml", "      interval: 10s", "      interval: ten seconds", "interval"},
		{"missing included file", "compose.yaml", "  - mcp-time.yaml", "  - mcp-clock.yaml", "mcp-clock.yaml"},
		{"bad dependency condition", "traefik.yaml", "condition: service_healthy", "condition: service_ready", "condition value must be one of"},
	}
	env := exampleEnv(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			copyTree(t, dir, "compose")
			path := filepath.Join(dir, "compose", tc.file)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), tc.old) {
				t.Fatalf("%s no longer contains %q: update the test", tc.file, tc.old)
			}
			writeFile(t, path, []byte(strings.Replace(string(b), tc.old, tc.new, 1)))
			_, err = labels.LoadProject(filepath.Join(dir, "compose"), env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadProject error = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
