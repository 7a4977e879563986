package bridge

import (
	"strings"
	"testing"

	"github.com/mcp-oauth-gateway/gateway/tests/internal/mcpservers"
)

// TestConformance runs the official MCP conformance suite (server mode, every scenario of
// the 2025 revisions) against the bridge wrapping the Go SDK's everything-server, and
// fails when a scenario listed in testdata/conformance-passing.txt does not pass.
func TestConformance(t *testing.T) {
	b := startBridge(t, nil, mcpservers.GoEverything(t))
	results := mcpservers.RunConformance(t, b.URL, "--suite", "all")
	for _, want := range mcpservers.ExpectedPassing(t) {
		failures, ran := results[want]
		switch {
		case !ran:
			t.Errorf("scenario %s did not run", want)
		case len(failures) > 0:
			t.Errorf("scenario %s regressed: %s", want, strings.Join(failures, "; "))
		}
	}
}

// TestConformance2026 runs the suite's 2026-07-28 requirements twice in one run: against
// the Go SDK fixture serving stateless HTTP itself, and against the bridge wrapping the
// same fixture on stdio. Every scenario the fixture passes must pass through the bridge.
func TestConformance2026(t *testing.T) {
	direct := mcpservers.StartGoEverythingHTTP(t)
	reference := mcpservers.RunConformance(t, direct, "--requirements", "2026-07-28")
	b := startBridge(t, nil, mcpservers.GoEverything(t))
	got := mcpservers.RunConformance(t, b.URL, "--requirements", "2026-07-28")
	passing := 0
	for name, failures := range reference {
		if len(failures) > 0 {
			continue
		}
		passing++
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
}
