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

func TestMailboxLone(t *testing.T) {
	// The first message, which is also the last, goes to lone and is not queued.
	b := NewMailbox("e1", 10)
	r := b.Attach(0)
	var got []string
	b.SetLone(func(msg []byte) bool {
		// While lone runs, a reader sees nothing, not even the end.
		if events, done, _ := r.Next(); len(events) != 0 || done {
			t.Errorf("during lone: reader got %v, done %v", events, done)
		}
		got = append(got, string(msg))
		return true
	})
	b.PushClose([]byte("answer"))
	if len(got) != 1 || got[0] != "answer" {
		t.Fatalf("lone got %q, want the answer", got)
	}
	select {
	case <-r.Ready():
	default:
		t.Error("the reader was not woken after lone")
	}
	if events, done, _ := r.Next(); len(events) != 0 || !done {
		t.Errorf("after a taken answer: reader got %v, done %v; want nothing, done", events, done)
	}

	// Declined: queued as usual.
	b = NewMailbox("e2", 10)
	b.SetLone(func([]byte) bool { return false })
	b.PushClose([]byte("answer"))
	if events, done, _ := b.Attach(0).Next(); len(events) != 1 || string(events[0].Msg) != "answer" || !done {
		t.Errorf("after a declined answer: reader got %v, done %v", events, done)
	}

	// Something before the answer (progress): lone is never called, and every message
	// is queued.
	b = NewMailbox("e3", 10)
	b.SetLone(func([]byte) bool { t.Error("lone called for an answer that was not alone"); return true })
	b.Push([]byte("progress"))
	b.PushClose([]byte("answer"))
	if events, done, _ := b.Attach(0).Next(); len(events) != 2 || !done {
		t.Errorf("answer after progress: reader got %v, done %v", events, done)
	}

	// Closed without a message (the session ended): lone is not called either.
	b = NewMailbox("e4", 10)
	b.SetLone(func([]byte) bool { t.Error("lone called without a message"); return true })
	b.Close()
	if events, done, _ := b.Attach(0).Next(); len(events) != 0 || !done {
		t.Errorf("closed: reader got %v, done %v", events, done)
	}
}
