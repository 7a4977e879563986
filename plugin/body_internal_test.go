package mcpauth

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// closingBody behaves like Go's server request body: reads after Close fail.
type closingBody struct {
	r      io.Reader
	closed bool
	reads  int
}

func (b *closingBody) Read(p []byte) (int, error) {
	b.reads++
	if b.closed {
		return 0, errors.New("http: invalid Read on closed Body")
	}
	return b.r.Read(p)
}

func (b *closingBody) Close() error { b.closed = true; return nil }

func TestDeclaredBodyEndsAtItsLength(t *testing.T) {
	under := &closingBody{r: strings.NewReader(`{"jsonrpc":"2.0"}` + "trailing bytes beyond the declared length")}
	b := &declaredBody{body: under, left: int64(len(`{"jsonrpc":"2.0"}`))}
	got, err := io.ReadAll(io.LimitReader(b, 1<<20))
	if err != nil || string(got) != `{"jsonrpc":"2.0"}` {
		t.Fatalf("read %q, %v; want the declared bytes and EOF", got, err)
	}
	// The server closes the body once the answer starts; the transport's final check
	// read must still see EOF, and must not reach the closed body.
	reads := under.reads
	if err := b.Close(); err != nil || !under.closed {
		t.Fatalf("Close: %v, underlying closed %v", err, under.closed)
	}
	if n, err := b.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("read after close: %d, %v; want 0, EOF", n, err)
	}
	if under.reads != reads {
		t.Fatalf("the closed body was read again (%d reads, %d before)", under.reads, reads)
	}
}

func TestDeclaredBodyPassesShortBodies(t *testing.T) {
	under := &closingBody{r: strings.NewReader("abc")}
	b := &declaredBody{body: under, left: 10}
	got, err := io.ReadAll(b)
	if string(got) != "abc" || err != nil {
		t.Fatalf("read %q, %v: a body shorter than declared ends where it ends", got, err)
	}
}
