// Package stack_test verifies the Docker Compose stack without a Docker engine: the
// compose files load and validate with compose-go (as `docker compose config` would),
// their Traefik labels decode with Traefik's own label decoder into the routing table
// DESIGN.md requires, every variable is documented in .env.example, and the
// Dockerfiles refer only to files and binaries that exist.
package stack_test

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/mcp-oauth-gateway/gateway/tests/internal/labels"
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
// and every variable left empty there (secrets the operator must generate or paste)
// filled with a placeholder, so the stack loads the way it does once .env is filled.
func exampleEnv(t *testing.T) map[string]string {
	t.Helper()
	env, err := labels.ReadEnvFile(envExample)
	if err != nil {
		t.Fatalf("reading .env.example (it documents every variable): %v", err)
	}
	for k, v := range env {
		if v == "" {
			env[k] = "placeholder-" + k
		}
	}
	env["BASE_DOMAIN"] = testDomain
	env["ACME_EMAIL"] = "ops@" + testDomain
	return env
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
