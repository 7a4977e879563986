package bridge

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/tests/internal/mcpservers"
)

// TestMetrics: with --metrics-listen the bridge serves Prometheus metrics on that
// address only, and real traffic moves them: requests by JSON-RPC method and status,
// the children by state, the users with a pool, child start times, and child exits
// told apart from crashes. It also shows --gomaxprocs taking effect.
func TestMetrics(t *testing.T) {
	b := startBridge(t, []string{"--metrics-listen", "127.0.0.1:0", "--gomaxprocs", "1"}, mcpservers.Everything(t))
	var metricsAddr string
	for _, line := range strings.Split(b.logs.String(), "\n") {
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "metrics listening" {
			metricsAddr = rec.Addr
		}
	}
	if metricsAddr == "" {
		t.Fatalf("no metrics listening line:\n%s", b.logs.String())
	}
	sid := initSession(t, b, "alice")
	r := do(t, "POST", b.URL, sessionHeaders("alice", sid, "Accept", "application/json"),
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"m"}}}`)
	if r.Status != 200 {
		t.Fatalf("tools/call: %d %s", r.Status, r.Body)
	}
	if r := do(t, "POST", b.URL, sessionHeaders("alice", "no-such-session"), `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`); r.Status != 404 {
		t.Fatalf("unknown session: %d", r.Status)
	}
	scrape := func() string {
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	value := func(body, series string) float64 {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
		if m == nil {
			return -1
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	body := scrape()
	for series, want := range map[string]float64{
		`mcpbridge_requests_total{code="200",rpc="initialize"}`:                1,
		`mcpbridge_requests_total{code="202",rpc="notifications/initialized"}`: 1,
		`mcpbridge_requests_total{code="200",rpc="tools/call"}`:                1,
		`mcpbridge_requests_total{code="404",rpc="tools/list"}`:                1,
		`mcpbridge_request_duration_seconds_count{rpc="tools/call"}`:           1,
		`mcpbridge_children{state="session"}`:                                  1,
		// --gomaxprocs (Go's own gauge; the default would be the CPUs available)
		`go_sched_gomaxprocs_threads`: 1,
	} {
		if got := value(body, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if got := value(body, "mcpbridge_child_start_seconds_count"); got < 1 {
		t.Errorf("child starts counted: %v", got)
	}
	// waitFor waits up to 30 s for series to read want.
	waitFor := func(series string, want float64) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for value(scrape(), series) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s never reached %v:\n%s", series, want, scrape())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// The spares come back to their configured number (2).
	waitFor(`mcpbridge_children{state="spare"}`, 2)
	// A 2026-07-28 request of another user: a pool.
	if r := do(t, "POST", b.URL, modernHeaders("bob", "tools/list", ""), modernBody(1, "tools/list", "")); r.Status != 200 {
		t.Fatalf("2026-07-28 tools/list: %d %s", r.Status, r.Body)
	}
	body = scrape()
	if got := value(body, "mcpbridge_pools"); got != 1 {
		t.Errorf("mcpbridge_pools = %v, want 1", got)
	}
	if got := value(body, `mcpbridge_children{state="pooled"}`); got < 1 {
		t.Errorf(`mcpbridge_children{state="pooled"} = %v, want at least 1`, got)
	}
	// An ended session's child is an exit, not a crash; a killed one is both.
	if r := do(t, "DELETE", b.URL, sessionHeaders("alice", sid), ""); r.Status != 204 && r.Status != 200 {
		t.Fatalf("DELETE: %d %s", r.Status, r.Body)
	}
	waitFor(`mcpbridge_child_exits_total{kind="serving"}`, 1)
	if got := value(scrape(), `mcpbridge_child_crashes_total{kind="serving"}`); got > 0 {
		t.Errorf("a session ended by DELETE counted as a crash (%v)", got)
	}
	initSession(t, b, "carol")
	pids := b.childPIDs()
	pid, _ := strconv.Atoi(pids[len(pids)-1])
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("killing carol's child: %v", err)
	}
	waitFor(`mcpbridge_child_crashes_total{kind="serving"}`, 1)
	waitFor(`mcpbridge_child_exits_total{kind="serving"}`, 2)
	// Not on the /mcp listener.
	resp, err := http.Get(strings.TrimSuffix(b.URL, "/mcp") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("/metrics on the /mcp listener: %d, want 404", resp.StatusCode)
	}
}
