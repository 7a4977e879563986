package localstack

import (
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fastSupervision shortens the supervisor's pauses for a test.
func fastSupervision(t *testing.T) {
	t.Helper()
	old := []any{minBackoff, maxBackoff, stableAfter, maxRestarts, stormWindow}
	minBackoff, maxBackoff, stableAfter, maxRestarts, stormWindow = 10*time.Millisecond, 40*time.Millisecond, time.Hour, 3, time.Minute
	t.Cleanup(func() {
		minBackoff, maxBackoff, stableAfter = old[0].(time.Duration), old[1].(time.Duration), old[2].(time.Duration)
		maxRestarts, stormWindow = old[3].(int), old[4].(time.Duration)
	})
}

func startSpec(t *testing.T, g *group, name string, args ...string) {
	t.Helper()
	sp := spec{name: name, dir: t.TempDir(), logDir: t.TempDir(), bin: "/bin/sh", args: args}
	p, err := sp.start()
	if err != nil {
		t.Fatal(err)
	}
	g.add(sp, p)
}

// TestSupervisorRestartsAlone: a process killed with SIGKILL is started again, with a
// new pid, while the other one keeps running untouched; stopAll then stops the new
// incarnation and no restart follows.
func TestSupervisorRestartsAlone(t *testing.T) {
	fastSupervision(t)
	g := newGroup(slog.New(slog.DiscardHandler))
	restarted := make(chan struct{}, 10)
	g.changed = func() { restarted <- struct{}{} }
	startSpec(t, g, "victim", "-c", "exec sleep 600")
	startSpec(t, g, "bystander", "-c", "exec sleep 600")
	before := g.pids()

	if err := syscall.Kill(before["victim"], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-restarted:
	case <-time.After(10 * time.Second):
		t.Fatal("the killed process was not restarted")
	}
	after := g.pids()
	if after["victim"] == before["victim"] || syscall.Kill(after["victim"], 0) != nil {
		t.Errorf("victim pid %d → %d, want a new, live process", before["victim"], after["victim"])
	}
	if after["bystander"] != before["bystander"] {
		t.Errorf("the bystander was restarted too (%d → %d)", before["bystander"], after["bystander"])
	}
	g.stopAll(time.Second)
	for name, pid := range after {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("%s (pid %d) still runs after stopAll", name, pid)
		}
	}
	select {
	case <-restarted:
		t.Error("a process was restarted after stopAll")
	case <-time.After(200 * time.Millisecond):
	}
	select {
	case msg := <-g.died:
		t.Errorf("gave up: %s", msg)
	default:
	}
}

// TestSupervisorStopsARestartStorm: a process that keeps exiting is restarted
// maxRestarts times, then reported with its name, how often, and its log's tail.
func TestSupervisorStopsARestartStorm(t *testing.T) {
	fastSupervision(t)
	g := newGroup(slog.New(slog.DiscardHandler))
	var restarts int
	g.changed = func() { restarts++ }
	startSpec(t, g, "flaky", "-c", "echo 'cannot bind: address in use'; exit 3")
	defer g.stopAll(time.Second)
	select {
	case msg := <-g.died:
		for _, want := range []string{"flaky exited 4 times", "not restarting it again", "cannot bind"} {
			if !strings.Contains(msg, want) {
				t.Errorf("message %q lacks %q", msg, want)
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a process exiting at once was restarted forever")
	}
	if restarts != maxRestarts {
		t.Errorf("%d restarts before giving up, want %d", restarts, maxRestarts)
	}
}
