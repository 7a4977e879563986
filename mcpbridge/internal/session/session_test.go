package session

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/jsonrpc"
	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/stdiotest"
)

func TestMain(m *testing.M) {
	stdiotest.MaybeRun()
	os.Exit(m.Run())
}

func newRegistry(t *testing.T, opts Options) *Registry {
	t.Helper()
	argv, _ := stdiotest.Command()
	opts.Command, opts.Env = argv, stdiotest.Env()
	r, err := NewRegistry(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		r.CloseAll(ctx)
	})
	return r
}

func newSession(t *testing.T, r *Registry, user string) *Session {
	t.Helper()
	s, err := r.Create(user)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	ex := submit(t, s, true, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}`)
	collect(t, ex)
	if s.Version() != "2025-11-25" {
		t.Fatalf("Version = %q after initialize", s.Version())
	}
	return s
}

func submit(t *testing.T, s *Session, streaming bool, msgs ...string) *Stream {
	t.Helper()
	var parsed []*jsonrpc.Message
	for _, m := range msgs {
		p, err := jsonrpc.Parse([]byte(m))
		if err != nil {
			t.Fatalf("Parse %s: %v", m, err)
		}
		parsed = append(parsed, p)
	}
	ex, err := s.Submit(parsed, streaming)
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	return ex
}

// collect waits for the stream to end, returns every message it carried and closes it
// as delivered.
func collect(t *testing.T, st *Stream) []string {
	t.Helper()
	out := drain(t, st)
	st.Close(true)
	return out
}

// drain reads r until its stream ends.
func drain(t *testing.T, r *Stream) []string {
	t.Helper()
	var out []string
	deadline := time.After(20 * time.Second)
	for {
		select {
		case <-r.Ready():
		case <-deadline:
			t.Fatalf("stream did not end; got %v", out)
		}
		events, done, _ := r.Next()
		for _, e := range events {
			out = append(out, string(e.Msg))
		}
		if done {
			return out
		}
	}
}

// available returns the events r can read now.
func available(r *Stream) []string {
	events, _, _ := r.Next()
	var out []string
	for _, e := range events {
		out = append(out, string(e.Msg))
	}
	return out
}

func errorCode(msg string) int {
	var r struct {
		Error struct{ Code int } `json:"error"`
	}
	_ = json.Unmarshal([]byte(msg), &r)
	return r.Error.Code
}

func TestIDMapping(t *testing.T) {
	r := newRegistry(t, Options{})
	s := newSession(t, r, "alice")
	// Two exchanges in flight with the same client id: each gets its own answer back,
	// under the id exactly as the client wrote it.
	a := submit(t, s, false, `{"jsonrpc":"2.0","id":"dup","method":"echo","params":{"who":"a"}}`)
	b := submit(t, s, false, `{"jsonrpc":"2.0","id":"dup","method":"echo","params":{"who":"b"}}`)
	for name, ex := range map[string]*Stream{"a": a, "b": b} {
		got := collect(t, ex)
		if len(got) != 1 || !strings.Contains(got[0], `"id":"dup"`) || !strings.Contains(got[0], `"who":"`+name+`"`) {
			t.Errorf("exchange %s got %v", name, got)
		}
	}
	// A batch: one exchange, closed after the last of its responses.
	got := collect(t, submit(t, s, false,
		`{"jsonrpc":"2.0","id":1.0,"method":"echo","params":{"n":1}}`,
		`{"jsonrpc":"2.0","method":"notifications/whatever"}`,
		`{"jsonrpc":"2.0","id":"two","method":"echo","params":{"n":2}}`))
	if len(got) != 2 || !strings.Contains(strings.Join(got, " "), `"id":1.0`) || !strings.Contains(strings.Join(got, " "), `"id":"two"`) {
		t.Errorf("batch got %v", got)
	}
}

// TestLoneAnswer: an answer that is a lone response goes to Mode.Lone, under the
// client's id and after Rewrite; the stream then ends with nothing for its reader.
func TestLoneAnswer(t *testing.T) {
	r := newRegistry(t, Options{})
	s := newSession(t, r, "alice")
	lone := make(chan string, 2)
	mode := Mode{
		Rewrite: func(b []byte) []byte { return []byte(strings.Replace(string(b), `"who"`, `"rewritten"`, 1)) },
		Lone:    func(b []byte) bool { lone <- string(b); return true },
	}
	send := func(streaming bool, msg string) *Stream {
		t.Helper()
		m, err := jsonrpc.Parse([]byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		st, err := s.SubmitWith([]*jsonrpc.Message{m}, streaming, mode)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if got := collect(t, send(true, `{"jsonrpc":"2.0","id":"x","method":"echo","params":{"who":"a"}}`)); len(got) != 0 {
		t.Errorf("the stream carried %v after a lone answer", got)
	}
	select {
	case m := <-lone:
		if !strings.Contains(m, `"id":"x"`) || !strings.Contains(m, `"rewritten":"a"`) {
			t.Errorf("lone got %s, want the rewritten response under the client's id", m)
		}
	default:
		t.Fatal("lone was not called")
	}
	// With progress on the request's stream, the answer is not alone: every message
	// goes to the stream.
	if got := collect(t, send(true, `{"jsonrpc":"2.0","id":7,"method":"progress","params":{"steps":2,"_meta":{"progressToken":"tok"}}}`)); len(got) != 3 {
		t.Errorf("streamed progress: the stream got %v, want 2 progress and the response", got)
	}
	// A JSON-only exchange sends its progress to the GET stream: the response is alone.
	get, err := s.OpenStream("")
	if err != nil {
		t.Fatal(err)
	}
	defer get.Close(false)
	if got := collect(t, send(false, `{"jsonrpc":"2.0","id":8,"method":"progress","params":{"steps":1,"_meta":{"progressToken":"t2"}}}`)); len(got) != 0 {
		t.Errorf("JSON exchange: the stream carried %v", got)
	}
	if len(lone) != 1 || !strings.Contains(<-lone, `"id":8`) {
		t.Error("the JSON exchange's response did not go to lone")
	}
}

func TestProgressOnRequestStream(t *testing.T) {
	r := newRegistry(t, Options{})
	s := newSession(t, r, "alice")
	got := collect(t, submit(t, s, true, `{"jsonrpc":"2.0","id":7,"method":"progress","params":{"steps":3,"_meta":{"progressToken":"tok"}}}`))
	if len(got) != 4 {
		t.Fatalf("got %d messages, want 3 progress + response: %v", len(got), got)
	}
	for _, m := range got[:3] {
		if !strings.Contains(m, `"progressToken":"tok"`) {
			t.Errorf("message %s is not the request's progress", m)
		}
	}
	if !strings.Contains(got[3], `"id":7`) {
		t.Errorf("last message %s is not the response", got[3])
	}
	// A JSON-only exchange cannot carry progress: it only gets its response, and the
	// progress goes to the GET stream.
	get, err := s.OpenStream("")
	if err != nil {
		t.Fatal(err)
	}
	defer get.Close(false)
	got = collect(t, submit(t, s, false, `{"jsonrpc":"2.0","id":8,"method":"progress","params":{"steps":1,"_meta":{"progressToken":"t2"}}}`))
	if len(got) != 1 || !strings.Contains(got[0], `"id":8`) {
		t.Errorf("JSON exchange got %v, want only its response", got)
	}
	if msgs := available(get); len(msgs) != 1 || !strings.Contains(msgs[0], "t2") {
		t.Errorf("GET stream got %q, want the progress", msgs)
	}
}

func TestServerRequestDuringCall(t *testing.T) {
	r := newRegistry(t, Options{})
	s := newSession(t, r, "alice")
	rd := submit(t, s, true, `{"jsonrpc":"2.0","id":"c1","method":"sample"}`)
	var events []Event
	var done bool
	for len(events) == 0 && !done {
		<-rd.Ready()
		events, done, _ = rd.Next()
	}
	if done || len(events) != 1 || !strings.Contains(string(events[0].Msg), `"method":"sampling/createMessage"`) {
		t.Fatalf("request stream got %v (done %v), want the server's sampling request", events, done)
	}
	// The client answers on a new POST: relayed with the server's own id, 202-style.
	if ex2 := submit(t, s, true, `{"jsonrpc":"2.0","id":"srv-1","result":{"text":"42"}}`); ex2 != nil {
		t.Fatal("a client response opened an exchange")
	}
	got := drain(t, rd)
	if len(got) != 1 || !strings.Contains(got[0], `"id":"c1"`) || !strings.Contains(got[0], `"text":"42"`) {
		t.Errorf("final response = %v", got)
	}
}

func TestUnrelatedMessagesWaitForStream(t *testing.T) {
	r := newRegistry(t, Options{})
	s := newSession(t, r, "alice")
	collect(t, submit(t, s, false, `{"jsonrpc":"2.0","id":1,"method":"notify"}`))
	first, err := s.OpenStream("")
	if err != nil {
		t.Fatal(err)
	}
	// A second stream replaces the first and takes over what the first had not read.
	second, err := s.OpenStream("")
	if err != nil {
		t.Fatalf("second OpenStream: %v", err)
	}
	if _, done, replaced := first.Next(); !done || !replaced {
		t.Errorf("replaced reader: done %v replaced %v, want both", done, replaced)
	}
	if msgs := available(second); len(msgs) != 1 || !strings.Contains(msgs[0], "notifications/message") {
		t.Errorf("GET stream got %q, want the waiting notification", msgs)
	}
	first.Close(false) // the old stream's handler ending must not detach the new one
	collect(t, submit(t, s, false, `{"jsonrpc":"2.0","id":2,"method":"notify"}`))
	if msgs := available(second); len(msgs) != 1 {
		t.Errorf("after the old stream ended, the new one got %q, want the notification", msgs)
	}
	// Resuming the GET stream from its first event replays the second one.
	resumed, err := s.OpenStream(s.standalone.EventID(1))
	if err != nil {
		t.Fatal(err)
	}
	if msgs := available(resumed); len(msgs) != 1 {
		t.Errorf("resumed GET stream replayed %q, want the one event after g_1", msgs)
	}
	for _, bad := range []string{"e99_1", "g", "g_x", "g_-1", "_1"} {
		if _, err := s.OpenStream(bad); !errors.Is(err, ErrUnknownEvent) {
			t.Errorf("Last-Event-ID %q: %v, want ErrUnknownEvent", bad, err)
		}
	}
}

func TestResumeRequestStream(t *testing.T) {
	r := newRegistry(t, Options{ResumeWindow: 300 * time.Millisecond})
	s := newSession(t, r, "alice")
	first := submit(t, s, true, `{"jsonrpc":"2.0","id":"c1","method":"sample"}`)
	ex := first.ex
	for len(available(first)) == 0 {
		<-first.Ready()
	}
	first.EventID(1) // the client was given the event ids
	// The connection drops after event 1; the request is not cancelled at once.
	first.Close(false)
	submit(t, s, true, `{"jsonrpc":"2.0","id":"srv-1","result":{"text":"42"}}`)
	resumed, err := s.OpenStream(ex.Box.EventID(1))
	if err != nil || resumed.ex != ex {
		t.Fatalf("OpenStream(%s) = %v, %v", ex.Box.EventID(1), resumed, err)
	}
	if msgs := drain(t, resumed); len(msgs) != 1 || !strings.Contains(msgs[0], `"id":"c1"`) {
		t.Errorf("resumed stream got %v, want the final response only", msgs)
	}
	// Within the window, the finished stream can be replayed from its start.
	again, err := s.OpenStream(ex.Box.EventID(0))
	if err != nil {
		t.Fatal(err)
	}
	if msgs := drain(t, again); len(msgs) != 2 {
		t.Errorf("replay got %v, want both events", msgs)
	}
	// Once delivered to the end, it is forgotten.
	again.Close(true)
	if _, err := s.OpenStream(ex.Box.EventID(0)); !errors.Is(err, ErrUnknownEvent) {
		t.Errorf("resuming a forgotten stream: %v, want ErrUnknownEvent", err)
	}

	// Nobody comes back: after the window the request is cancelled in the child.
	hang := submit(t, s, true, `{"jsonrpc":"2.0","id":"h","method":"hang"}`)
	hang.EventID(0)
	hang.Close(false)
	deadline := time.Now().Add(20 * time.Second)
	for !hang.ex.Box.IsClosed() { // closes when the window passes and the call is abandoned
		if time.Now().After(deadline) {
			t.Fatal("the abandoned request's stream never closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	got2 := collect(t, submit(t, s, false, `{"jsonrpc":"2.0","id":"q","method":"cancelled"}`))
	if len(got2) != 1 || !strings.Contains(got2[0], jsonInt(hang.ex.calls[0].childID)) {
		t.Errorf("the child was not told to cancel the abandoned request: %v", got2)
	}

	// A stream whose ids the client never got (a JSON answer) is abandoned at once.
	quick := submit(t, s, true, `{"jsonrpc":"2.0","id":"h2","method":"hang"}`)
	quick.Close(false)
	if !quick.ex.Box.IsClosed() {
		t.Error("a stream cut short before any event id was not abandoned at once")
	}
}

func TestCancellationIsMapped(t *testing.T) {
	r := newRegistry(t, Options{})
	s := newSession(t, r, "alice")
	hang := submit(t, s, true, `{"jsonrpc":"2.0","id":"h","method":"hang"}`)
	childID := hang.ex.calls[0].childID
	submit(t, s, true, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"h","reason":"user"}}`)
	if got := collect(t, hang); len(got) != 1 || errorCode(got[0]) != jsonrpc.CodeRequestCancelled || !strings.Contains(got[0], `"id":"h"`) {
		t.Errorf("a cancelled request got %v, want only error %d closing its answer", got, jsonrpc.CodeRequestCancelled)
	}
	// A cancellation of a request that is over is not passed on: its id could name
	// another of the child's requests.
	submit(t, s, true, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}`)
	got := collect(t, submit(t, s, false, `{"jsonrpc":"2.0","id":"q","method":"cancelled"}`))
	var res struct {
		Result struct{ IDs []json.RawMessage } `json:"result"`
	}
	if len(got) != 1 || json.Unmarshal([]byte(got[0]), &res) != nil {
		t.Fatalf("cancelled query got %v", got)
	}
	if len(res.Result.IDs) != 1 || string(res.Result.IDs[0]) != jsonInt(childID) {
		t.Errorf("child saw cancellations %s, want only [%d]", res.Result.IDs, childID)
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestRequestTimeout(t *testing.T) {
	r := newRegistry(t, Options{RequestTimeout: 300 * time.Millisecond})
	s := newSession(t, r, "alice")
	got := collect(t, submit(t, s, true, `{"jsonrpc":"2.0","id":"slow","method":"hang"}`))
	if len(got) != 1 || errorCode(got[0]) != jsonrpc.CodeRequestTimeout || !strings.Contains(got[0], `"id":"slow"`) {
		t.Fatalf("timed out request got %v, want error %d", got, jsonrpc.CodeRequestTimeout)
	}
	got = collect(t, submit(t, s, false, `{"jsonrpc":"2.0","id":"q","method":"cancelled"}`))
	if len(got) != 1 || !strings.Contains(got[0], `"ids":[`) || strings.Contains(got[0], `"ids":[]`) {
		t.Errorf("the child was not told to cancel: %v", got)
	}
}

func TestChildCrash(t *testing.T) {
	r := newRegistry(t, Options{})
	s := newSession(t, r, "alice")
	pending := submit(t, s, true, `{"jsonrpc":"2.0","id":"p","method":"hang"}`)
	submit(t, s, true, `{"jsonrpc":"2.0","id":"c","method":"crash"}`)
	got := collect(t, pending)
	if len(got) != 1 || errorCode(got[0]) != jsonrpc.CodeSessionEnded {
		t.Errorf("pending request got %v, want error %d", got, jsonrpc.CodeSessionEnded)
	}
	select {
	case <-s.Ended():
	case <-time.After(20 * time.Second):
		t.Fatal("session did not end")
	}
	if _, err := r.Get(s.ID, "alice"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after crash: %v, want ErrNotFound", err)
	}
	if _, err := s.Submit(nil, false); !errors.Is(err, ErrEnded) {
		t.Errorf("Submit after crash: %v, want ErrEnded", err)
	}
}

func TestRegistry(t *testing.T) {
	r := newRegistry(t, Options{MaxSessions: 2, MaxPerUser: 1, IdleTimeout: 200 * time.Millisecond})
	// At the user's limit, an idle session makes room (no lock-out); a busy one does not.
	old := newSession(t, r, "alice")
	end, err := old.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Create("alice"); !errors.Is(err, ErrTooManyUserSessions) {
		t.Errorf("second session of one user while the first is busy: %v, want ErrTooManyUserSessions", err)
	}
	end()
	a := newSession(t, r, "alice")
	if _, err := r.Get(old.ID, "alice"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the least recently used idle session was not ended for the new one: %v", err)
	}
	select {
	case <-old.Ended():
	case <-time.After(20 * time.Second):
		t.Fatal("the evicted session's child did not stop")
	}
	newSession(t, r, "bob")
	if _, err := r.Create("carol"); !errors.Is(err, ErrTooManySessions) {
		t.Errorf("third Create: %v, want ErrTooManySessions", err)
	}
	if _, err := r.Get(a.ID, "bob"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get by another user: %v, want ErrNotFound", err)
	}
	if got, err := r.Get(a.ID, "alice"); err != nil || got != a {
		t.Errorf("Get by the owner: %v, %v", got, err)
	}
	if len(a.ID) != 32 || strings.Trim(a.ID, "0123456789abcdef") != "" {
		t.Errorf("session id %q is not 128 bits of hex", a.ID)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Reap(ctx, 20*time.Millisecond)
	deadline := time.Now().Add(20 * time.Second)
	for r.Len() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d idle sessions were not reaped", r.Len())
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.CloseAll(context.Background())
	if _, err := r.Create("dave"); !errors.Is(err, ErrShuttingDown) {
		t.Errorf("Create after CloseAll: %v, want ErrShuttingDown", err)
	}
}
