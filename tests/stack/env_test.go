package stack_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-oauth-gateway/gateway/internal/labels"
)

// composeVariable matches ${NAME…} interpolations; $$ escapes (for the container's
// own shell) are not compose variables.
var composeVariable = regexp.MustCompile(`(?:^|[^$])\$\{([A-Za-z_][A-Za-z0-9_]*)`)

// TestEnvExampleDocumentsEveryVariable: every variable any compose file reads is in
// .env.example, with a comment somewhere above it in its section.
func TestEnvExampleDocumentsEveryVariable(t *testing.T) {
	env, err := labels.ReadEnvFile(envExample)
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(repoPath(t, "compose/*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no compose files: %v", err)
	}
	used := map[string][]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range composeVariable.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = append(used[m[1]], filepath.Base(f))
		}
	}
	if len(used) < 10 {
		t.Fatalf("found only %d variables in the compose files; the scan is broken", len(used))
	}
	for _, name := range sortedNames(used) {
		if name == "COMPOSE_PROJECT_NAME" {
			continue // docker compose's own: the project's name
		}
		if _, ok := env[name]; !ok {
			t.Errorf("%s (used by %v) is not in .env.example", name, slices.Compact(used[name]))
		}
	}
}

// authsvcVariables reads the env:"NAME" tags of authsvc's configuration.
func authsvcVariables(t *testing.T) map[string]bool {
	t.Helper()
	files, _ := filepath.Glob(repoPath(t, "authsvc/internal/config/*.go"))
	vars := map[string]bool{}
	tag := regexp.MustCompile(`env:"([A-Z0-9_]+)"`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range tag.FindAllStringSubmatch(string(b), -1) {
			vars[m[1]] = true
		}
	}
	if len(vars) == 0 {
		t.Fatalf("no env:\"…\" tags in authsvc/internal/config: authsvc's configuration moved?")
	}
	return vars
}

// TestAuthEnvironmentMatchesAuthsvc: the auth container passes only variables authsvc
// reads (a misspelt one would be ignored silently), and every variable authsvc reads is
// passed through, so .env controls all of authsvc's configuration.
func TestAuthEnvironmentMatchesAuthsvc(t *testing.T) {
	vars := authsvcVariables(t)
	st, _ := loadStack(t)
	auth := st.Project.Services["auth"]
	// The tracing variables authsvc reads through internal/telemetry: allowed, not
	// required (the stack passes the collector's base URL only).
	tb, err := os.ReadFile(repoPath(t, "internal/telemetry/telemetry.go"))
	if err != nil {
		t.Fatal(err)
	}
	tracing := map[string]bool{}
	for _, m := range regexp.MustCompile(`getenv\("([A-Z0-9_]+)"\)`).FindAllStringSubmatch(string(tb), -1) {
		tracing[m[1]] = true
	}
	for _, k := range sortedNames(auth.Environment) {
		if !vars[k] && !tracing[k] {
			t.Errorf("auth container sets %s, which authsvc does not read", k)
		}
	}
	// JWT_KEY_DIR would need a volume; in the stack the keys live in Redis.
	for _, k := range sortedNames(vars) {
		if _, ok := auth.Environment[k]; !ok && k != "JWT_KEY_DIR" {
			t.Errorf("authsvc reads %s, which compose/auth.yaml does not pass", k)
		}
	}
}

// authsvcPaths reads authsvc's endpoint paths from the source: the Path* constants of
// internal/contract and any literal path a handler registers (handle("/x", …)),
// so a new public endpoint cannot be forgotten in the labels.
func authsvcPaths(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, dir := range []string{"authsvc", "internal/contract"} {
		err := filepath.Walk(repoPath(t, dir), func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") &&
				!strings.Contains(p, string(filepath.Separator)+"oauthtest"+string(filepath.Separator)) {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	constant := regexp.MustCompile(`(?m)^\s*Path\w+\s*=\s*"(/[^"{]*)`)
	handle := regexp.MustCompile(`handle\("(/[^"{]*)"`)
	seen := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range []*regexp.Regexp{constant, handle} {
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				seen[m[1]] = true
			}
		}
	}
	if len(seen) < 8 {
		t.Fatalf("found only %v in authsvc's source: the scan is broken", sortedNames(seen))
	}
	return sortedNames(seen)
}

// isInternalPath: authsvc endpoints for the Docker network only.
func isInternalPath(p string) bool {
	return p == "/verify" || strings.HasPrefix(p, "/verify/") || strings.HasPrefix(p, "/internal/")
}

func TestAuthsvcEndpointsRouted(t *testing.T) {
	st, _ := loadStack(t)
	for _, p := range authsvcPaths(t) {
		t.Run(p, func(t *testing.T) {
			got, err := st.Route(publicEntryPoint, labels.Request{Host: "auth." + testDomain, Path: p})
			if isInternalPath(p) {
				if !errors.Is(err, labels.ErrNoRoute) {
					t.Errorf("internal endpoint %s is routed publicly via %q (%v)", p, got, err)
				}
				return
			}
			if err != nil || got != "auth-oauth" {
				t.Errorf("public endpoint %s routes to %q (%v), want auth-oauth", p, got, err)
			}
		})
	}
}
