package bridge

import (
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/tests/internal/mcpservers"
)

// TestHealth: /health is liveness; /ready and `mcpbridge healthcheck` perform a real
// initialize handshake and fail when the wrapped server cannot complete one.
func TestHealth(t *testing.T) {
	good := startBridge(t, []string{"--ready-cache", "10m"}, mcpservers.Everything(t))
	// A "server" that exits at once: the bridge is alive but not ready.
	broken := startBridge(t, nil, []string{"sh", "-c", "echo 'no MCP here' >&2; exit 2"})
	// A real server, but the bridge only accepts a protocol version it does not speak.
	wrongVersion := startBridge(t, []string{"--protocol-versions", "2024-10-07"}, mcpservers.GoEverything(t))

	tests := []struct {
		name           string
		b              *bridge
		health, ready  int
		readyBody      string
		healthcheckErr string
	}{
		{"real server", good, 200, 200, "ready", ""},
		{"server exits", broken, 200, 503, "initialize handshake failed", "exited"},
		{"unsupported version", wrongVersion, 200, 503, "protocol version", "protocol version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r := do(t, "GET", tc.b.Base+"/health", nil, ""); r.Status != tc.health {
				t.Errorf("/health: %d, want %d", r.Status, tc.health)
			}
			r := do(t, "GET", tc.b.Base+"/ready", nil, "")
			if r.Status != tc.ready || !strings.Contains(r.Body, tc.readyBody) {
				t.Errorf("/ready: %d %q, want %d containing %q", r.Status, r.Body, tc.ready, tc.readyBody)
			}
			cmd := exec.Command(bridgeBin, "healthcheck", "--url", tc.b.URL, "--timeout", "60s")
			if tc.name == "unsupported version" {
				cmd.Env = append(cmd.Environ(), "MCPBRIDGE_PROTOCOL_VERSIONS=2099-01-01")
			}
			out, err := cmd.CombinedOutput()
			switch {
			case tc.healthcheckErr == "" && err != nil:
				t.Errorf("healthcheck failed: %v\n%s", err, out)
			case tc.healthcheckErr != "" && (err == nil || !strings.Contains(string(out), tc.healthcheckErr)):
				t.Errorf("healthcheck = %v %q, want failure mentioning %q", err, out, tc.healthcheckErr)
			}
		})
	}
	// The healthcheck ends the session it opened: no child is left behind.
	waitGone(t, good.childPIDs(), 15*time.Second)

	t.Run("readiness is cached", func(t *testing.T) {
		for range 3 {
			if r := do(t, "GET", good.Base+"/ready", nil, ""); r.Status != 200 {
				t.Fatalf("/ready: %d", r.Status)
			}
		}
		// Each handshake starts a server, which says so on stderr: one within the cache time.
		if n := strings.Count(good.logs.String(), `"probe":"ready","line":"Starting default (STDIO) server..."`); n != 1 {
			t.Errorf("%d readiness handshakes, want 1 (cached for 10m)", n)
		}
	})

	t.Run("nothing listening", func(t *testing.T) {
		out, err := exec.Command(bridgeBin, "healthcheck", "--url", "http://127.0.0.1:1/mcp", "--timeout", "5s").CombinedOutput()
		if err == nil {
			t.Errorf("healthcheck against a closed port succeeded: %s", out)
		}
	})
}

// TestStandaloneStream: messages the server sends on its own, outside any request,
// arrive on the session's GET stream.
func TestStandaloneStream(t *testing.T) {
	b := startBridge(t, nil, mcpservers.GoEverything(t))
	sid := initSession(t, b, "alice")
	get := openStream(t, b, "alice", sid)
	defer get.Close()
	r := do(t, "POST", b.URL, sessionHeaders("alice", sid), `{"jsonrpc":"2.0","id":2,"method":"resources/subscribe","params":{"uri":"test://watched-resource"}}`)
	if r.Status != http.StatusOK {
		t.Fatalf("subscribe: %d %s", r.Status, r.Body)
	}
	deadline := time.After(30 * time.Second) // the fixture updates the resource every 3s
	for {
		select {
		case e, ok := <-get.events:
			if !ok {
				t.Fatal("the GET stream ended")
			}
			if strings.Contains(e, `"method":"notifications/resources/updated"`) && strings.Contains(e, "test://watched-resource") {
				return
			}
		case <-deadline:
			t.Fatal("no notifications/resources/updated on the GET stream within 30s")
		}
	}
}
