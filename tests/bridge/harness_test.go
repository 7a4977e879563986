// Package bridge tests the real mcpbridge binary, wrapping real MCP servers (the official
// npm servers and the Go SDK's conformance fixture), with the official Go SDK client and
// with raw HTTP requests.
package bridge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/internal/localstack"
)

// bridgeBin is the mcpbridge binary TestMain builds.
var bridgeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mcpbridge-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bridgeBin = filepath.Join(dir, "mcpbridge")
	// Built with the race detector: every test below also checks the real binary for
	// data races (see startBridge's cleanup).
	build := exec.Command("go", localstack.BuildArgs("-race", "-o", bridgeBin, "./mcpbridge")...)
	build.Dir = filepath.Join("..", "..") // in the root module, with its own go.sum
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building mcpbridge: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// bridge is one running mcpbridge process.
type bridge struct {
	URL  string // http://127.0.0.1:port/mcp
	Base string // http://127.0.0.1:port
	cmd  *exec.Cmd
	logs *logBuffer
	done chan struct{}
	err  error
}

type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) add(line string) {
	l.mu.Lock()
	l.buf.WriteString(line)
	l.buf.WriteByte('\n')
	l.mu.Unlock()
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startBridge runs mcpbridge with args (flags) wrapping command; env is added to the
// bridge's environment. The bridge is stopped (SIGTERM) at the end of the test.
func startBridge(t *testing.T, args []string, command []string, env ...string) *bridge {
	t.Helper()
	all := append([]string{"--listen", "127.0.0.1:0", "--log-format", "json"}, args...)
	// The bridge alone, on loopback: trust unsigned identity headers unless the test
	// configures the edge's secret (TestIdentitySignature, TestIdentitySecretFile).
	if !slices.Contains(args, "--identity-secret") && !slices.ContainsFunc(env, func(kv string) bool {
		return strings.HasPrefix(kv, "MCPBRIDGE_IDENTITY_SECRET=") || strings.HasPrefix(kv, "MCPBRIDGE_IDENTITY_SECRET_FILE=")
	}) {
		all = append(all, "--allow-unsigned-identity", "true")
	}
	all = append(append(all, "--"), command...)
	cmd := exec.Command(bridgeBin, all...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting mcpbridge: %v", err)
	}
	b := &bridge{cmd: cmd, logs: &logBuffer{}, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			b.logs.add(line)
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "mcpbridge listening" {
				addr <- rec.Addr
			}
		}
		b.err = cmd.Wait()
		close(b.done)
	}()
	t.Cleanup(func() {
		b.stop(t)
		if strings.Contains(b.logs.String(), "WARNING: DATA RACE") {
			t.Error("the race detector found a data race in mcpbridge")
		}
		if t.Failed() {
			t.Logf("mcpbridge log:\n%s", b.logs.String())
		}
	})
	select {
	case a := <-addr:
		b.Base = "http://" + a
		b.URL = b.Base + "/mcp"
	case <-b.done:
		t.Fatalf("mcpbridge exited before listening: %v\n%s", b.err, b.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("mcpbridge did not start listening\n%s", b.logs.String())
	}
	return b
}

// stop sends SIGTERM and waits for the bridge to exit (SIGKILL after 30s).
func (b *bridge) stop(t *testing.T) {
	t.Helper()
	select {
	case <-b.done:
		return
	default:
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(30 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
		t.Errorf("mcpbridge did not exit within 30s of SIGTERM")
	}
}

var pidRE = regexp.MustCompile(`"msg":"session created".*?"pid":(\d+)`)

// childPIDs returns the pids of every child process the bridge logged.
func (b *bridge) childPIDs() []string {
	var pids []string
	for _, m := range pidRE.FindAllStringSubmatch(b.logs.String(), -1) {
		pids = append(pids, m[1])
	}
	return pids
}

// waitGone waits until none of pids exists any more (or is only a zombie awaiting
// its parent), failing the test after timeout.
func waitGone(t *testing.T, pids []string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var alive []string
		for _, pid := range pids {
			if processAlive(pid) {
				alive = append(alive, pid)
			}
		}
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("child processes still running after %s: %v", timeout, alive)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func processAlive(pid string) bool {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// waitLog waits until the bridge log contains substr.
func (b *bridge) waitLog(t *testing.T, substr string, timeout time.Duration) {
	t.Helper()
	b.waitLogAny(t, timeout, substr)
}

// waitLogAny waits until the bridge log contains one of substrs.
func (b *bridge) waitLogAny(t *testing.T, timeout time.Duration, substrs ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		logs := b.logs.String()
		for _, s := range substrs {
			if strings.Contains(logs, s) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("bridge log never contained any of %q", substrs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rawResponse is an HTTP response with its body read.
type rawResponse struct {
	Status int
	Header http.Header
	Body   string
}

// do sends one raw HTTP request to the bridge.
func do(t *testing.T, method, url string, header map[string]string, body string) rawResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: string(data)}
}

const initBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw-test","version":"1"}}}`

// jsonHeaders are the headers of a POST that accepts both response kinds.
func jsonHeaders(extra ...string) map[string]string {
	h := map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
	for i := 0; i+1 < len(extra); i += 2 {
		h[extra[i]] = extra[i+1]
	}
	return h
}

// initSession initializes a session as user over raw HTTP and sends initialized.
func initSession(t *testing.T, b *bridge, user string) string {
	t.Helper()
	resp := do(t, "POST", b.URL, jsonHeaders("X-User-Id", user), initBody)
	if resp.Status != http.StatusOK {
		t.Fatalf("initialize: status %d, body %s", resp.Status, resp.Body)
	}
	sid := resp.Header.Get("Mcp-Session-Id")
	if sid == "" {
		t.Fatalf("initialize: no Mcp-Session-Id in %v", resp.Header)
	}
	r := do(t, "POST", b.URL, jsonHeaders("X-User-Id", user, "Mcp-Session-Id", sid, "MCP-Protocol-Version", "2025-11-25"),
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	if r.Status != http.StatusAccepted {
		t.Fatalf("initialized notification: status %d, want 202; body %s", r.Status, r.Body)
	}
	return sid
}

// sessionHeaders are the headers of a request within session sid of user.
func sessionHeaders(user, sid string, extra ...string) map[string]string {
	return jsonHeaders(append([]string{"X-User-Id", user, "Mcp-Session-Id", sid, "MCP-Protocol-Version", "2025-11-25"}, extra...)...)
}

// sseMessages extracts the data of each event of an event-stream body.
func sseMessages(body string) []string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if data, ok := strings.CutPrefix(line, "data:"); ok && strings.TrimSpace(data) != "" {
			out = append(out, strings.TrimSpace(data))
		}
	}
	return out
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o644) }

// stream is an open GET event stream.
type stream struct {
	resp   *http.Response
	events chan string
}

// openStream opens the session's GET stream; events delivers each message's data.
func openStream(t *testing.T, b *bridge, user, sid string) *stream {
	t.Helper()
	req, err := http.NewRequest("GET", b.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("X-User-Id", user)
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET stream: %v", err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		resp.Body.Close()
		t.Fatalf("GET stream: status %d content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &stream{resp: resp, events: make(chan string, 1024)}
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
		for sc.Scan() {
			// Empty data is the priming event that only carries an id.
			if data, ok := strings.CutPrefix(sc.Text(), "data:"); ok && strings.TrimSpace(data) != "" {
				select {
				case s.events <- strings.TrimSpace(data):
				default:
				}
			}
		}
	}()
	return s
}

// Close ends the stream from the client side.
func (s *stream) Close() { s.resp.Body.Close() }
