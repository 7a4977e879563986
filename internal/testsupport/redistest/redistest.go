// Package redistest runs a real redis-server for tests: one server per test binary,
// started on a free loopback port, with a fresh flushed database for each test.
//
// There are no Redis fakes in this project. A test binary that needs Redis calls
// [Main] from its TestMain and [Client] (or [Addr]) from each test.
package redistest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	mu   sync.Mutex
	addr string
	pid  int
)

// Main starts redis-server, runs the tests and stops the server. Use it from TestMain:
//
//	func TestMain(m *testing.M) { redistest.Main(m) }
//
// If redis-server is not installed it exits with a message naming the recipe that
// installs it, rather than skipping: a test that cannot run must not pass.
func Main(m *testing.M) {
	a, p, stop, err := start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "redistest: %v\n(run `just deps-redis` or `apt-get install redis-server`)\n", err)
		os.Exit(1)
	}
	mu.Lock()
	addr, pid = a, p
	mu.Unlock()
	code := m.Run()
	stop()
	os.Exit(code)
}

// Start launches a redis-server on a free loopback port with persistence off and
// returns its address and a function that stops it and removes its files.
func Start() (string, func(), error) {
	a, _, stop, err := start()
	return a, stop, err
}

func start() (string, int, func(), error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", 0, nil, fmt.Errorf("redis-server not found in PATH: %w", err)
	}
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return "", 0, nil, err
	}
	logFile := filepath.Join(dir, "redis.log")
	cmd, a, err := launch(bin, nil, func(port int) []string {
		return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir,
			"--logfile", logFile, "--daemonize", "no"}
	})
	if err != nil {
		log, _ := os.ReadFile(logFile)
		os.RemoveAll(dir)
		return "", 0, nil, fmt.Errorf("%w\n%s", err, log)
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		os.RemoveAll(dir)
	}
	return a, cmd.Process.Pid, stop, nil
}

// launch starts redis-server with the arguments args gives for a free loopback port
// and returns once that very process answers there. Test binaries run in parallel and
// can be handed the same free port: the loser of that race exits, and a PING alone
// would reach the winner (whose tests then flush our data), so the answer must carry
// our process id. A lost race is retried on another port.
func launch(bin string, out io.Writer, args func(port int) []string) (*exec.Cmd, string, error) {
	var last error
	for range 5 {
		port, err := freePort()
		if err != nil {
			return nil, "", err
		}
		cmd := exec.Command(bin, args(port)...)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			return nil, "", fmt.Errorf("start redis-server: %w", err)
		}
		a := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if last = answersAs(a, cmd.Process.Pid); last == nil {
			return cmd, a, nil
		}
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		if !errors.Is(last, errOtherProcess) {
			return nil, "", last
		}
	}
	return nil, "", last
}

var errOtherProcess = errors.New("another process answers on the port")

// answersAs waits up to 10 s for the server at a to answer INFO with process id pid.
func answersAs(a string, pid int) error {
	want := "process_id:" + strconv.Itoa(pid) + "\r\n"
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := reply(a, "INFO server")
		switch {
		case err == nil && strings.Contains(out, want):
			return nil
		case err == nil && strings.Contains(out, "process_id:"):
			return fmt.Errorf("redis-server on %s: %w", a, errOtherProcess)
		case time.Now().After(deadline):
			return fmt.Errorf("redis-server on %s did not answer INFO: %v %q", a, err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Addr returns the address of the server started by [Main], after flushing every
// database so that the test starts from an empty Redis. Tests that use it must not
// run in parallel with each other.
func Addr(tb testing.TB) string {
	tb.Helper()
	mu.Lock()
	a := addr
	mu.Unlock()
	if a == "" {
		tb.Fatal("redistest: no server; call redistest.Main from TestMain")
	}
	if err := command(a, "FLUSHALL"); err != nil {
		tb.Fatalf("redistest: FLUSHALL: %v", err)
	}
	return a
}

// Stall stops the server started by [Main] (SIGSTOP) for d and continues it; the
// returned channel is closed once it runs again. Commands sent meanwhile wait in its
// socket buffers and run after: the stall of a real outage, where a client gave up on
// work that was done.
func Stall(tb testing.TB, d time.Duration) <-chan struct{} {
	tb.Helper()
	mu.Lock()
	p := pid
	mu.Unlock()
	if p == 0 {
		tb.Fatal("redistest: no server; call redistest.Main from TestMain")
	}
	if err := syscall.Kill(p, syscall.SIGSTOP); err != nil {
		tb.Fatal(err)
	}
	resumed := make(chan struct{})
	time.AfterFunc(d, func() {
		_ = syscall.Kill(p, syscall.SIGCONT)
		close(resumed)
	})
	tb.Cleanup(func() { _ = syscall.Kill(p, syscall.SIGCONT) })
	return resumed
}

// URL is [Addr] as a redis:// URL.
func URL(tb testing.TB) string {
	tb.Helper()
	return "redis://" + Addr(tb) + "/0"
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// command sends one inline command and wants a simple-string reply ("+OK"); enough
// for FLUSHALL without importing a client into every test binary.
func command(a, cmd string) error {
	out, err := reply(a, cmd)
	if err != nil {
		return err
	}
	if out == "" || out[0] != '+' {
		return fmt.Errorf("unexpected reply %q", out)
	}
	return nil
}
