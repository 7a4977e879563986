package mcpservers

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

var scenarioDir = regexp.MustCompile(`^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$`)

// StartGoEverythingHTTP runs the Go SDK everything-server serving stateless Streamable HTTP
// itself and returns its MCP URL.
func StartGoEverythingHTTP(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(GoEverything(t)[0], "-http", addr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return "http://" + addr + "/mcp"
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fixture did not listen on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// RunConformance runs the suite's server mode against url and returns, per scenario,
// the messages of its failed checks.
func RunConformance(t testing.TB, url string, args ...string) map[string][]string {
	t.Helper()
	bin, path := Conformance(t)
	out := t.TempDir()
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(c, bin, append([]string{"server", "--url", url, "-o", out}, args...)...)
	cmd.Env = append(os.Environ(), "PATH="+path)
	output, err := cmd.CombinedOutput()
	// The runner exits non-zero when any scenario fails; the per-scenario results decide.
	t.Logf("conformance runner %v against %s: exit %v", args, url, err)
	results := readConformance(t, out)
	if len(results) == 0 {
		t.Fatalf("the conformance runner produced no results:\n%s", output)
	}
	var passed []string
	for name, failures := range results {
		if len(failures) == 0 {
			passed = append(passed, name)
		} else {
			t.Logf("scenario %s fails: %s", name, strings.Join(failures, "; "))
		}
	}
	sort.Strings(passed)
	t.Logf("conformance: %d of %d scenarios pass: %s", len(passed), len(results), strings.Join(passed, ", "))
	return results
}

// readConformance returns, per scenario, the messages of its failed checks.
func readConformance(t testing.TB, dir string) map[string][]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	results := map[string][]string{}
	for _, e := range entries {
		m := scenarioDir.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name(), "checks.json"))
		if err != nil {
			t.Errorf("scenario %s: %v", m[1], err)
			continue
		}
		var checks []struct {
			ID           string `json:"id"`
			Status       string `json:"status"`
			ErrorMessage string `json:"errorMessage"`
		}
		if err := json.Unmarshal(data, &checks); err != nil {
			t.Errorf("scenario %s: checks.json: %v", m[1], err)
			continue
		}
		failures := []string{}
		for _, c := range checks {
			if c.Status == "FAILURE" {
				failures = append(failures, c.ID+": "+c.ErrorMessage)
			}
		}
		results[m[1]] = failures
	}
	return results
}

func ExpectedPassing(t testing.TB) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(moduleDir(), "bridge", "testdata", "conformance-passing.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			names = append(names, line)
		}
	}
	return names
}
