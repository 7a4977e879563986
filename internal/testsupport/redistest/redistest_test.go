package redistest

import (
	"errors"
	"net"
	"os/exec"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

func TestAddrAnswersAndIsFlushed(t *testing.T) {
	a := Addr(t)
	c, err := net.Dial("tcp", a)
	if err != nil {
		t.Fatalf("dial %s: %v", a, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("SET k v\r\nDBSIZE\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n := 0
	for n < len("+OK\r\n:1\r\n") {
		m, err := c.Read(buf[n:])
		if err != nil {
			t.Fatal(err)
		}
		n += m
	}
	if got, want := string(buf[:n]), "+OK\r\n:1\r\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	Addr(t) // flushes
	if _, err := c.Write([]byte("DBSIZE\r\n")); err != nil {
		t.Fatal(err)
	}
	n, err = c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(buf[:n]), ":0\r\n"; got != want {
		t.Fatalf("after flush got %q, want %q", got, want)
	}
}

// TestAnswersAsTellsOurServerFromAnother is the check that keeps two test binaries
// that were handed the same free port apart: a second redis-server started on the
// port of the running one exits, and the answer on that port is not from it.
func TestAnswersAsTellsOurServerFromAnother(t *testing.T) {
	a := Addr(t)
	_, port, _ := net.SplitHostPort(a)
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal(err)
	}
	loser := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := loser.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = loser.Process.Kill(); _, _ = loser.Process.Wait() }()
	if err := answersAs(a, loser.Process.Pid); !errors.Is(err, errOtherProcess) {
		t.Fatalf("answersAs(the loser's pid) = %v, want errOtherProcess", err)
	}
	mu.Lock()
	p := pid
	mu.Unlock()
	if err := answersAs(a, p); err != nil {
		t.Fatalf("answersAs(our pid) = %v", err)
	}
}
