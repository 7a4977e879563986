// Package stack_test verifies the Docker Compose stack without a Docker engine: the
// compose files load and validate with compose-go (as `docker compose config` would),
// their Traefik labels decode with Traefik's own label decoder into the routing table
// docs/stack.md "Routing" describes, every variable is documented in .env.example, and the
// Dockerfiles refer only to files and binaries that exist.
package stack_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"

	"github.com/mcp-oauth-gateway/gateway/internal/labels"
)

const (
	repoRoot   = "../.."
	composeDir = repoRoot + "/compose"
	envExample = repoRoot + "/.env.example"
	testDomain = "gateway.example.com"
)

// mcpServices are the MCP servers the stack ships, each with its own host
// <name>.$BASE_DOMAIN, bridge container and mcpauth instance.
var mcpServices = []string{"everything", "fetch", "filesystem", "memory", "time"}

// exampleEnv is .env.example as compose reads it, with BASE_DOMAIN set to testDomain
// and each variable the compose files require (${VAR:?…}) but .env.example leaves
// empty (secrets the operator generates or pastes) filled with 32 bytes in hex, like
// `just generate-all-secrets` writes: the stack as it loads once .env is filled.
func exampleEnv(t *testing.T) map[string]string {
	t.Helper()
	env, err := labels.ReadEnvFile(envExample)
	if err != nil {
		t.Fatalf("reading .env.example (it documents every variable): %v", err)
	}
	for k := range requiredVariables(t) {
		if env[k] == "" {
			sum := sha256.Sum256([]byte(k))
			env[k] = hex.EncodeToString(sum[:])
		}
	}
	env["BASE_DOMAIN"] = testDomain
	env["ACME_EMAIL"] = "ops@" + testDomain
	return env
}

// requiredVariables are the variables a compose file reads as ${VAR:?message}.
func requiredVariables(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(repoPath(t, "compose/*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	req := map[string]bool{}
	re := regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*):\?`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			req[m[1]] = true
		}
	}
	return req
}

func loadStack(t *testing.T) (*labels.Stack, map[string]string) {
	t.Helper()
	env := exampleEnv(t)
	st, err := labels.Load(composeDir, env)
	if err != nil {
		t.Fatalf("loading the stack: %v", err)
	}
	return st, env
}

func sortedNames[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func repoPath(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
