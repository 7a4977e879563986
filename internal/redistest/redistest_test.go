package redistest

import (
	"net"
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
