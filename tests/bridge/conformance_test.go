package bridge

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

	"github.com/mcp-oauth-gateway/gateway/tests/internal/mcpservers"
)

var scenarioDir = regexp.MustCompile(`^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$`)

// TestConformance runs the official MCP conformance suite (server mode, every scenario of
// the 2025 revisions) against the bridge wrapping the Go SDK's everything-server, and
// fails when a scenario listed in testdata/conformance-passing.txt does not pass.
func TestConformance(t *testing.T) {
	b := startBridge(t, nil, mcpservers.GoEverything(t))
	results := runConformance(t, b.URL, "--suite", "all")
	for _, want := range expectedPassing(t) {
		failures, ran := results[want]
		switch {
		case !ran:
			t.Errorf("scenario %s did not run", want)
		case len(failures) > 0:
			t.Errorf("scenario %s regressed: %s", want, strings.Join(failures, "; "))
		}
	}
}

// modernExceptions are the scenarios the Go SDK fixture passes over its own HTTP but
// not through the bridge, each with the reason.
var modernExceptions = map[string]string{
	// Mcp-Param-* headers mirror tool arguments that a tool's inputSchema marks with
	// x-mcp-header; validating them needs every tool's schema at the edge, which the
	// bridge does not keep yet. The scenario is not scored for 2026-07-28 (pending).
	"http-custom-header-server-validation": "Mcp-Param-* validation not implemented",
}

// TestConformance2026 runs the suite's 2026-07-28 requirements twice in one run: against
// the Go SDK fixture serving stateless HTTP itself, and against the bridge wrapping the
// same fixture on stdio. Every scenario the fixture passes must pass through the bridge,
// save the listed exceptions; and no scored scenario may fail.
func TestConformance2026(t *testing.T) {
	direct := startFixtureHTTP(t)
	reference := runConformance(t, direct, "--requirements", "2026-07-28")
	b := startBridge(t, nil, mcpservers.GoEverything(t))
	got := runConformance(t, b.URL, "--requirements", "2026-07-28")
	passing := 0
	for name, failures := range reference {
		if len(failures) > 0 {
			continue
		}
		passing++
		if _, ok := modernExceptions[name]; ok {
			continue
		}
		switch bridged, ran := got[name]; {
		case !ran:
			t.Errorf("scenario %s did not run through the bridge", name)
		case len(bridged) > 0:
			t.Errorf("scenario %s passes on the fixture's own HTTP but fails through the bridge: %s", name, strings.Join(bridged, "; "))
		}
	}
	if passing < 30 {
		t.Errorf("only %d scenarios pass on the fixture itself: the suite or the fixture changed", passing)
	}
	for name, why := range modernExceptions {
		if len(got[name]) == 0 {
			t.Errorf("scenario %s now passes through the bridge: drop its exception (%s)", name, why)
		}
	}
}

// startFixtureHTTP runs the Go SDK everything-server serving stateless Streamable HTTP
// itself and returns its MCP URL.
func startFixtureHTTP(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(mcpservers.GoEverything(t)[0], "-http", addr)
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

// runConformance runs the suite's server mode against url and returns, per scenario,
// the messages of its failed checks.
func runConformance(t *testing.T, url string, args ...string) map[string][]string {
	t.Helper()
	bin, path := mcpservers.Conformance(t)
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
func readConformance(t *testing.T, dir string) map[string][]string {
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

func expectedPassing(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("testdata/conformance-passing.txt")
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
