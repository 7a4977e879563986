package session

import "sync"

// Mailbox carries messages from the child's reader to one HTTP response. Push never
// blocks, so one slow client cannot stall the session's other streams; the queue is
// bounded by what the child writes for that stream.
type Mailbox struct {
	mu     sync.Mutex
	msgs   [][]byte
	closed bool
	notify chan struct{} // capacity 1: "something changed"
}

// NewMailbox returns an open, empty mailbox.
func NewMailbox() *Mailbox {
	return &Mailbox{notify: make(chan struct{}, 1)}
}

func (b *Mailbox) wake() {
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

// Push queues msg; it reports false when the mailbox is already closed.
func (b *Mailbox) Push(msg []byte) bool {
	return b.push(msg, false)
}

// PushClose queues msg (if not nil) and closes the mailbox in one step, so a reader sees
// the last message and the end together.
func (b *Mailbox) PushClose(msg []byte) bool {
	return b.push(msg, true)
}

func (b *Mailbox) push(msg []byte, close bool) bool {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return false
	}
	if msg != nil {
		b.msgs = append(b.msgs, msg)
	}
	b.closed = close
	b.mu.Unlock()
	b.wake()
	return true
}

// Close closes the mailbox; queued messages can still be taken.
func (b *Mailbox) Close() { b.push(nil, true) }

// Ready receives a value whenever messages were pushed or the mailbox closed.
func (b *Mailbox) Ready() <-chan struct{} { return b.notify }

// Take returns and removes the queued messages, and whether the mailbox is closed (no
// more will come).
func (b *Mailbox) Take() (msgs [][]byte, closed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	msgs, b.msgs = b.msgs, nil
	return msgs, b.closed
}
