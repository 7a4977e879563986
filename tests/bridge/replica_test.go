package bridge

//lint:file-ignore SA1019 sampling is deprecated at 2026-07-28 but 2025 servers still ask for it: the multi round-trip retry it causes is what this test sends to another replica.

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-oauth-gateway/gateway/internal/contract"
	"github.com/mcp-oauth-gateway/gateway/tests/internal/mcpservers"
	"github.com/mcp-oauth-gateway/gateway/tests/internal/proxytest"
	"github.com/mcp-oauth-gateway/gateway/tests/internal/traefiktest"
)

// roundRobin is a load balancer in front of bridge replicas that knows nothing of
// sessions (as Traefik's, for MCP clients that keep no cookies): each request goes to
// the next live replica. It signs the identity headers as the mcpauth plugin does.
type roundRobin struct {
	srv     *httptest.Server
	secret  []byte
	mu      sync.Mutex
	targets []*url.URL
	next    int
	hits    []string // the replica each request went to, in order
	getsTo  *url.URL // when set, every GET (a standalone stream) goes to this replica
	gets    int      // GETs sent on
}

func newRoundRobin(t *testing.T, secret []byte, replicas ...*bridge) *roundRobin {
	lb := &roundRobin{secret: secret}
	for _, b := range replicas {
		u, _ := url.Parse(b.Base)
		lb.targets = append(lb.targets, u)
	}
	lb.srv = httptest.NewServer(http.HandlerFunc(lb.serve))
	t.Cleanup(lb.srv.Close)
	return lb
}

func (lb *roundRobin) serve(w http.ResponseWriter, r *http.Request) {
	signIdentity(lb.secret, r.Header, r.Method, r.Host, r.URL.Path)
	for range lb.targets {
		lb.mu.Lock()
		target := lb.targets[lb.next%len(lb.targets)]
		if r.Method == http.MethodGet && lb.getsTo != nil {
			target = lb.getsTo
		} else {
			lb.next++
		}
		lb.mu.Unlock()
		// A replica that refuses connections is skipped, as a load balancer drops a
		// task that is gone.
		c, err := net.DialTimeout("tcp", target.Host, time.Second)
		if err != nil {
			continue
		}
		c.Close()
		lb.mu.Lock()
		lb.hits = append(lb.hits, target.Host)
		if r.Method == http.MethodGet {
			lb.gets++
		}
		lb.mu.Unlock()
		(&httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				proxytest.BufferBody(pr)
				pr.SetURL(target)
				pr.Out.Host = pr.In.Host
			},
			FlushInterval: -1,
		}).ServeHTTP(w, r)
		return
	}
	http.Error(w, "no replica", http.StatusBadGateway)
}

// spread reports on how many distinct replicas the requests since hit n landed.
func (lb *roundRobin) spread(from int) int {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	seen := map[string]bool{}
	for _, h := range lb.hits[from:] {
		seen[h] = true
	}
	return len(seen)
}

func (lb *roundRobin) count() int {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return len(lb.hits)
}

// signIdentity adds the edge's signature over h's identity headers.
func signIdentity(secret []byte, h http.Header, method, host, path string) {
	h.Set(contract.HeaderIdentitySignature, contract.SignIdentity(secret, time.Now().Unix(), method, host, path, contract.IdentityValues(h)))
}

// startReplicas starts n replicas of one bridge on fixed loopback ports, each knowing
// its own URL, sharing the identity secret; with sharePeers they also share the
// 2026-07-28 users (--peers lists them all).
func startReplicas(t *testing.T, n int, secret string, sharePeers bool) []*bridge {
	var addrs []string
	for range n {
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", traefiktest.FreePort(t)))
	}
	var peers []string
	for _, addr := range addrs {
		peers = append(peers, "http://"+addr)
	}
	var out []*bridge
	for _, addr := range addrs {
		args := []string{"--listen", addr, "--replica-url", "http://" + addr}
		if sharePeers {
			args = append(args, "--peers", strings.Join(peers, ","))
		}
		out = append(out, startBridge(t, args, mcpservers.Everything(t), "MCPBRIDGE_IDENTITY_SECRET="+secret))
	}
	return out
}

// ownerOf reads the replica URL a session id names (its middle part).
func ownerOf(t *testing.T, sid string) string {
	parts := strings.Split(sid, ".")
	if len(parts) != 3 {
		t.Fatalf("session id %q does not name a replica", sid)
	}
	u, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return string(u)
}

// TestReplicas runs two replicas of a bridge behind a load balancer that sends each
// request to the next replica. A 2025 session lives in one replica's child, yet every
// request of it succeeds wherever it lands (the other replica forwards it); 2026-07-28
// requests are served by either, and a multi round-trip retry reaches the replica
// whose child waits for it. A session id naming an address of a client's choosing is
// never followed. When a replica stops, its sessions answer 404 (clients start new
// ones) and the other replica serves on.
func TestReplicas(t *testing.T) {
	secret := "identity-secret-" + strings.Repeat("r", 24)
	reps := startReplicas(t, 2, secret, false)
	lb := newRoundRobin(t, []byte(secret), reps...)
	front := &bridge{URL: lb.srv.URL + "/mcp", Base: lb.srv.URL}

	var sampled atomic.Int32
	opts := &mcp.ClientOptions{
		CreateMessageHandler: func(context.Context, *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			sampled.Add(1)
			return &mcp.CreateMessageResult{Model: "m", Role: "assistant", Content: &mcp.TextContent{Text: "sampled answer 42"}}, nil
		},
	}

	legacy := connectAt(t, front, "alice", opts, "2025-11-25")
	owner := ownerOf(t, legacy.ID())
	t.Run("2025 session on either replica", func(t *testing.T) {
		from := lb.count()
		for i := range 6 {
			if err := echo(t, legacy, i); err != nil {
				t.Fatalf("call %d of the session: %v", i, err)
			}
		}
		if _, err := legacy.ListTools(ctx(t), nil); err != nil {
			t.Fatalf("ListTools: %v", err)
		}
		if n := lb.spread(from); n != 2 {
			t.Fatalf("the session's requests reached %d replicas, want both", n)
		}
	})

	t.Run("2026-07-28 on either replica, with a multi round-trip retry", func(t *testing.T) {
		modern := connect(t, front, "alice", opts)
		if modern.ID() != "" {
			t.Fatalf("a 2026-07-28 client got a session %q", modern.ID())
		}
		for i := range 4 {
			if err := echo(t, modern, i); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
		}
		// The child asks for sampling: the bridge answers input_required with a
		// requestState, and the client's retry lands on the next replica.
		for i := range 2 {
			res, err := modern.CallTool(ctx(t), &mcp.CallToolParams{Name: "trigger-sampling-request", Arguments: map[string]any{"prompt": "hi"}})
			if err != nil {
				t.Fatalf("sampling %d: %v", i, err)
			}
			if !strings.Contains(textOf(t, res), "sampled answer 42") {
				t.Fatalf("sampling %d: result %q lacks the client's answer", i, textOf(t, res))
			}
		}
		if sampled.Load() < 2 {
			t.Errorf("the client's sampling handler ran %d times, want 2", sampled.Load())
		}
	})

	t.Run("raw requests at the replica that does not hold the session", func(t *testing.T) {
		r := do(t, "POST", front.URL, jsonHeaders("X-User-Id", "bob"), initBody)
		sid := r.Header.Get("Mcp-Session-Id")
		if r.Status != http.StatusOK || sid == "" {
			t.Fatalf("initialize: %d %s", r.Status, r.Body)
		}
		var other *bridge
		for _, b := range reps {
			if b.Base != ownerOf(t, sid) {
				other = b
			}
		}
		signed := func(method string, h map[string]string) map[string]string {
			hdr := http.Header{}
			for k, v := range h {
				hdr.Set(k, v)
			}
			u, _ := url.Parse(other.URL)
			signIdentity([]byte(secret), hdr, method, u.Host, u.Path)
			h[contract.HeaderIdentitySignature] = hdr.Get(contract.HeaderIdentitySignature)
			return h
		}
		r = do(t, "POST", other.URL, signed("POST", sessionHeaders("bob", sid)), `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
		if r.Status != http.StatusAccepted {
			t.Fatalf("initialized at the other replica: %d %s", r.Status, r.Body)
		}
		r = do(t, "POST", other.URL, signed("POST", sessionHeaders("bob", sid, "Accept", "application/json")),
			`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"via the other"}}}`)
		if r.Status != http.StatusOK || !strings.Contains(r.Body, "Echo: via the other") {
			t.Fatalf("tools/call at the other replica: %d %s", r.Status, r.Body)
		}
		// Another user cannot use bob's session from either replica.
		r = do(t, "POST", other.URL, signed("POST", sessionHeaders("mallory", sid, "Accept", "application/json")),
			`{"jsonrpc":"2.0","id":3,"method":"tools/list"}`)
		if r.Status != http.StatusNotFound {
			t.Errorf("another user's request for bob's session: %d %s, want 404", r.Status, r.Body)
		}

		// An id naming an address the client chose: the signature does not match, the
		// bridge never connects there, the session is unknown.
		trap, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer trap.Close()
		var dialed atomic.Bool
		go func() {
			for {
				c, err := trap.Accept()
				if err != nil {
					return
				}
				dialed.Store(true)
				c.Close()
			}
		}()
		parts := strings.Split(sid, ".")
		forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("http://"+trap.Addr().String())) + "." + parts[2]
		r = do(t, "POST", other.URL, signed("POST", sessionHeaders("bob", forged, "Accept", "application/json")),
			`{"jsonrpc":"2.0","id":4,"method":"tools/list"}`)
		if r.Status != http.StatusNotFound {
			t.Errorf("forged session id: %d %s, want 404", r.Status, r.Body)
		}
		time.Sleep(200 * time.Millisecond)
		if dialed.Load() {
			t.Error("the bridge connected to the address a forged session id named")
		}

		// DELETE at the other replica ends the session at its owner.
		r = do(t, "DELETE", other.URL, signed("DELETE", sessionHeaders("bob", sid)), "")
		if r.Status != http.StatusNoContent {
			t.Fatalf("DELETE at the other replica: %d %s", r.Status, r.Body)
		}
		r = do(t, "POST", front.URL, sessionHeaders("bob", sid, "Accept", "application/json"), `{"jsonrpc":"2.0","id":5,"method":"tools/list"}`)
		if r.Status != http.StatusNotFound {
			t.Errorf("after DELETE: %d %s, want 404", r.Status, r.Body)
		}
	})

	t.Run("a replica stops", func(t *testing.T) {
		var gone, survivor *bridge
		for _, b := range reps {
			if b.Base == owner {
				gone = b
			} else {
				survivor = b
			}
		}
		gone.stop(t)
		// The session's requests now all reach the survivor, which cannot reach the
		// owner: 404, as for any session that ended.
		err := echo(t, legacy, 99)
		if err == nil {
			t.Fatal("a call of a session whose replica stopped succeeded")
		}
		r := do(t, "POST", front.URL, sessionHeaders("alice", legacy.ID(), "Accept", "application/json"), `{"jsonrpc":"2.0","id":6,"method":"tools/list"}`)
		if r.Status != http.StatusNotFound {
			t.Errorf("request for the stopped replica's session: %d %s, want 404", r.Status, r.Body)
		}
		if !strings.Contains(survivor.logs.String(), "the replica that owns the session is unreachable") {
			t.Error("the survivor did not log the unreachable owner")
		}
		// A new session (what clients do on 404) and 2026-07-28 requests work.
		again := connectAt(t, front, "alice", nil, "2025-11-25")
		if ownerOf(t, again.ID()) != survivor.Base {
			t.Errorf("the new session is on %s, want the survivor %s", ownerOf(t, again.ID()), survivor.Base)
		}
		if err := echo(t, again, 100); err != nil {
			t.Fatalf("the new session: %v", err)
		}
		if err := echo(t, connect(t, front, "alice", nil), 101); err != nil {
			t.Fatalf("2026-07-28 after the stop: %v", err)
		}
	})
}

// echo calls the everything server's echo tool with "call i" and checks the answer.
func echo(t *testing.T, cs *mcp.ClientSession, i int) error {
	msg := fmt.Sprintf("call %d", i)
	res, err := cs.CallTool(ctx(t), &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": msg}})
	if err != nil {
		return err
	}
	if got := textOf(t, res); got != "Echo: "+msg {
		return fmt.Errorf("echo = %q", got)
	}
	return nil
}

// TestReplicaConfig: replicas need the identity secret (it signs the ids that name a
// replica), and a replica URL that is not one stops the bridge with a clear error.
func TestReplicaConfig(t *testing.T) {
	secret := "MCPBRIDGE_IDENTITY_SECRET=" + strings.Repeat("s", 32)
	for _, tc := range []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"--allow-unsigned-identity", "true", "--replica-url", "http://127.0.0.1:3000"}, "", "replicas need MCPBRIDGE_IDENTITY_SECRET"},
		{[]string{"--replica-url", "127.0.0.1:3000"}, secret, "want http://host:port"},
		{[]string{"--listen", "127.0.0.1:0", "--replica-url", "auto"}, secret, "has no fixed port"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, bridgeBin, append(tc.args, "--", "true")...)
		cmd.Env = append(cmd.Environ(), tc.env)
		out, err := cmd.CombinedOutput()
		cancel()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("mcpbridge %v: %v\n%s\nwant a failure containing %q", tc.args, err, out, tc.want)
		}
	}
}

// userOwner is the replica a user's 2026-07-28 requests belong to, as the bridge
// computes it (rendezvous hashing: the highest sha256(replica URL, NUL, user)); the
// test uses it to pick users owned by each replica.
func userOwner(peers []string, user string) string {
	best, bestScore := "", uint64(0)
	for _, p := range peers {
		h := sha256.Sum256([]byte(p + "\x00" + user))
		if s := binary.BigEndian.Uint64(h[:8]); best == "" || s >= bestScore {
			best, bestScore = p, s
		}
	}
	return best
}

// TestReplicasShareUsers: replicas started with --peers serve each user's 2026-07-28
// requests on one replica, whichever receives them. A subscriptions/listen stream
// opened through one replica gets the resource updates that a tools/call sent through
// the other switched on: both reached the same child (without --peers each replica
// would have used a child of its own, and the stream would get nothing). Checked for a
// user of each replica, so the stream and the call are each forwarded once. When a
// user's replica stops, the other serves that user's requests itself.
func TestReplicasShareUsers(t *testing.T) {
	secret := "identity-secret-" + strings.Repeat("s", 24)
	reps := startReplicas(t, 2, secret, true)
	via := func(b *bridge) *bridge {
		lb := newRoundRobin(t, []byte(secret), b)
		return &bridge{URL: lb.srv.URL + "/mcp", Base: lb.srv.URL}
	}
	front := []*bridge{via(reps[0]), via(reps[1])}
	peers := []string{reps[0].Base, reps[1].Base}
	users := map[string]string{} // owner → a user it owns
	for i := 0; len(users) < 2; i++ {
		u := fmt.Sprintf("user-%d", i)
		if o := userOwner(peers, u); users[o] == "" {
			users[o] = u
		}
	}

	for _, owner := range peers {
		user := users[owner]
		t.Run("a user of "+owner, func(t *testing.T) {
			r := do(t, "POST", front[0].URL, modernHeaders(user, "resources/list", ""), modernBody(1, "resources/list", ""))
			var list struct {
				Result struct {
					Resources []struct {
						URI string `json:"uri"`
					} `json:"resources"`
				} `json:"result"`
			}
			if err := json.Unmarshal([]byte(r.Body), &list); err != nil || len(list.Result.Resources) == 0 {
				t.Fatalf("resources/list: %d %s", r.Status, r.Body)
			}
			uri := list.Result.Resources[0].URI
			listen := openModernStream(t, front[0], user, modernBody("sub-"+user, "subscriptions/listen",
				fmt.Sprintf(`"notifications":{"resourceSubscriptions":[%q]}`, uri)))
			defer listen.Close()
			if ack := listen.next(t, 10*time.Second); !strings.Contains(ack, "acknowledged") {
				t.Fatalf("first event on the listen stream: %s", ack)
			}
			r = do(t, "POST", front[1].URL, modernHeaders(user, "tools/call", "toggle-subscriber-updates"),
				modernBody(2, "tools/call", `"name":"toggle-subscriber-updates","arguments":{}`))
			if r.Status != 200 || !strings.Contains(r.Body, "Started") {
				t.Fatalf("toggle-subscriber-updates through the other replica: %d %s", r.Status, r.Body)
			}
			update := listen.next(t, 15*time.Second)
			if !strings.Contains(update, `"notifications/resources/updated"`) || !strings.Contains(update, uri) {
				t.Errorf("update on the listen stream: %s", update)
			}
		})
	}

	t.Run("the owner stops", func(t *testing.T) {
		user := users[reps[1].Base]
		reps[1].stop(t)
		r := do(t, "POST", front[0].URL, modernHeaders(user, "tools/call", "echo"),
			modernBody(3, "tools/call", `"name":"echo","arguments":{"message":"still here"}`))
		if r.Status != 200 || !strings.Contains(r.Body, "Echo: still here") {
			t.Fatalf("a request of a user whose replica stopped: %d %s, want it served by the other", r.Status, r.Body)
		}
	})
}

// TestReplicaStopKeepsOtherSessions: when the replica that does not hold a 2025 session
// is killed, the session goes on: an SDK client whose GET stream the killed replica was
// forwarding resumes it through the survivor, and its calls keep succeeding.
func TestReplicaStopKeepsOtherSessions(t *testing.T) {
	secret := "identity-secret-" + strings.Repeat("k", 24)
	reps := startReplicas(t, 2, secret, false)
	lb := newRoundRobin(t, []byte(secret), reps...)
	// The initialize goes to the first replica, which holds the session; the GET
	// stream goes through the second, which forwards it.
	lb.getsTo = lb.targets[1]
	front := &bridge{URL: lb.srv.URL + "/mcp", Base: lb.srv.URL}
	legacy := connectAt(t, front, "alice", nil, "2025-11-25")
	owner := ownerOf(t, legacy.ID())
	if owner != reps[0].Base {
		t.Fatalf("the session is on %s, want the first replica %s", owner, reps[0].Base)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		lb.mu.Lock()
		gets := lb.gets
		lb.mu.Unlock()
		if gets > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the SDK opened no GET stream")
		}
		time.Sleep(50 * time.Millisecond)
	}
	lb.mu.Lock()
	lb.getsTo = nil
	lb.mu.Unlock()
	for i := range 4 {
		if err := echo(t, legacy, i); err != nil {
			t.Fatalf("call %d before the kill: %v", i, err)
		}
	}
	for _, b := range reps {
		if b.Base != owner {
			_ = b.cmd.Process.Kill()
			<-b.done
		}
	}
	for i := range 20 {
		if err := echo(t, legacy, 100+i); err != nil {
			t.Fatalf("call %d after the other replica was killed: %v", i, err)
		}
		time.Sleep(150 * time.Millisecond)
	}
}
