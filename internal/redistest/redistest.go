// Package redistest runs a real redis-server for tests: one server per test binary,
// started on a free loopback port, with a fresh flushed database for each test.
//
// There are no Redis fakes in this project. A test binary that needs Redis calls
// [Main] from its TestMain and [Client] (or [Addr]) from each test.
package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
	port, err := freePort()
	if err != nil {
		return "", 0, nil, err
	}
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return "", 0, nil, err
	}
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir,
		"--logfile", filepath.Join(dir, "redis.log"), "--daemonize", "no")
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return "", 0, nil, fmt.Errorf("start redis-server: %w", err)
	}
	a := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	stop := func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		os.RemoveAll(dir)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := ping(a); err == nil {
			return a, cmd.Process.Pid, stop, nil
		} else if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			stop()
			return "", 0, nil, fmt.Errorf("redis-server on %s did not answer PING: %v\n%s", a, err, log)
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

func ping(a string) error { return command(a, "PING") }

// command sends one inline command and wants a simple-string reply ("+OK", "+PONG");
// enough for PING and FLUSHALL without importing a client into every test binary.
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
