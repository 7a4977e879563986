package e2e

import (
	"bufio"
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
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/internal/syncbuf"
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
	state, logs := filepath.Join(tmp, "state"), filepath.Join(tmp, "logs")

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
	// `just mcp-config` describes this gateway: the same URLs the run printed.
	cfgCmd := exec.CommandContext(ctx, clientBin, "config", "-local")
	cfgCmd.Env = append(env, "RUN_PORT="+strconv.Itoa(base))
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
