package stack_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mcp-oauth-gateway/gateway/internal/labels"
)

// copyTree copies the files `just` needs to run the stack recipes into dir.
func copyTree(t *testing.T, dir string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		src := repoPath(t, p)
		err := filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(repoPath(t, "."), path)
			dst := filepath.Join(dir, rel)
			if info.IsDir() {
				return os.MkdirAll(dst, 0o755)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			return os.WriteFile(dst, b, info.Mode())
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func runJust(t *testing.T, dir string, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("just")
	if err != nil {
		t.Fatalf("just is not installed: `npm install -g rust-just` (.ci/run does it)")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdin = nil // not a terminal: existing values are kept without asking
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("just %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestGenerateAllSecrets runs the real recipe in a copy of the repository: it creates
// .env from .env.example (mode 0600), fills the generated secrets with 32 random bytes
// each, changes no other line, and a second run (no terminal to ask) keeps them.
func TestGenerateAllSecrets(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, dir, "justfile", "just", "scripts", ".env.example")
	runJust(t, dir, "generate-all-secrets")

	envPath := filepath.Join(dir, ".env")
	info, err := os.Stat(envPath)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf(".env mode %o, want 600", info.Mode().Perm())
	}
	first, err := labels.ReadEnvFile(envPath)
	if err != nil {
		t.Fatal(err)
	}
	example, _ := labels.ReadEnvFile(envExample)
	hex64 := regexp.MustCompile(`^[0-9a-f]{64}$`)
	generated := []string{"REDIS_PASSWORD", "REVOCATION_FEED_TOKEN", "SESSION_SECRET", "IDENTITY_SECRET"}
	seen := map[string]bool{}
	for _, k := range generated {
		if !hex64.MatchString(first[k]) {
			t.Errorf("%s = %q, want 64 hex digits", k, first[k])
		}
		if seen[first[k]] {
			t.Errorf("%s repeats another secret", k)
		}
		seen[first[k]] = true
	}
	for k, v := range example {
		if !strings.Contains(strings.Join(generated, ","), k) && first[k] != v {
			t.Errorf("%s changed from %q to %q", k, v, first[k])
		}
	}
	exampleBytes, _ := os.ReadFile(envExample)
	envBytes, _ := os.ReadFile(envPath)
	if got, want := strings.Count(string(envBytes), "\n"), strings.Count(string(exampleBytes), "\n"); got != want {
		t.Errorf(".env has %d lines, .env.example %d: lines were added or lost", got, want)
	}

	out := runJust(t, dir, "generate-all-secrets")
	second, _ := labels.ReadEnvFile(envPath)
	for _, k := range generated {
		if second[k] != first[k] {
			t.Errorf("second run replaced %s without asking", k)
		}
		if !strings.Contains(out, k+": kept the existing value") {
			t.Errorf("second run does not say it kept %s:\n%s", k, out)
		}
	}
}
