package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/syncbuf"
)

// freePortRange finds n consecutive free loopback ports (the layout of `just run`:
// the issuer, then one port per MCP server).
func freePortRange(t *testing.T, n int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		// Below Linux's ephemeral range (32768+), where free-port picks land.
		base := 20000 + rand.IntN(12000)
		ok := true
		for p := base; p < base+n && ok; p++ {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				ok = false
				continue
			}
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no range of free ports found")
	return 0
}

// TestJustRun runs the `just run` program itself, on a fresh machine's terms: no
// GitHub credentials (so the labelled local development login), its own state and
// log directories. The official Go SDK client completes the OAuth flow against it on
// every MCP server; Ctrl-C then stops everything and leaves no process behind.
func TestJustRun(t *testing.T) {
	ctx := testContext(t)
	base := freePortRange(t, 4)
	tmp := t.TempDir()
	// The state directory is where `just run` puts it by default under MCPGW_CACHE, so
	// that the helpers find the run file there.
	state, logs := filepath.Join(tmp, "run"), filepath.Join(tmp, "logs")
	cmd := exec.Command(runBin, "-port", strconv.Itoa(base), "-state", state, "-logs", logs, "-repo", repo)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GITHUB_CLIENT_ID=") && !strings.HasPrefix(kv, "GITHUB_CLIENT_SECRET=") && !strings.HasPrefix(kv, "MCP_SERVERS=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	out := &syncbuf.Buffer{}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	running := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		once := sync.Once{}
		for sc.Scan() {
			fmt.Fprintln(out, sc.Text())
			if strings.Contains(sc.Text(), "is running") {
				once.Do(func() { close(running) })
			}
		}
	}()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); pw.Close() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})
	select {
	case <-running:
	case err := <-exited:
		t.Fatalf("mcpgw-run exited before the gateway ran: %v\n%s", err, out.String())
	case <-time.After(5 * time.Minute):
		t.Fatalf("mcpgw-run not running after 5 minutes:\n%s", out.String())
	}
	time.Sleep(100 * time.Millisecond) // let the URL lines after the banner arrive

	issuer := "http://localhost:" + strconv.Itoa(base)
	for _, want := range []string{"LOCAL DEVELOPMENT LOGIN", "local-dev", issuer, "http://localhost:" + strconv.Itoa(base+1) + "/mcp"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("just run output lacks %q:\n%s", want, out.String())
		}
	}

	for i, name := range []string{"everything", "memory", "filesystem"} {
		t.Run(name, func(t *testing.T) {
			mcpURL := "http://localhost:" + strconv.Itoa(base+1+i) + "/mcp"
			o := newSDKOAuthLogin(t, nil)
			s := connectSDK(t, ctx, mcpURL, o)
			call := serverCalls()[name]
			if got := callText(t, ctx, s, call.name, call.args); !strings.Contains(got, call.want()) {
				t.Errorf("%s: tools/call %s = %q, want %q in it", name, call.name, got, call.want())
			}
			c := claims(t, o.token(t).AccessToken)
			if c["iss"] != issuer || c["login"] != "local-dev" {
				t.Errorf("token iss=%v login=%v, want %s and local-dev", c["iss"], c["login"], issuer)
			}
			_ = s.Close()
		})
	}
	t.Run("supervision", func(t *testing.T) { checkSupervision(t, ctx, state, base) })
	if !strings.Contains(out.String(), "restarting it alone") {
		t.Errorf("just run did not say it restarted a process:\n%s", out.String())
	}

	// `just mcp-config` describes this gateway: the same URLs the run printed, found
	// through the run file (no RUN_PORT given again).
	cfgCmd := exec.CommandContext(ctx, clientBin, "config", "-local")
	cfgCmd.Env = append(env, "MCPGW_CACHE="+filepath.Dir(state))
	cfgOut, err := cfgCmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mcp-client config: %v\n%s", err, cfgOut)
	}
	for i, name := range []string{"everything", "memory", "filesystem"} {
		want := "claude mcp add --transport http " + name + " http://localhost:" + strconv.Itoa(base+1+i) + "/mcp\n"
		if !strings.Contains(string(cfgOut), want) || !strings.Contains(out.String(), "http://localhost:"+strconv.Itoa(base+1+i)+"/mcp") {
			t.Errorf("mcp-config and just run disagree about %s: want %q in\n%s", name, want, cfgOut)
		}
	}
	for _, f := range []string{"redis.log", "authsvc.log", "everything.log", "traefik.log", "traefik-access.log"} {
		if st, err := os.Stat(filepath.Join(logs, f)); err != nil || st.Size() == 0 {
			t.Errorf("log %s missing or empty: %v", f, err)
		}
	}

	// Ctrl-C.
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("mcpgw-run after Ctrl-C: %v, want a clean exit\n%s", err, out.String())
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("mcpgw-run still running 90s after Ctrl-C:\n%s", out.String())
	}
	if left := processesUnder(state); len(left) > 0 {
		t.Errorf("processes left behind after Ctrl-C: %v", left)
	}
	for p := base; p < base+4; p++ {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(p), time.Second); err == nil {
			c.Close()
			t.Errorf("port %d still accepts connections after Ctrl-C", p)
		}
	}
}

// processesUnder lists running processes whose working directory is inside dir:
// every process of the local stack (and every child they spawn) runs there.
func processesUnder(dir string) []string {
	if runtime.GOOS != "linux" {
		return nil
	}
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err != nil || !strings.HasPrefix(cwd, dir) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		out = append(out, e.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return out
}

// checkSupervision kills (SIGKILL) each of redis, authsvc, the memory bridge and
// Traefik of a running `just run`, one at a time. Each comes back alone, with a new
// pid in the run file; while one is gone the others keep serving (an MCP session on
// everything goes on while authsvc, Redis or memory's bridge are down: the edge checks
// tokens by itself); and nothing is lost: memory's graph and a refresh token issued
// before the kills still work after them.
func checkSupervision(t *testing.T, ctx context.Context, state string, base int) {
	everything := "http://localhost:" + strconv.Itoa(base+1) + "/mcp"
	memory := "http://localhost:" + strconv.Itoa(base+2) + "/mcp"
	issuer := "http://localhost:" + strconv.Itoa(base)
	eo := newSDKOAuthLogin(t, nil)
	ev := connectSDK(t, ctx, everything, eo)
	mo := newSDKOAuthLogin(t, nil)
	mem := connectSDK(t, ctx, memory, mo)
	entity := fmt.Sprintf("survivor-%d", time.Now().UnixNano())
	callText(t, ctx, mem, "create_entities", map[string]any{"entities": []map[string]any{
		{"name": entity, "entityType": "test", "observations": []string{"made before the kills"}}}})
	tok := mo.token(t)
	clientID := fmt.Sprint(claims(t, tok.AccessToken)["client_id"])
	time.Sleep(1500 * time.Millisecond) // Redis appends to its AOF every second

	pids := func() map[string]int {
		b, err := os.ReadFile(filepath.Join(state, "run.json"))
		if err != nil {
			t.Fatalf("run file: %v", err)
		}
		var info struct {
			PIDs map[string]int `json:"pids"`
		}
		if err := json.Unmarshal(b, &info); err != nil {
			t.Fatalf("run file: %v", err)
		}
		return info.PIDs
	}
	echo := func() error {
		res, err := ev.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "still here"}})
		if err == nil && res.IsError {
			err = fmt.Errorf("tool error")
		}
		return err
	}
	for _, victim := range []string{"authsvc", "memory", "redis", "traefik"} {
		before := pids()
		if before[victim] == 0 {
			t.Fatalf("the run file has no %s: %v", victim, before)
		}
		if err := syscall.Kill(before[victim], syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if victim != "traefik" {
			// Right away, while the victim is down or restarting: the rest serves.
			if err := echo(); err != nil {
				t.Errorf("with %s killed, a call on everything failed: %v", victim, err)
			}
		}
		eventually(t, 60*time.Second, victim+" restarted with a new pid", func() (bool, string) {
			p := pids()
			return p[victim] != 0 && p[victim] != before[victim] && syscall.Kill(p[victim], 0) == nil, fmt.Sprint(p)
		})
		after := pids()
		for name, pid := range before {
			if name != victim && after[name] != pid {
				t.Errorf("killing %s also restarted %s", victim, name)
			}
		}
		eventually(t, 60*time.Second, victim+" serving again", func() (bool, string) {
			switch victim {
			case "authsvc", "redis":
				// A refresh needs authsvc and the token family in Redis: nothing lost.
				next, err := refreshWithIssuer(ctx, issuer, clientID, tok.RefreshToken)
				if err != nil {
					return false, err.Error()
				}
				tok = next
				return true, ""
			case "memory":
				s, err := mcp.NewClient(&mcp.Implementation{Name: "supervision", Version: "1"}, nil).Connect(ctx,
					&mcp.StreamableClientTransport{Endpoint: memory, HTTPClient: httpClient, OAuthHandler: mo.handler}, nil)
				if err != nil {
					return false, err.Error()
				}
				defer s.Close()
				res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: "read_graph", Arguments: map[string]any{}})
				if err != nil {
					return false, err.Error()
				}
				b, _ := json.Marshal(res.Content)
				if !strings.Contains(string(b), entity) {
					t.Fatalf("memory lost %s across its restart: %s", entity, b)
				}
				return true, ""
			default:
				// traefik: the edge routes again. A client whose stream broke while
				// Traefik was down (the SDK gives up on a 404 from a Traefik that has
				// not loaded its routes yet) connects again with the token it has.
				s, err := mcp.NewClient(&mcp.Implementation{Name: "supervision", Version: "1"}, nil).Connect(ctx,
					&mcp.StreamableClientTransport{Endpoint: everything, HTTPClient: httpClient, OAuthHandler: eo.handler}, nil)
				if err != nil {
					return false, err.Error()
				}
				defer s.Close()
				if _, err := s.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "back"}}); err != nil {
					return false, err.Error()
				}
				resp, err := httpClient.Get(issuer + "/.well-known/oauth-authorization-server")
				if err != nil {
					return false, err.Error()
				}
				resp.Body.Close()
				return resp.StatusCode == 200, resp.Status
			}
		})
	}
}
