package session

import (
	"strconv"
	"strings"
	"time"
)

// Stream is what one HTTP response reads: the answer to a POST (its requests' responses
// and the messages that belong to them), a subscriptions/listen, or a GET stream. It owns
// its lifecycle, so that the HTTP handler only maps HTTP to and from it:
//
//   - Ready and Next deliver the events in order; done once the stream is over.
//   - EventID names an event for Last-Event-ID; a stream whose ids were handed out may be
//     resumed (2025 event streams).
//   - Close ends the response's hold on it. What happens then depends on how far it got:
//     delivered to the end, it is forgotten; cut short after handing out event ids, the
//     requests keep running for the resume window, waiting for a GET with Last-Event-ID,
//     and are then abandoned; cut short otherwise (a JSON answer, a 2026-07-28 stream),
//     the requests are abandoned at once, which tells the child to cancel them. A
//     bridge-served subscriptions/listen gives up its subscriptions.
type Stream struct {
	s         *Session
	ex        *Exchange // nil for the session's GET stream
	box       *Mailbox
	r         *Reader
	resumable bool // 2025: this stream may hand out event ids
	idsOut    bool // it did
	listen    bool // a bridge-served subscriptions/listen
}

func (s *Session) newStream(ex *Exchange, box *Mailbox, r *Reader, resumable bool) *Stream {
	return &Stream{s: s, ex: ex, box: box, r: r, resumable: resumable}
}

// Ready receives a value whenever Next may have something new.
func (st *Stream) Ready() <-chan struct{} { return st.r.Ready() }

// Next returns the events not read yet; done is true once the stream is over, replaced
// when a resumption elsewhere took it over (then there is nothing more to write).
func (st *Stream) Next() (events []Event, done, replaced bool) { return st.r.Next() }

// Streaming reports whether the stream may carry more than its responses (the client
// accepts text/event-stream); a GET stream always does.
func (st *Stream) Streaming() bool { return st.ex == nil || st.ex.Streaming }

// EventID returns the SSE event id of event seq (0: the priming event), or "" for a
// stream that cannot be resumed (2026-07-28, or a client that takes only JSON).
func (st *Stream) EventID(seq int) string {
	if !st.resumable {
		return ""
	}
	st.idsOut = true
	return st.box.EventID(seq)
}

// Cursor returns the seq of the last event read (where a resumed stream starts).
func (st *Stream) Cursor() int { return st.r.Cursor() }

// Close ends the response's hold on the stream; delivered means the client got its end.
func (st *Stream) Close(delivered bool) {
	s, ex := st.s, st.ex
	if st.listen {
		st.r.Detach()
		s.EndListen(ex)
		return
	}
	if !st.r.Detach() || ex == nil {
		return // replaced by a resumption, or the GET stream (which lives with the session)
	}
	if delivered {
		s.forget(ex)
		return
	}
	giveUp := func() {
		s.abandon(ex)
		s.forget(ex)
	}
	if !st.resumable || !st.idsOut {
		giveUp()
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.streams[ex.Box.Key()] != ex {
		return
	}
	if ex.grace != nil {
		ex.grace.Stop()
	}
	ex.grace = time.AfterFunc(s.resume, func() {
		if !ex.Box.Attached() {
			giveUp()
		}
	})
}

// OpenStream is a GET. Without lastEventID it is the session's standalone stream: a
// session has one, so a new reader replaces the previous one (a client whose connection
// dropped reconnects before the bridge may notice the old one is dead), and it starts
// with whatever no reader was given yet. With lastEventID it resumes the stream that
// event belongs to, after that event.
func (s *Session) OpenStream(lastEventID string) (*Stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrEnded
	}
	if lastEventID == "" {
		return s.newStream(nil, s.standalone, s.standalone.Attach(-1), true), nil
	}
	key, seq, ok := parseEventID(lastEventID)
	if !ok {
		return nil, ErrUnknownEvent
	}
	if key == standaloneKey {
		return s.newStream(nil, s.standalone, s.standalone.Attach(seq), true), nil
	}
	ex, ok := s.streams[key]
	if !ok {
		return nil, ErrUnknownEvent
	}
	if ex.grace != nil {
		ex.grace.Stop()
	}
	return s.newStream(ex, ex.Box, ex.Box.Attach(seq), true), nil
}

// EventID returns the SSE event id of event seq of this stream: "<stream key>_<seq>".
func (b *Mailbox) EventID(seq int) string { return b.key + "_" + strconv.Itoa(seq) }

// parseEventID reads an id that [Mailbox.EventID] made.
func parseEventID(id string) (key string, seq int, ok bool) {
	i := strings.LastIndexByte(id, '_')
	if i < 0 {
		return "", 0, false
	}
	seq, err := strconv.Atoi(id[i+1:])
	if err != nil || seq < 0 {
		return "", 0, false
	}
	return id[:i], seq, true
}

// forget drops a request stream that will not be resumed: its events (responses can be
// large) need not wait out the resume window.
func (s *Session) forget(ex *Exchange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.streams[ex.Box.Key()] == ex && ex.remaining == 0 {
		delete(s.streams, ex.Box.Key())
		if ex.grace != nil {
			ex.grace.Stop()
		}
	}
}

// abandon is for a client that went away before every response of ex arrived and will
// not come back for them: the child is told to cancel what is still running. As with a
// timeout, the child hears of the cancellation before the stream is closed, so whoever
// sees the stream end can rely on the child having been told.
func (s *Session) abandon(ex *Exchange) {
	// A call waiting for input responses, or already answering a retry, is not this
	// answer's any more.
	running := func(c *call) bool { return !c.done && !s.closed && c.ex == ex && !c.suspended }
	var cancel []*call
	s.mu.Lock()
	for _, c := range ex.calls {
		if running(c) {
			cancel = append(cancel, c)
		}
	}
	s.mu.Unlock()
	for _, c := range cancel {
		_ = s.proc.Send(cancelled(c.childID, "client disconnected"))
	}
	s.mu.Lock()
	for _, c := range cancel {
		if running(c) { // its response may have come in meanwhile
			s.finishLocked(c, nil, "client disconnected")
		}
	}
	s.mu.Unlock()
}
