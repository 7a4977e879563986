package localstack

import (
	"slices"
	"testing"
)

// TestBuildArgs: programs are built for coverage only while GOCOVERDIR is set, with
// the counter mode the race-detector build of the bridge also uses, so that every
// program's counters merge.
func TestBuildArgs(t *testing.T) {
	t.Setenv("GOCOVERDIR", "")
	if got := BuildArgs("-o", "bin/x", "./x"); !slices.Equal(got, []string{"build", "-o", "bin/x", "./x"}) {
		t.Errorf("without GOCOVERDIR: %q", got)
	}
	t.Setenv("GOCOVERDIR", t.TempDir())
	got := BuildArgs("-race", "-o", "bin/x", "./x")
	for _, want := range []string{"-cover", "-covermode=atomic", "-coverpkg=github.com/mcp-oauth-gateway/gateway/..."} {
		if !slices.Contains(got, want) {
			t.Errorf("with GOCOVERDIR: %q lacks %s", got, want)
		}
	}
	if got[0] != "build" || !slices.Equal(got[len(got)-4:], []string{"-race", "-o", "bin/x", "./x"}) {
		t.Errorf("with GOCOVERDIR: %q", got)
	}
}
