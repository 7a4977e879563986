package docker

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const swarmStack = "mcpgw-swarmtest"

// swarmTools is a tool of each bridge that every user may call, with its arguments.
var swarmTools = map[string]struct {
	name string
	args map[string]any
}{
	"everything": {"echo", map[string]any{"message": "through the swarm"}},
	"memory":     {"read_graph", map[string]any{}},
	"filesystem": {"list_allowed_directories", map[string]any{}},
}

// TestSwarm deploys the same compose files on a single-node Docker Swarm
// (`just swarm-deploy`: two replicas of authsvc and of each bridge, Traefik's Swarm
// provider reading the same labels) and runs the Go SDK's OAuth client through it: a
// 2025-11-25 session and 2026-07-28 requests on every bridge, with Traefik spreading
// each session's requests over both replicas (both log them). Then one replica of
// authsvc and of each bridge is killed (SIGKILL): what the clients see in the next
// 20 s is logged, and afterwards every call succeeds and a new 2025 session works.
// Then a rolling update of a bridge under load: what the client saw is logged; calls
// succeed during and after it. docs/stack.md records the outcomes measured.
func TestSwarm(t *testing.T) {
	s := up(t) // the images of this checkout, the GitHub stand-in, the local CA
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	// The compose stack's containers go (TestMain removes the rest at the end): the
	// swarm's tasks get the machine.
	if out, err := s.just(ctx, "down"); err != nil {
		t.Fatalf("just down: %v\n%s", err, out)
	}
	sw := swarmUp(t, ctx, s)

	type client struct {
		legacy, modern *mcp.ClientSession
		h              *auth.AuthorizationCodeHandler
	}
	clients := map[string]*client{}

	// Every secret reached its service as a Swarm secret (the flows below prove the
	// services read them): none is a value in a service's definition or in a task's
	// container, where `docker service inspect` or `docker inspect` would show it. And
	// no task mounts a path of this machine but the Docker socket: Traefik's
	// configuration, the plugin and the local certificates came as Swarm configs (the
	// flows below go through that Traefik, its plugin and its certificate).
	t.Run("secrets and files are Swarm secrets and configs", func(t *testing.T) {
		checkNoSecretValues(t, ctx, sw.envFile)
		checkNoHostPaths(t, ctx)
	})
	call := func(cs *mcp.ClientSession, svc string) error {
		tool := swarmTools[svc]
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool.name, Arguments: tool.args})
		if err != nil {
			return err
		}
		if res.IsError {
			return fmt.Errorf("%s: tool error", tool.name)
		}
		return nil
	}
	// The clients belong to the whole test, not to a subtest: a session is closed
	// (DELETE) when the test that opened it ends, and the later subtests go on with
	// these sessions.
	for _, svc := range bridges {
		c := &client{h: sw.oauthClient(t)}
		c.modern = sw.connect(t, ctx, svc, c.h)
		c.legacy = sw.connectAt(t, ctx, svc, c.h, "2025-11-25")
		clients[svc] = c
	}
	t.Run("both eras on every bridge, requests on both replicas", func(t *testing.T) {
		for _, svc := range bridges {
			c := clients[svc]
			// One client's calls in a row: Traefik's round robin takes turns over the
			// replicas request by request, so calls of the two clients taken in turns
			// could each stay on one replica.
			for i := range 8 {
				if err := call(c.legacy, svc); err != nil {
					t.Fatalf("%s: call %d of the 2025 session: %v", svc, i, err)
				}
			}
			for i := range 8 {
				if err := call(c.modern, svc); err != nil {
					t.Fatalf("%s: 2026-07-28 call %d: %v", svc, i, err)
				}
			}
			// Both replicas logged the session's requests: the one that holds it, and
			// the one that forwarded what Traefik sent it. (docker service logs can lag
			// the tasks' output by a moment: read again until it shows.)
			eventually(t, 30*time.Second, svc+": the 2025 session's requests logged by both replicas (Traefik spreads them)", func() (bool, string) {
				n := tasksThatServed(t, ctx, svc, c.legacy.ID())
				return n == 2, fmt.Sprintf("logged by %d replicas", n)
			})
			// Each replica found both through Swarm's DNS (tasks.<service>, resolved
			// every 5 s), so they share the 2026-07-28 users.
			eventually(t, 30*time.Second, svc+": each replica's last peer list holds both replicas", func() (bool, string) {
				lists := peerLists(t, ctx, svc)
				return len(lists) == 2 && lists[0] == 2 && lists[1] == 2, fmt.Sprintf("the lists hold %v replicas", lists)
			})
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	// driveAt calls svc's tool for d from the client of a protocol version ("" for
	// 2026-07-28, or "2025-11-25") and counts the outcomes. A client whose session the
	// SDK closed (a 2025 session whose replica went answers 404, which the SDK reports
	// as a closed session) connects again, as an MCP host would, and that is counted
	// too.
	driveAt := func(svc, version string, d time.Duration, stop <-chan struct{}) map[string]int {
		seen := map[string]int{}
		held := &clients[svc].modern
		if version != "" {
			held = &clients[svc].legacy
		}
		cs := *held
		// The session the client ends with is the one it goes on with, however the
		// loop ends (its deadline or stop).
		defer func() { *held = cs }()
		deadline := time.Now().Add(d)
		for time.Now().Before(deadline) {
			select {
			case <-stop:
				return seen
			default:
			}
			err := call(cs, svc)
			switch {
			case err == nil:
				seen["ok"]++
			case errors.Is(err, mcp.ErrConnectionClosed), errors.Is(err, mcp.ErrSessionMissing):
				seen["reconnect"]++
				if again, err := sw.tryConnect(ctx, svc, clients[svc].h, version); err == nil {
					cs = again
				} else {
					seen["reconnect failed: "+shortErr(err)]++
				}
			default:
				seen[shortErr(err)]++
			}
			time.Sleep(150 * time.Millisecond)
		}
		return seen
	}
	// drive is driveAt for the 2026-07-28 client.
	drive := func(svc string, d time.Duration, stop <-chan struct{}) map[string]int {
		return driveAt(svc, "", d, stop)
	}

	t.Run("one replica of authsvc and of each bridge killed", func(t *testing.T) {
		// A raw 2025 session on each bridge, with no stream open: what becomes of it
		// depends only on whether its replica is killed.
		raw := map[string]string{}
		rawHeaders := func(svc, sid string) http.Header {
			h := http.Header{"Authorization": {"Bearer " + token(t, clients[svc].h).AccessToken}}
			if sid != "" {
				h.Set("Mcp-Session-Id", sid)
				h.Set("Mcp-Protocol-Version", "2025-06-18")
			}
			return h
		}
		for _, svc := range bridges {
			resp, body := sw.post(t, ctx, sw.mcpURL(svc), initializeBody, rawHeaders(svc, ""))
			raw[svc] = resp.Header.Get("Mcp-Session-Id")
			if resp.StatusCode != http.StatusOK || raw[svc] == "" {
				t.Fatalf("%s: raw initialize: %d %.200s", svc, resp.StatusCode, body)
			}
			if resp, body := sw.post(t, ctx, sw.mcpURL(svc), `{"jsonrpc":"2.0","method":"notifications/initialized"}`, rawHeaders(svc, raw[svc])); resp.StatusCode != http.StatusAccepted {
				t.Fatalf("%s: raw initialized: %d %.200s", svc, resp.StatusCode, body)
			}
		}
		killedIPs := map[string][]string{}
		for _, svc := range append([]string{"auth"}, bridges...) {
			id, ips := killTask(t, ctx, svc)
			killedIPs[svc] = ips
			t.Logf("%s: killed the task in container %s (%s)", svc, id, strings.Join(ips, " "))
		}
		// Until Traefik has dropped the dead tasks (its Swarm provider looks every 2 s)
		// and Swarm has replaced them, record what the 2026-07-28 clients see, and what
		// clients registering at authsvc see.
		var mu sync.Mutex
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := register(ctx, sw, 20*time.Second)
			mu.Lock()
			defer mu.Unlock()
			t.Logf("auth: registrations in the 20 s after the kills: %v", seen)
			// 429 once the registration rate limit (one budget across the replicas,
			// kept in Redis) is spent: authsvc answering, as it should.
			if seen["201"] == 0 || len(seen) != 1+min(seen["429"], 1) {
				t.Errorf("auth: registrations after the kills: %v, want only 201 (and 429 past the rate limit)", seen)
			}
		}()
		for _, svc := range bridges {
			wg.Add(1)
			go func() {
				defer wg.Done()
				seen := drive(svc, 20*time.Second, nil)
				mu.Lock()
				defer mu.Unlock()
				t.Logf("%s: 2026-07-28 calls in the 20 s after the kills: %v", svc, seen)
				// Traefik's retry-unreachable sends a request that finds a dead task
				// to the live one: no call fails; the client may connect again once,
				// when a stream it held on the killed task broke.
				if !onlyOKAndOneReconnect(seen) {
					t.Errorf("%s: 2026-07-28 calls after the kills: %v, want only ok (after at most one reconnect)", svc, seen)
				}
			}()
		}
		wg.Wait()
		// Afterwards every call succeeds, and the 2025 sessions: one held by a killed
		// replica is gone (404, which the SDK reports as a closed session), one held by
		// the survivor goes on; a new session works.
		for _, svc := range bridges {
			if seen := drive(svc, 3*time.Second, nil); seen["ok"] == 0 || len(seen) != 1 {
				t.Errorf("%s: 2026-07-28 calls after the failover: %v, want only ok", svc, seen)
			}
			sdkOwner := sessionOwner(clients[svc].legacy.ID())
			err := call(clients[svc].legacy, svc)
			t.Logf("%s: the SDK's 2025 session (held by %s) after the kill: %v", svc, sdkOwner, err)
			if u, perr := url.Parse(sdkOwner); perr != nil {
				t.Errorf("%s: the SDK's session id names %q, not a replica URL", svc, sdkOwner)
			} else if slices.Contains(killedIPs[svc], u.Hostname()) != (err != nil) {
				t.Errorf("%s: the SDK's 2025 session held by %s (killed: %v) answered %v", svc, sdkOwner,
					slices.Contains(killedIPs[svc], u.Hostname()), err)
			}
			// The raw session (no stream the kill could break): gone (404) if the killed
			// replica held it, alive (200) if the survivor did.
			owner := sessionOwner(raw[svc])
			u, perr := url.Parse(owner)
			if perr != nil {
				t.Fatalf("%s: the session id names %q, not a replica URL", svc, owner)
			}
			killed := slices.Contains(killedIPs[svc], u.Hostname())
			want := map[bool]int{true: http.StatusNotFound, false: http.StatusOK}[killed]
			resp, body := sw.post(t, ctx, sw.mcpURL(svc), `{"jsonrpc":"2.0","id":2,"method":"ping"}`, rawHeaders(svc, raw[svc]))
			t.Logf("%s: the raw 2025 session held by %s (killed: %v) answers %d", svc, owner, killed, resp.StatusCode)
			if resp.StatusCode != want {
				t.Errorf("%s: the raw 2025 session held by %s (killed: %v): %d %.200s, want %d", svc, owner, killed, resp.StatusCode, body, want)
			}
			// A new session, kept for the rolling update (not closed with this subtest).
			again, err := sw.tryConnect(ctx, svc, clients[svc].h, "2025-11-25")
			if err != nil {
				t.Fatalf("%s: a new 2025 session: %v", svc, err)
			}
			for i := range 4 {
				if err := call(again, svc); err != nil {
					t.Errorf("%s: call %d of a new 2025 session: %v", svc, i, err)
				}
			}
			clients[svc].legacy = again
		}
		eventually(t, 90*time.Second, "swarm replaced the killed tasks", func() (bool, string) {
			out, _ := output(ctx, sw, "docker", "stack", "services", swarmStack, "--format", "{{.Name}} {{.Replicas}}")
			return allReplicasUp(out), out
		})
	})

	t.Run("rolling update of a bridge under load", func(t *testing.T) {
		svc := "memory"
		stop := make(chan struct{})
		result, legacyResult := make(chan map[string]int), make(chan map[string]int)
		go func() { result <- drive(svc, 10*time.Minute, stop) }()
		go func() { legacyResult <- driveAt(svc, "2025-11-25", 10*time.Minute, stop) }()
		t0 := time.Now()
		out, err := output(ctx, sw, "docker", "service", "update", "--force", "--detach=false", swarmStack+"_"+svc)
		took := time.Since(t0)
		time.Sleep(3 * time.Second)
		close(stop)
		seen, legacy := <-result, <-legacyResult
		if err != nil {
			t.Fatalf("docker service update: %v\n%s", err, tail(out, 20))
		}
		t.Logf("%s: 2026-07-28 calls during its rolling update (%s): %v", svc, took.Round(time.Second), seen)
		t.Logf("%s: 2025-11-25 session calls during its rolling update: %v", svc, legacy)
		// A client whose stream was on a replaced task connects again (at most once);
		// no call fails.
		if !onlyOKAndOneReconnect(seen) {
			t.Errorf("calls during the rolling update: %v, want only ok (after at most one reconnect)", seen)
		}
		// A 2025 session lives on one task, and both tasks are replaced one after the
		// other: its client starts a new session when its task goes (404), at most
		// twice (the new session may land on the task replaced second); no call fails
		// otherwise.
		if legacy["ok"] == 0 || legacy["reconnect"] > 2 || len(legacy) != 1+min(legacy["reconnect"], 1) {
			t.Errorf("2025 session calls during the rolling update: %v, want only ok (after at most two new sessions)", legacy)
		}
		if after := drive(svc, 3*time.Second, nil); !onlyOKAndOneReconnect(after) {
			t.Errorf("calls after the rolling update: %v, want only ok (after at most one reconnect)", after)
		}
	})
}

// onlyOKAndOneReconnect reports whether drive saw successful calls and nothing else
// but at most one reconnect.
func onlyOKAndOneReconnect(seen map[string]int) bool {
	return seen["ok"] > 0 && seen["reconnect"] <= 1 && len(seen) == 1+min(seen["reconnect"], 1)
}

// swarmUp makes this engine a single-node swarm (when it is not one yet) and deploys
// the stack with `just swarm-deploy`; it is removed when the test ends.
func swarmUp(t *testing.T, ctx context.Context, s *stack) *stack {
	t.Helper()
	state, err := output(ctx, nil, "docker", "info", "--format", "{{.Swarm.LocalNodeState}}")
	if err != nil {
		t.Fatalf("docker info: %v\n%s", err, state)
	}
	if strings.TrimSpace(state) != "active" {
		if out, err := output(ctx, nil, "docker", "swarm", "init", "--advertise-addr", "127.0.0.1"); err != nil {
			t.Fatalf("docker swarm init: %v\n%s", err, out)
		}
		t.Cleanup(func() { _, _ = output(context.Background(), nil, "docker", "swarm", "leave", "--force") })
	}
	// The swarm's Traefik publishes its own port (on the node: Swarm has no host IP).
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	env, err := os.ReadFile(s.envFile)
	if err != nil {
		t.Fatal(err)
	}
	envFile := filepath.Join(filepath.Dir(s.envFile), "swarm.env")
	text := regexp.MustCompile(`(?m)^HTTPS_PORT=.*$`).ReplaceAllString(string(env), "HTTPS_PORT="+port)
	if err := os.WriteFile(envFile, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	sw := *s
	sw.envFile = envFile
	sw.env = append(append([]string{}, s.env...), "STACK_ENV_FILE="+envFile)
	base := s.client.Transport.(*http.Transport)
	tr := base.Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, p, _ := net.SplitHostPort(addr); strings.HasSuffix(host, "."+domain) && p == "443" {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
		return base.DialContext(ctx, network, addr)
	}
	sw.client = &http.Client{Timeout: s.client.Timeout, Transport: tr}

	t.Cleanup(func() {
		if t.Failed() {
			for _, svc := range append([]string{"traefik", "auth"}, bridges...) {
				out, _ := output(context.Background(), nil, "docker", "service", "logs", "--tail", "25", swarmStack+"_"+svc)
				t.Logf("%s log (last lines of each task):\n%s", svc, out)
			}
		}
		_, _ = output(context.Background(), nil, "docker", "stack", "rm", swarmStack)
		// The stack's networks and volumes (docker stack rm keeps volumes) go once its
		// tasks are gone, the bridges after their shutdown delay: nothing of the test
		// stays, and the next run needs the names.
		// On a loaded machine the engine takes its time removing the tasks' containers
		// (a clean-clone CI run once needed more than 90 s): wait up to 3 minutes.
		deadline := time.Now().Add(3 * time.Minute)
		var nets, vols string
		for time.Now().Before(deadline) {
			nets, _ = output(context.Background(), nil, "docker", "network", "ls", "-q", "--filter", "label=com.docker.stack.namespace="+swarmStack)
			vols, _ = output(context.Background(), nil, "docker", "volume", "ls", "-q", "--filter", "name="+swarmStack+"_")
			if v := strings.Fields(vols); len(v) > 0 {
				_, _ = output(context.Background(), nil, "docker", append([]string{"volume", "rm", "-f"}, v...)...)
			} else if strings.TrimSpace(nets) == "" {
				return
			}
			time.Sleep(time.Second)
		}
		tasks, _ := output(context.Background(), nil, "docker", "ps", "-a", "--filter", "label=com.docker.stack.namespace="+swarmStack, "--format", "{{.Names}} {{.Status}}")
		t.Errorf("the swarm stack's networks or volumes were still there 3 minutes after docker stack rm: networks %q, volumes %q; its containers:\n%s",
			strings.Fields(nets), strings.Fields(vols), tasks)
	})
	t0 := time.Now()
	out, err := sw.just(ctx, append([]string{"swarm-deploy", swarmStack, ""}, strings.Fields(services)...)...)
	if err != nil {
		t.Fatalf("just swarm-deploy: %v\n%s", err, tail(out, 40))
	}
	eventually(t, 5*time.Minute, "every service of the swarm stack has all its replicas", func() (bool, string) {
		out, _ := output(ctx, nil, "docker", "stack", "services", swarmStack, "--format", "{{.Name}} {{.Replicas}}")
		return allReplicasUp(out) && strings.Count(out, "\n") >= len(strings.Fields(services))+2, out
	})
	eventually(t, 3*time.Minute, "Traefik routes authsvc, and every bridge through mcpauth", func() (bool, string) {
		if code, body := sw.get(t, ctx, "https://auth."+domain+"/.well-known/oauth-authorization-server"); code != http.StatusOK {
			return false, fmt.Sprintf("auth metadata: %d %.200s", code, body)
		}
		for _, svc := range bridges {
			code, body := sw.get(t, ctx, sw.mcpURL(svc))
			if code != http.StatusUnauthorized {
				return false, fmt.Sprintf("%s: %d %.200s", svc, code, body)
			}
		}
		return true, ""
	})
	// Ready when a client gets through: right after the tasks start, Docker's DNS on the
	// overlay networks may not answer yet (authsvc cannot find Redis, the plugin cannot
	// fetch the JWKS: 503).
	// One OAuth client per bridge for all attempts (a token is for one bridge): each
	// new client would register again, and registrations are rate-limited.
	probes := map[string]*auth.AuthorizationCodeHandler{}
	for _, svc := range bridges {
		probes[svc] = sw.oauthClient(t)
	}
	eventually(t, 3*time.Minute, "an OAuth client gets through to every bridge", func() (bool, string) {
		for _, svc := range bridges {
			cs, err := sw.tryConnect(ctx, svc, probes[svc], "")
			if err != nil {
				return false, fmt.Sprintf("%s: %v", svc, err)
			}
			_ = cs.Close()
		}
		return true, ""
	})
	timings["the swarm stack deployed and ready"] = time.Since(t0)
	return &sw
}

// allReplicasUp reports whether every "n/m" in docker stack services' output has n == m.
func allReplicasUp(out string) bool {
	m := regexp.MustCompile(`(\d+)/(\d+)`).FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return false
	}
	for _, x := range m {
		if x[1] != x[2] {
			return false
		}
	}
	return true
}

// connectAt is connect at a pinned protocol version ("" lets the client choose).
func (s *stack) connectAt(t *testing.T, ctx context.Context, svc string, h *auth.AuthorizationCodeHandler, version string) *mcp.ClientSession {
	t.Helper()
	cs, err := s.tryConnect(ctx, svc, h, version)
	if err != nil {
		t.Fatalf("connect to %s at %q: %v", s.mcpURL(svc), version, err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func (s *stack) tryConnect(ctx context.Context, svc string, h *auth.AuthorizationCodeHandler, version string) (*mcp.ClientSession, error) {
	tr := &mcp.StreamableClientTransport{Endpoint: s.mcpURL(svc), HTTPClient: s.client, OAuthHandler: h}
	c := mcp.NewClient(&mcp.Implementation{Name: "mcp-oauth-gateway-swarm-test", Version: "1.0.0"}, nil)
	return c.Connect(ctx, tr, &mcp.ClientSessionOptions{ProtocolVersion: version})
}

// tasksThatServed counts the tasks of svc whose log has a request of session sid.
func tasksThatServed(t *testing.T, ctx context.Context, svc, sid string) int {
	t.Helper()
	ids, err := output(ctx, nil, "docker", "service", "ps", "-q", "--filter", "desired-state=running", swarmStack+"_"+svc)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, id := range strings.Fields(ids) {
		log, _ := output(ctx, nil, "docker", "service", "logs", "--raw", id)
		if strings.Contains(log, `"session":"`+sid[:8]+`"`) {
			n++
		}
	}
	return n
}

// peerLists returns, for each running task of svc, how many replicas its last
// "replicas sharing users" log line named (0 when it logged none).
func peerLists(t *testing.T, ctx context.Context, svc string) []int {
	t.Helper()
	ids, err := output(ctx, nil, "docker", "service", "ps", "-q", "--filter", "desired-state=running", swarmStack+"_"+svc)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, id := range strings.Fields(ids) {
		log, _ := output(ctx, nil, "docker", "service", "logs", "--raw", id)
		n := 0
		for _, line := range strings.Split(log, "\n") {
			var rec struct {
				Msg      string   `json:"msg"`
				Replicas []string `json:"replicas"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "replicas sharing users" {
				n = len(rec.Replicas)
			}
		}
		out = append(out, n)
	}
	return out
}

// killTask kills (SIGKILL) the container of one running task of svc and returns it.
func killTask(t *testing.T, ctx context.Context, svc string) (id string, ips []string) {
	t.Helper()
	ids, err := output(ctx, nil, "docker", "ps", "-q", "--filter", "label=com.docker.swarm.service.name="+swarmStack+"_"+svc)
	if err != nil || len(strings.Fields(ids)) < 2 {
		t.Fatalf("%s: want two running tasks, docker ps gave %q (%v)", svc, ids, err)
	}
	id = strings.Fields(ids)[0]
	out, err := output(ctx, nil, "docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", id)
	if err != nil {
		t.Fatalf("docker inspect %s: %v\n%s", id, err, out)
	}
	ips = strings.Fields(out)
	if out, err := output(ctx, nil, "docker", "kill", id); err != nil {
		t.Fatalf("docker kill %s: %v\n%s", id, err, out)
	}
	return id, ips
}

// register registers a client at authsvc through Traefik every 150 ms for d and counts
// the outcomes by status code (or transport error).
func register(ctx context.Context, s *stack, d time.Duration) map[string]int {
	seen := map[string]int{}
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(150 * time.Millisecond) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://auth."+domain+"/register",
			strings.NewReader(registerBody))
		if err != nil {
			seen[shortErr(err)]++
			continue
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.client.Do(req)
		if err != nil {
			seen[shortErr(err)]++
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		seen[strconv.Itoa(resp.StatusCode)]++
	}
	return seen
}

// sessionOwner reads the replica URL a session id names.
func sessionOwner(sid string) string {
	parts := strings.Split(sid, ".")
	if len(parts) != 3 {
		return "(no replica in the id)"
	}
	u, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "(malformed)"
	}
	return string(u)
}

// shortErr names an error by its first line, without request-specific detail.
func shortErr(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i > 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// checkNoSecretValues fails when a secret of the env file (REDIS_PASSWORD,
// REVOCATION_FEED_TOKEN, SESSION_SECRET, IDENTITY_SECRET, GITHUB_CLIENT_SECRET) appears
// in the swarm stack's service definitions or its containers' configuration, and when
// the stack has no Swarm secrets at all.
func checkNoSecretValues(t *testing.T, ctx context.Context, envFile string) {
	t.Helper()
	env, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	secretNames := []string{"REDIS_PASSWORD", "REVOCATION_FEED_TOKEN", "SESSION_SECRET", "IDENTITY_SECRET", "GITHUB_CLIENT_SECRET"}
	values := map[string]string{}
	for _, line := range strings.Split(string(env), "\n") {
		k, v, _ := strings.Cut(line, "=")
		if slices.Contains(secretNames, k) && v != "" {
			values[k] = v
		}
	}
	if len(values) != len(secretNames) {
		t.Fatalf("the env file has %d of the %d secrets", len(values), len(secretNames))
	}
	services, err := output(ctx, nil, "docker", "service", "ls", "-q", "--filter", "label=com.docker.stack.namespace="+swarmStack)
	if err != nil || len(strings.Fields(services)) == 0 {
		t.Fatalf("docker service ls: %q (%v)", services, err)
	}
	containers, err := output(ctx, nil, "docker", "ps", "-q", "--filter", "label=com.docker.stack.namespace="+swarmStack)
	if err != nil || len(strings.Fields(containers)) == 0 {
		t.Fatalf("docker ps: %q (%v)", containers, err)
	}
	for what, args := range map[string][]string{
		"the services (docker service inspect)": append([]string{"service", "inspect"}, strings.Fields(services)...),
		"the containers (docker inspect)":       append([]string{"inspect"}, strings.Fields(containers)...),
	} {
		out, err := output(ctx, nil, "docker", args...)
		if err != nil {
			t.Fatalf("docker %s: %v", args[0], err)
		}
		for k, v := range values {
			if strings.Contains(out, v) {
				t.Errorf("%s show the value of %s", what, k)
			}
		}
	}
	secrets, err := output(ctx, nil, "docker", "secret", "ls", "--format", "{{.Name}}", "--filter", "label=com.docker.stack.namespace="+swarmStack)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"github_client_secret_", "redis_password_", "redis_users_acl_", "mcpbridge_identity_secret_", "mcpauth-memory_identitysecret_", "mcpauth-memory_revocationtoken_", "mcpauth-everything_identitysecret_", "revocation_feed_token_", "session_secret_"} {
		if !strings.Contains(secrets, swarmStack+"_"+want) {
			t.Errorf("no Swarm secret %s…; the stack's secrets: %s", swarmStack+"_"+want, strings.Fields(secrets))
		}
	}
}

// checkNoHostPaths fails when a service of the swarm stack bind-mounts a path of the
// machine other than the Docker socket (a task on another node would not find it).
func checkNoHostPaths(t *testing.T, ctx context.Context) {
	t.Helper()
	out, err := output(ctx, nil, "docker", "service", "ls", "--format", "{{.Name}}", "--filter", "label=com.docker.stack.namespace="+swarmStack)
	if err != nil {
		t.Fatal(err)
	}
	configs := 0
	for _, svc := range strings.Fields(out) {
		spec, err := output(ctx, nil, "docker", "service", "inspect", "--format", "{{json .Spec.TaskTemplate.ContainerSpec}}", svc)
		if err != nil {
			t.Fatalf("docker service inspect %s: %v", svc, err)
		}
		var cs struct {
			Mounts  []struct{ Type, Source, Target string }
			Configs []struct{ File struct{ Name string } }
		}
		if err := json.Unmarshal([]byte(spec), &cs); err != nil {
			t.Fatalf("%s: %v: %s", svc, err, spec)
		}
		for _, m := range cs.Mounts {
			if m.Type == "bind" && m.Source != "/var/run/docker.sock" {
				t.Errorf("%s bind-mounts %s (at %s) from the deploying machine", svc, m.Source, m.Target)
			}
		}
		configs += len(cs.Configs)
	}
	if configs < 5 {
		t.Errorf("the stack's services mount %d Swarm configs; Traefik alone should have its configuration and the plugin's files", configs)
	}
}
