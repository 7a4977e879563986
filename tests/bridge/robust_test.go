package bridge

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/tests/internal/mcpservers"
)

// longCall runs for 30 s, with a progress notification every second.
const longCall = `{"jsonrpc":"2.0","id":"long","method":"tools/call","params":{"name":"trigger-long-running-operation","arguments":{"duration":30,"steps":30},"_meta":{"progressToken":"lp"}}}`

// postEvents POSTs body and delivers the data of each event of the SSE answer; the
// channel closes when the answer ends.
func postEvents(t *testing.T, b *bridge, header map[string]string, body string) <-chan string {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	req, err := http.NewRequestWithContext(c, "POST", b.URL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("POST: %v", err)
	}
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		t.Fatalf("POST: status %d content type %q, want an event stream", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := make(chan string, 256)
	go func() {
		defer cancel()
		defer close(events)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data:"); ok && strings.TrimSpace(data) != "" {
				events <- strings.TrimSpace(data)
			}
		}
	}()
	return events
}

// next waits for the next event.
func next(t *testing.T, events <-chan string, what string) string {
	t.Helper()
	select {
	case e, ok := <-events:
		if !ok {
			t.Fatalf("stream ended while waiting for %s", what)
		}
		return e
	case <-time.After(60 * time.Second):
		t.Fatalf("no %s within 60s", what)
	}
	return ""
}

// drain returns the remaining events once the stream ends.
func drain(t *testing.T, events <-chan string) []string {
	t.Helper()
	var out []string
	deadline := time.After(60 * time.Second)
	for {
		select {
		case e, ok := <-events:
			if !ok {
				return out
			}
			out = append(out, e)
		case <-deadline:
			t.Fatalf("stream did not end within 60s (got %v)", out)
		}
	}
}

// TestChildCrash: a child killed mid-request ends its session; the pending request gets
// a JSON-RPC error and the stream ends; later use gets 404.
func TestChildCrash(t *testing.T) {
	b := startBridge(t, nil, mcpservers.Everything(t))
	sid := initSession(t, b, "alice")
	pids := b.childPIDs()
	if len(pids) != 1 {
		t.Fatalf("want one child pid in the log, got %v", pids)
	}
	// The child's stderr is in the bridge's log, with the session it belongs to.
	b.waitLog(t, `"msg":"child stderr","session":"`+sid[:8]+`","line":"Starting default (STDIO) server..."`, 30*time.Second)
	events := postEvents(t, b, sessionHeaders("alice", sid), longCall)
	// Other server messages (list_changed) may come first; the progress shows the call runs.
	for e := next(t, events, "progress"); !strings.Contains(e, "notifications/progress"); e = next(t, events, "progress") {
	}
	pid, _ := strconv.Atoi(pids[0])
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("killing the child: %v", err)
	}
	rest := drain(t, events)
	if len(rest) == 0 {
		t.Fatal("the stream ended without an answer to the pending request")
	}
	last := rest[len(rest)-1]
	if code, _ := rpcError(last); code != -32000 || !strings.Contains(last, `"id":"long"`) {
		t.Errorf("last event = %s, want JSON-RPC error -32000 for id \"long\"", last)
	}
	b.waitLog(t, `"msg":"session ended"`, 30*time.Second)
	if r := do(t, "POST", b.URL, sessionHeaders("alice", sid), `{"jsonrpc":"2.0","id":1,"method":"ping"}`); r.Status != http.StatusNotFound {
		t.Errorf("POST after the crash: status %d, want 404", r.Status)
	}
	waitGone(t, pids, 15*time.Second)
}

// TestRequestTimeout: a request the child does not answer in time gets an error; the
// child is told to cancel it and the session stays usable.
func TestRequestTimeout(t *testing.T) {
	b := startBridge(t, []string{"--request-timeout", "1500ms"}, mcpservers.Everything(t))
	sid := initSession(t, b, "alice")
	start := time.Now()
	r := do(t, "POST", b.URL, sessionHeaders("alice", sid, "Accept", "application/json"),
		`{"jsonrpc":"2.0","id":"slow","method":"tools/call","params":{"name":"trigger-long-running-operation","arguments":{"duration":20,"steps":2}}}`)
	if code, msg := rpcError(r.Body); r.Status != 200 || code != -32001 || !strings.Contains(msg, "timed out") || !strings.Contains(r.Body, `"id":"slow"`) {
		t.Fatalf("status %d body %s, want JSON-RPC error -32001 for id \"slow\"", r.Status, r.Body)
	}
	if elapsed := time.Since(start); elapsed > 15*time.Second {
		t.Errorf("the timeout answer took %s", elapsed)
	}
	b.waitLog(t, `"status":"timeout"`, 10*time.Second)
	r = do(t, "POST", b.URL, sessionHeaders("alice", sid, "Accept", "application/json"),
		`{"jsonrpc":"2.0","id":"after","method":"tools/call","params":{"name":"echo","arguments":{"message":"still here"}}}`)
	if !strings.Contains(r.Body, "still here") {
		t.Errorf("request after a timeout: status %d body %s", r.Status, r.Body)
	}
}

// TestIdleReaping: a session nobody uses is ended and its child stopped.
func TestIdleReaping(t *testing.T) {
	b := startBridge(t, []string{"--idle-timeout", "1s"}, mcpservers.GoEverything(t))
	sid := initSession(t, b, "alice")
	pids := b.childPIDs()
	b.waitLog(t, `"reason":"idle timeout"`, 30*time.Second)
	waitGone(t, pids, 15*time.Second)
	if r := do(t, "POST", b.URL, sessionHeaders("alice", sid), `{"jsonrpc":"2.0","id":1,"method":"ping"}`); r.Status != http.StatusNotFound {
		t.Errorf("POST to a reaped session: status %d, want 404", r.Status)
	}
}

// TestMaxSessions: at the per-user limit a new session ends the user's least recently
// used idle one (its next request gets 404, which clients answer by initializing again)
// instead of locking the user out; past the global limit, initialize gets 503 with a
// clear message; closing a session frees its slot.
func TestMaxSessions(t *testing.T) {
	b := startBridge(t, []string{"--max-sessions", "3", "--max-sessions-per-user", "2"}, mcpservers.GoEverything(t))
	first := initSession(t, b, "a")
	second := initSession(t, b, "a")
	// Use the first again: the second is now the least recently used.
	if r := do(t, "POST", b.URL, sessionHeaders("a", first), `{"jsonrpc":"2.0","id":2,"method":"ping"}`); r.Status != http.StatusOK {
		t.Fatalf("ping on the first session: %d %s", r.Status, r.Body)
	}
	third := initSession(t, b, "a")
	if r := do(t, "POST", b.URL, sessionHeaders("a", second), `{"jsonrpc":"2.0","id":3,"method":"ping"}`); r.Status != http.StatusNotFound {
		t.Errorf("the least recently used session after a third one: status %d, want 404", r.Status)
	}
	for _, sid := range []string{first, third} {
		if r := do(t, "POST", b.URL, sessionHeaders("a", sid), `{"jsonrpc":"2.0","id":4,"method":"ping"}`); r.Status != http.StatusOK {
			t.Errorf("session %s after the eviction: status %d %s", sid[:8], r.Status, r.Body)
		}
	}
	initSession(t, b, "b")
	r := do(t, "POST", b.URL, jsonHeaders("X-User-Id", "c"), initBody)
	if _, msg := rpcError(r.Body); r.Status != http.StatusServiceUnavailable || !strings.Contains(msg, "session limit") || r.Header.Get("Retry-After") == "" {
		t.Fatalf("fourth session: status %d Retry-After %q body %s, want 503 with a message and Retry-After", r.Status, r.Header.Get("Retry-After"), r.Body)
	}
	if r := do(t, "DELETE", b.URL, sessionHeaders("a", first), ""); r.Status != http.StatusNoContent {
		t.Fatalf("DELETE: %d", r.Status)
	}
	if r := do(t, "POST", b.URL, jsonHeaders("X-User-Id", "c"), initBody); r.Status != http.StatusOK {
		t.Errorf("initialize after freeing a slot: status %d, body %s", r.Status, r.Body)
	}
}

// TestConcurrentSessions: 100 sessions at once, each asking for an answer only it can
// recognise, all with the same JSON-RPC ids: no answer reaches the wrong session.
func TestConcurrentSessions(t *testing.T) {
	const n = 100
	// No spares: their pipes would count among the descriptors compared below.
	b := startBridge(t, []string{"--max-sessions", "200", "--spares", "0"}, mcpservers.GoEverything(t))
	baseFDs := b.openFDs(t)
	var wg sync.WaitGroup
	errs := make(chan string, n)
	sem := make(chan struct{}, 25) // bounded start-up burst on a small machine
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			user := fmt.Sprintf("user-%d", i)
			sid := initSession(t, b, user)
			<-sem
			for round := range 3 {
				token := fmt.Sprintf("s%d-r%d", i, round)
				r := do(t, "POST", b.URL, sessionHeaders(user, sid),
					`{"jsonrpc":"2.0","id":2,"method":"prompts/get","params":{"name":"test_prompt_with_arguments","arguments":{"arg1":"`+token+`","arg2":"x"}}}`)
				body := r.Body
				if r.Header.Get("Content-Type") == "text/event-stream" {
					body = strings.Join(sseMessages(r.Body), "\n")
				}
				if r.Status != 200 || !strings.Contains(body, token) || !strings.Contains(body, `"id":2`) {
					errs <- fmt.Sprintf("session %d round %d: status %d body %s", i, round, r.Status, body)
					return
				}
				for j := range n {
					if j != i && strings.Contains(body, fmt.Sprintf(`"s%d-r`, j)) {
						errs <- fmt.Sprintf("session %d got session %d's answer", i, j)
					}
				}
			}
			if r := do(t, "DELETE", b.URL, sessionHeaders(user, sid), ""); r.Status != http.StatusNoContent {
				errs <- fmt.Sprintf("session %d: DELETE %d", i, r.Status)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	waitGone(t, b.childPIDs(), 30*time.Second)
	// No pipe of any ended session stays open in the bridge.
	deadline := time.Now().Add(30 * time.Second)
	for {
		http.DefaultClient.CloseIdleConnections()
		fds := b.openFDs(t)
		if fds <= baseFDs {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bridge has %d open file descriptors after every session ended, %d before", fds, baseFDs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// openFDs counts the bridge process's open file descriptors.
func (b *bridge) openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", b.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("reading the bridge's fds: %v", err)
	}
	return len(entries)
}

// TestGracefulShutdown: SIGTERM ends every session (idle, streaming, mid-request), the
// bridge exits 0 and no child process is left.
func TestGracefulShutdown(t *testing.T) {
	b := startBridge(t, nil, mcpservers.Everything(t))
	idle := initSession(t, b, "a")
	_ = idle
	streaming := initSession(t, b, "b")
	get := openStream(t, b, "b", streaming)
	defer get.Close()
	busy := initSession(t, b, "c")
	events := postEvents(t, b, sessionHeaders("c", busy), longCall)
	next(t, events, "progress")
	pids := b.childPIDs()
	if len(pids) != 3 {
		t.Fatalf("want 3 child pids, got %v", pids)
	}
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the bridge did not exit within 30s of SIGTERM")
	}
	if b.err != nil {
		t.Errorf("bridge exit: %v, want success", b.err)
	}
	rest := drain(t, events)
	if len(rest) == 0 || !strings.Contains(rest[len(rest)-1], `"id":"long"`) {
		t.Errorf("the pending request got no answer before shutdown: %v", rest)
	}
	waitGone(t, pids, 5*time.Second)
	if !strings.Contains(b.logs.String(), `"msg":"stopped"`) {
		t.Error("no \"stopped\" log line")
	}
	// The GET stream was closed by the bridge.
	select {
	case _, ok := <-get.events:
		for ok {
			_, ok = <-get.events
		}
	case <-time.After(10 * time.Second):
		t.Error("the GET stream stayed open after shutdown")
	}
}

// TestShutdownDelay: with --shutdown-delay, a bridge told to stop first fails its
// readiness and goes on serving requests (a load balancer still sends some until it
// has dropped the replica), then shuts down as usual.
func TestShutdownDelay(t *testing.T) {
	b := startBridge(t, []string{"--shutdown-delay", "4s"}, mcpservers.Everything(t))
	sid := initSession(t, b, "alice")
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Draining has begun once /ready says so.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := do(t, "GET", b.Base+"/ready", nil, "")
		if r.Status == http.StatusServiceUnavailable && strings.Contains(r.Body, "shutting down") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/ready did not start failing after SIGTERM: %d %s", r.Status, r.Body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := do(t, "POST", b.URL, sessionHeaders("alice", sid, "Accept", "application/json"),
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"still here"}}}`)
	if r.Status != http.StatusOK || !strings.Contains(r.Body, "still here") {
		t.Errorf("a request while draining: %d %s, want it served", r.Status, r.Body)
	}
	r = do(t, "POST", b.URL, modernHeaders("bob", "server/discover", ""), modernBody("d", "server/discover", ""))
	if r.Status != http.StatusOK {
		t.Errorf("a 2026-07-28 request while draining: %d %s, want it served", r.Status, r.Body)
	}
	select {
	case <-b.done:
	case <-time.After(40 * time.Second):
		t.Fatal("the bridge did not exit after its shutdown delay")
	}
	if b.err != nil {
		t.Errorf("bridge exit: %v, want success", b.err)
	}
	if !strings.Contains(b.logs.String(), "draining") {
		t.Error("no draining log line")
	}
}

// TestNoTokenReachesChild: request headers never become part of the child's
// environment or arguments.
func TestNoTokenReachesChild(t *testing.T) {
	b := startBridge(t, nil, mcpservers.Everything(t), "BRIDGE_TEST_MARKER=operator-config")
	h := jsonHeaders("X-User-Id", "alice", "Authorization", "Bearer secret-token-xyz", "Cookie", "sid=secret-cookie")
	r := do(t, "POST", b.URL, h, initBody)
	sid := r.Header.Get("Mcp-Session-Id")
	if r.Status != 200 || sid == "" {
		t.Fatalf("initialize: %d %s", r.Status, r.Body)
	}
	h = sessionHeaders("alice", sid, "Accept", "application/json", "Authorization", "Bearer secret-token-xyz")
	r = do(t, "POST", b.URL, h, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get-env","arguments":{}}}`)
	if !strings.Contains(r.Body, "operator-config") {
		t.Fatalf("get-env did not show the bridge's own environment: %s", r.Body)
	}
	if strings.Contains(r.Body, "secret-token-xyz") || strings.Contains(r.Body, "secret-cookie") {
		t.Errorf("a request header reached the child's environment: %s", r.Body)
	}
	for _, pid := range b.childPIDs() {
		cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		if strings.Contains(string(cmdline), "secret") {
			t.Errorf("child %s command line carries a secret: %q", pid, cmdline)
		}
	}
	if strings.Contains(b.logs.String(), "secret-token-xyz") {
		t.Error("the token appears in the bridge log")
	}
}

// sseEvent is one event of a stream: its id and data.
type sseEvent struct{ id, data string }

// readEvents reads events from body until want of them (with data) have been seen, or
// the body ends.
func readEvents(t *testing.T, sc *bufio.Scanner, want int) []sseEvent {
	t.Helper()
	var out []sseEvent
	var cur sseEvent
	for len(out) < want && sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.data != "" {
				out = append(out, cur)
			}
			cur = sseEvent{id: cur.id}
		case strings.HasPrefix(line, "id:"):
			cur.id = strings.TrimSpace(strings.TrimPrefix(line, "id:"))
		case strings.HasPrefix(line, "data:"):
			cur.data = strings.TrimSpace(strings.TrimPrefix(line, "data:"))
		}
	}
	return out
}

// TestResumeAfterDisconnect: a client whose request stream drops comes back with GET and
// Last-Event-ID and receives the rest of the stream, nothing twice, ending with the
// response; the request was not cancelled in the meantime.
func TestResumeAfterDisconnect(t *testing.T) {
	b := startBridge(t, nil, mcpservers.Everything(t))
	sid := initSession(t, b, "alice")
	c, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(c, "POST", b.URL, strings.NewReader(
		`{"jsonrpc":"2.0","id":"r1","method":"tools/call","params":{"name":"trigger-long-running-operation","arguments":{"duration":3,"steps":6},"_meta":{"progressToken":"rp"}}}`))
	for k, v := range sessionHeaders("alice", sid) {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var last sseEvent
	sc := bufio.NewScanner(resp.Body)
	for !strings.Contains(last.data, `"progress":1`) {
		events := readEvents(t, sc, 1)
		if len(events) == 0 {
			t.Fatal("the stream ended before the first progress")
		}
		last = events[0]
	}
	if last.id == "" {
		t.Fatalf("event %s has no id", last.data)
	}
	cancel() // the connection drops
	resp.Body.Close()

	get, _ := http.NewRequest("GET", b.URL, nil)
	for k, v := range map[string]string{"X-User-Id": "alice", "Mcp-Session-Id": sid, "Accept": "text/event-stream",
		"MCP-Protocol-Version": "2025-11-25", "Last-Event-ID": last.id} {
		get.Header.Set(k, v)
	}
	resp2, err := http.DefaultClient.Do(get)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	if resp2.StatusCode != 200 {
		t.Fatalf("resume: status %d", resp2.StatusCode)
	}
	rest := readEvents(t, bufio.NewScanner(resp2.Body), 100)
	if len(rest) == 0 {
		t.Fatal("nothing after resuming")
	}
	for _, e := range rest {
		if strings.Contains(e.data, `"progress":1,`) || e.id == last.id {
			t.Errorf("event %s %s was sent twice", e.id, e.data)
		}
	}
	if final := rest[len(rest)-1]; !strings.Contains(final.data, `"id":"r1"`) || !strings.Contains(final.data, "completed") {
		t.Errorf("the resumed stream ended with %s, want the response to r1", final.data)
	}
	r := do(t, "GET", b.URL, map[string]string{"X-User-Id": "alice", "Mcp-Session-Id": sid, "Accept": "text/event-stream", "Last-Event-ID": "e999_1"}, "")
	if r.Status != http.StatusBadRequest {
		t.Errorf("unknown Last-Event-ID: status %d, want 400", r.Status)
	}
}

// TestNoLockOut: ordinary client behaviour never locks a user out. One user makes 200
// Inspector-style calls (initialize, one call, never DELETE) and 50 mcp-remote-style
// starts (initialize, a GET stream, a call, then the connection dropped without
// DELETE) against one bridge with the default per-user limit: every call succeeds, and
// the user never holds more children than the limit (plus the spares).
func TestNoLockOut(t *testing.T) {
	b := startBridge(t, []string{"--max-sessions-per-user", "8", "--spares", "1"}, mcpservers.GoEverything(t))
	call := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"test_simple_text","arguments":{}}}`
	for i := range 250 {
		sid := initSession(t, b, "alice")
		var s *stream
		if i >= 200 {
			s = openStream(t, b, "alice", sid)
		}
		r := do(t, "POST", b.URL, sessionHeaders("alice", sid, "Accept", "application/json"), call)
		if r.Status != http.StatusOK || !strings.Contains(r.Body, "simple text") {
			t.Fatalf("call %d: status %d body %s", i, r.Status, r.Body)
		}
		if s != nil {
			s.Close()
		}
	}
	alive := 0
	for _, pid := range b.childPIDs() {
		if processAlive(pid) {
			alive++
		}
	}
	if n := alive; n > 8+1+1 {
		t.Errorf("%d children after 250 abandoned sessions, want at most the limit 8, a spare and one on its way out", n)
	}
}

// TestUnreadStream: a client that opens a GET stream and never reads it or sends
// anything else does not keep its session and child: the idle timeout ends both, and
// the stream with them.
func TestUnreadStream(t *testing.T) {
	b := startBridge(t, []string{"--idle-timeout", "1s", "--spares", "0"}, mcpservers.GoEverything(t))
	sid := initSession(t, b, "alice")
	pids := b.childPIDs()
	// A raw connection that sends the GET and never reads a byte of the answer.
	conn, err := net.Dial("tcp", strings.TrimPrefix(b.Base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /mcp HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nX-User-Id: alice\r\n"+
		"Mcp-Session-Id: %s\r\nMCP-Protocol-Version: 2025-11-25\r\n\r\n", sid)
	waitGone(t, pids, 15*time.Second)
	if r := do(t, "POST", b.URL, sessionHeaders("alice", sid), `{"jsonrpc":"2.0","id":1,"method":"ping"}`); r.Status != http.StatusNotFound {
		t.Errorf("POST to the reaped session: %d, want 404", r.Status)
	}
	// The bridge ended the stream: what it sent ends (chunked encoding's last chunk).
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, _ := io.ReadAll(conn)
	if !strings.Contains(string(got), "text/event-stream") || !strings.HasSuffix(string(got), "0\r\n\r\n") {
		t.Errorf("the unread stream was not ended by the bridge: %q", got)
	}
}
