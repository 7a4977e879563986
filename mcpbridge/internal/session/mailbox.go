package session

import (
	"sync"
)

// Event is one message of a stream and its sequence number within it (from 1).
type Event struct {
	Seq int
	Msg []byte
}

// Mailbox is one SSE stream's worth of messages: a request's answer or the session's
// GET stream. Push never blocks, so one slow client cannot stall the session's other
// streams. The mailbox keeps its recent events, so a client whose connection dropped
// can resume with Last-Event-ID; at most one [Reader] is attached at a time.
type Mailbox struct {
	key   string // the stream's part of event ids
	limit int    // events kept

	mu        sync.Mutex
	events    []Event
	bytes     int // size of the messages in events
	next      int // seq of the next event
	closed    bool
	delivered int // highest seq handed to a reader
	reader    *Reader
	// lone, if set, takes the mailbox's message when it is the first and the last (see
	// SetLone); lonePending while it is being handed over.
	lone        func([]byte) bool
	lonePending bool
}

// NewMailbox returns an open, empty mailbox whose event ids start with key and which
// keeps the last limit events.
func NewMailbox(key string, limit int) *Mailbox {
	return &Mailbox{key: key, limit: limit, next: 1}
}

// Key identifies the stream in event ids.
func (b *Mailbox) Key() string { return b.key }

// Push queues msg; it reports false when the mailbox is already closed.
func (b *Mailbox) Push(msg []byte) bool { return b.push(msg, false) }

// PushClose queues msg (if not nil) and closes the mailbox in one step, so a reader sees
// the last message and the end together.
func (b *Mailbox) PushClose(msg []byte) bool { return b.push(msg, true) }

// Close closes the mailbox; queued events can still be read.
func (b *Mailbox) Close() { b.push(nil, true) }

// SetLone hands the mailbox's message to lone, on the goroutine that pushes it, if that
// message is the first and the last (a request's answer with nothing before it): the
// answer can then be written to the client before any reader wakes up. lone reports
// whether it took the message; if not, the message is queued as usual. While lone
// runs, readers see nothing; afterwards, a taken message is not queued (such an answer
// is never resumed) and readers see the mailbox closed. lone runs with the session
// locked, so it must not call into the session, and it must not block for long.
func (b *Mailbox) SetLone(lone func([]byte) bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lone = lone
}

func (b *Mailbox) push(msg []byte, close bool) bool {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return false
	}
	if lone := b.lone; lone != nil {
		b.lone = nil
		if close && msg != nil && b.next == 1 {
			b.closed, b.lonePending = true, true
			b.mu.Unlock()
			taken := lone(msg)
			b.mu.Lock()
			b.lonePending = false
			if taken {
				msg = nil // written to the client: not queued
			}
		}
	}
	if msg != nil {
		b.events = append(b.events, Event{Seq: b.next, Msg: msg})
		b.bytes += len(msg)
		b.next++
		b.trim()
	}
	b.closed = close
	r := b.reader
	b.mu.Unlock()
	if r != nil {
		r.wake()
	}
	return true
}

// keptBytes bounds the messages a mailbox keeps once a reader has been given them
// (kept only for replay): large responses must not pile up in memory.
const keptBytes = 8 << 20

// trim drops the oldest events beyond the count limit, and delivered ones beyond
// keptBytes. Events no reader was given yet are only dropped by the count limit.
func (b *Mailbox) trim() {
	drop := 0
	if n := len(b.events) - b.limit; n > 0 {
		drop = n
	}
	size := b.bytes
	for i := 0; i < drop; i++ {
		size -= len(b.events[i].Msg)
	}
	for drop < len(b.events) && size > keptBytes && b.events[drop].Seq <= b.delivered {
		size -= len(b.events[drop].Msg)
		drop++
	}
	if drop > 0 {
		clear(b.events[:drop])
		b.events = b.events[drop:]
		b.bytes = size
	}
}

// Attach makes a new reader the mailbox's only one, starting after event seq after; a
// negative after starts after the last event any reader was given (so nothing is sent
// twice and nothing queued is lost). A previous reader is told it was replaced.
func (b *Mailbox) Attach(after int) *Reader {
	b.mu.Lock()
	defer b.mu.Unlock()
	if after < 0 {
		after = b.delivered
	}
	r := &Reader{box: b, cursor: after, notify: make(chan struct{}, 1)}
	if old := b.reader; old != nil {
		old.replaced = true
		old.wake()
	}
	b.reader = r
	r.wake() // there may be events already
	return r
}

// Attached reports whether a reader is attached.
func (b *Mailbox) Attached() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.reader != nil
}

// IsClosed reports whether the mailbox is closed.
func (b *Mailbox) IsClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// Reader reads a mailbox from a cursor. It belongs to one HTTP response.
type Reader struct {
	box      *Mailbox
	cursor   int
	notify   chan struct{} // capacity 1: "something changed"
	replaced bool          // guarded by box.mu
}

func (r *Reader) wake() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// Ready receives a value whenever events were pushed, the mailbox closed, or the reader
// was replaced.
func (r *Reader) Ready() <-chan struct{} { return r.notify }

// Cursor returns the seq of the last event read.
func (r *Reader) Cursor() int {
	r.box.mu.Lock()
	defer r.box.mu.Unlock()
	return r.cursor
}

// Next returns the events after the cursor and advances it; done is true once the
// mailbox is closed and everything was read, or the reader was replaced.
func (r *Reader) Next() (events []Event, done, replaced bool) {
	b := r.box
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.replaced {
		return nil, true, true
	}
	if b.lonePending {
		return nil, false, false
	}
	for _, e := range b.events {
		if e.Seq > r.cursor {
			events = append(events, e)
		}
	}
	if n := len(events); n > 0 {
		r.cursor = events[n-1].Seq
		b.delivered = max(b.delivered, r.cursor)
		b.trim()
	}
	return events, b.closed, false
}

// Detach removes the reader from its mailbox. It reports false when the reader had
// already been replaced (another response owns the stream now).
func (r *Reader) Detach() (current bool) {
	b := r.box
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.reader == r {
		b.reader = nil
	}
	return !r.replaced
}
