package session

import (
	"bytes"
	"testing"
)

func TestMailboxLimits(t *testing.T) {
	b := NewMailbox("e1", 3)
	for i := range 5 {
		b.Push([]byte{byte('a' + i)})
	}
	r := b.Attach(0)
	events, done, _ := r.Next()
	if len(events) != 3 || events[0].Seq != 3 || string(events[2].Msg) != "e" || done {
		t.Errorf("count limit: got %v done %v, want the last 3 (seq 3-5)", events, done)
	}
	if got := b.EventID(4); got != "e1_4" {
		t.Errorf("EventID = %q", got)
	}

	// Delivered events beyond the byte budget are dropped; undelivered ones are not.
	big := NewMailbox("e2", 100)
	chunk := bytes.Repeat([]byte("x"), keptBytes/2+1)
	big.Push(chunk)
	big.Push(chunk)
	big.Push(chunk) // 1.5 budgets, none delivered: all kept
	rd := big.Attach(0)
	if events, _, _ := rd.Next(); len(events) != 3 {
		t.Fatalf("undelivered events were dropped: got %d, want 3", len(events))
	}
	big.mu.Lock()
	kept, size := len(big.events), big.bytes
	big.mu.Unlock()
	if kept != 1 || size > keptBytes {
		t.Errorf("after delivery: %d events, %d bytes kept; want 1 event within %d bytes", kept, size, keptBytes)
	}
	// A replay from the start gets what is left.
	if events, _, _ := big.Attach(0).Next(); len(events) != 1 || events[0].Seq != 3 {
		t.Errorf("replay after trimming: %v", events)
	}
}
