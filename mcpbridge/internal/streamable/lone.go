package streamable

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// lone writes the answer to a POST of one request from the goroutine that receives it
// from the child, when the response is all the answer holds and the client takes JSON:
// the client gets it without waiting for the handler's goroutine to be woken up first
// (on a 2-core machine that wake-up, another thread's, was about 20 µs a call). The
// handler's goroutine still owns the response: end, which it calls before it returns,
// stops further writes and waits for one under way.
type lone struct {
	w     *recorder
	write func(w *recorder, msg []byte) error

	mu    sync.Mutex
	ended bool  // the handler's goroutine is done with the response
	taken bool  // deliver wrote the answer (or tried to)
	err   error // the write's error
}

// loneMax is the largest answer deliver writes: it writes with the session locked, and
// an answer this small fits a TCP connection's initial send buffer, so its write does
// not wait for the client. Larger answers take the usual way.
const loneMax = 16 << 10

// loneWriteTimeout bounds deliver's write for a client that does not read its earlier
// answers; the connection is then broken, as it would be on any write timeout.
const loneWriteTimeout = time.Second

func newLone(w *recorder, write func(w *recorder, msg []byte) error) *lone {
	return &lone{w: w, write: write}
}

// deliver is the mailbox's lone hook (session.Mode.Lone): it writes msg as the whole
// response and reports whether it took it.
func (l *lone) deliver(msg []byte) bool {
	if len(msg) > loneMax {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended {
		return false
	}
	l.taken = true
	rc := http.NewResponseController(l.w)
	_ = rc.SetWriteDeadline(time.Now().Add(loneWriteTimeout))
	l.w.Header().Set("Content-Length", strconv.Itoa(len(msg)))
	if l.err = l.write(l.w, msg); l.err == nil {
		l.err = rc.Flush()
	}
	return true
}

// end stops deliver from writing; it reports whether deliver wrote the answer, and if
// so whether the write succeeded. A nil lone took nothing.
func (l *lone) end() (taken bool, err error) {
	if l == nil {
		return false, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ended = true
	return l.taken, l.err
}

// took ends l and reports whether deliver wrote the answer: the handler, which saw the
// stream end with nothing for it to write, has nothing more to do.
func (l *lone) took() bool {
	taken, _ := l.end()
	return taken
}

// endLone ends ln and returns whether the client got its answer: as ln wrote it if ln
// took it, else as the handler's own writing went (delivered).
func endLone(ln *lone, delivered bool) bool {
	if taken, err := ln.end(); taken {
		return err == nil
	}
	return delivered
}
