package bridge

import (
	"bufio"
	"context"
	"encoding/json"
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

// TestConformance runs the official MCP conformance suite (server mode, every scenario)
// against the bridge wrapping the Go SDK's everything-server, and fails when a scenario
// listed in testdata/conformance-passing.txt does not pass.
func TestConformance(t *testing.T) {
	bin, path := mcpservers.Conformance(t)
	b := startBridge(t, nil, mcpservers.GoEverything(t))
	out := t.TempDir()
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(c, bin, "server", "--url", b.URL, "--suite", "all", "-o", out)
	cmd.Env = append(os.Environ(), "PATH="+path)
	output, err := cmd.CombinedOutput()
	// The runner exits non-zero when any scenario fails; the per-scenario results decide.
	t.Logf("conformance runner: exit %v", err)

	results := readConformance(t, out)
	if len(results) == 0 {
		t.Fatalf("the conformance runner produced no results:\n%s", output)
	}
	var passed []string
	for name, failures := range results {
		if len(failures) == 0 {
			passed = append(passed, name)
		}
	}
	sort.Strings(passed)
	t.Logf("conformance: %d of %d scenarios pass: %s", len(passed), len(results), strings.Join(passed, ", "))
	for _, want := range expectedPassing(t) {
		failures, ran := results[want]
		switch {
		case !ran:
			t.Errorf("scenario %s did not run", want)
		case len(failures) > 0:
			t.Errorf("scenario %s regressed: %s", want, strings.Join(failures, "; "))
		}
	}
	for name, failures := range results {
		if len(failures) > 0 {
			t.Logf("scenario %s fails: %s", name, strings.Join(failures, "; "))
		}
	}
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
