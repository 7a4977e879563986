// Package session owns the MCP sessions of the bridge: one child process per session,
// the mapping between the ids the client chose and the ids the child sees, and the
// routing of every message the child writes to the HTTP stream that should carry it.
package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/child"
	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/jsonrpc"
)

// Errors of the session API.
var (
	ErrEnded           = errors.New("session ended")
	ErrNotFound        = errors.New("unknown or ended session")
	ErrTooManySessions = errors.New("too many sessions")
	// ErrTooManyUserSessions: the user already holds the most sessions one user may.
	ErrTooManyUserSessions = errors.New("too many sessions for this user")
	ErrShuttingDown        = errors.New("bridge is shutting down")
	ErrUnknownEvent        = errors.New("unknown or expired Last-Event-ID")
)

// Stream limits. The GET stream keeps its last standaloneLimit events: for a client
// that has no GET stream open yet (a list_changed before it opens one), and for
// resumption. A request's stream keeps up to exchangeLimit events.
const (
	standaloneLimit = 256
	exchangeLimit   = 1024
	// standaloneKey is the GET stream's part of event ids; a request's stream is "e<n>".
	standaloneKey = "g"
	// DefaultResumeWindow is how long a request's stream waits for its client to come
	// back with Last-Event-ID after the connection dropped, before the request is
	// cancelled; and how long a finished stream can still be replayed.
	DefaultResumeWindow = 30 * time.Second
)

// Exchange is the set of requests of one POST, and the mailbox their responses (and the
// messages that belong to them) arrive in. The mailbox closes after the last response.
type Exchange struct {
	Box *Mailbox
	// Streaming is whether the client accepts text/event-stream, that is, whether the
	// exchange may carry messages other than its responses.
	Streaming bool

	remaining int // guarded by the session's mutex
	calls     []*call
	grace     *time.Timer // running while no client reads an unfinished stream
}

type call struct {
	clientID json.RawMessage
	childID  int64
	method   string
	token    string // progress token, raw JSON
	mode     Mode
	// A 2025 child's requests to the client waiting for a 2026-07-28 client's retry
	// (by input key), and whether the call's answer ended with them (see mrtr.go).
	inputs    map[string]pendingInput
	suspended bool
	ex        *Exchange
	timer     *time.Timer
	start     time.Time
	done      bool
}

// Mode says how the bridge treats one request and what the child sends for it.
type Mode struct {
	// Modern: a 2026-07-28 request. What the child sends while working on it reaches
	// the request's own stream only if it belongs there (progress; log messages when
	// Logs); server-to-client requests never do.
	Modern bool
	// Logs: the request asked for notifications/message (_meta logLevel).
	Logs bool
	// Translate: the child speaks a 2025 revision, so its result gains the fields
	// 2026-07-28 requires.
	Translate bool
	// Listen: a subscriptions/listen relayed to a 2026-07-28 child; it runs until the
	// client closes the stream, with no request timeout.
	Listen bool
	// Caps is the request's clientCapabilities (raw JSON).
	Caps json.RawMessage
	// Rewrite, if set, rewrites the final response (carrying the client's id) before
	// anyone sees it: the tool policy's filtered tools/list.
	Rewrite func([]byte) []byte
	// Lone, if set, is given the answer of a POST of one request when the response is
	// all the answer holds (see [Mailbox.SetLone]).
	Lone func([]byte) bool
}

// Session is one MCP session: its id, its user and its child process.
type Session struct {
	// ID is the Mcp-Session-Id, cryptographically random.
	ID string
	// User is the X-User-Id of the request that created the session.
	User string

	log        *slog.Logger
	proc       *child.Process
	reqTimeout time.Duration
	resume     time.Duration
	onEnd      func(*Session)
	states     *states // signs the requestState of suspended calls

	mu         sync.Mutex
	version    string // negotiated protocol version, once initialize succeeded
	nextID     int64
	calls      map[int64]*call
	byClient   map[string]*call
	progress   map[string]*call
	standalone *Mailbox
	streams    map[string]*Exchange // resumable request streams, by mailbox key
	nextStream int
	closed     bool
	crashed    bool // the child exited without being asked to (set when it did)
	busy       int  // HTTP requests in progress
	lastActive time.Time
	ended      chan struct{}

	owned bool // given to a user (a session or a pool); false while a spare
	// Set for children that serve 2026-07-28 requests of one user (see [Registry.Pooled]).
	pooled    bool
	modern    bool            // the child itself speaks 2026-07-28: relayed untranslated
	initRes   json.RawMessage // a 2025 child's answer to the bridge's own initialize
	listeners map[*Exchange]*listener
	internal  int64 // ids of the bridge's own requests to the child
}

// Version returns the protocol version negotiated by initialize, or "" before it.
func (s *Session) Version() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

// SetVersion records the protocol version the child agreed to in initialize.
func (s *Session) SetVersion(v string) {
	s.mu.Lock()
	s.version = v
	s.mu.Unlock()
}

func (s *Session) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Ended is closed once the session is over and its child is gone.
func (s *Session) Ended() <-chan struct{} { return s.ended }

// Begin marks an HTTP request as in progress on the session (it is not idle then) and
// returns the function that ends it. It fails once the session has ended.
func (s *Session) Begin() (end func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrEnded
	}
	s.busy++
	s.lastActive = time.Now()
	return func() {
		s.mu.Lock()
		s.busy--
		s.lastActive = time.Now()
		s.mu.Unlock()
	}, nil
}

func (s *Session) idleSince(now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A closed session is already on its way out: the reaper must not close it again.
	// An open GET stream alone does not keep a session: a client that opened one and
	// never reads it must not pin a child for ever.
	if s.closed || s.busy > 0 || len(s.calls) > 0 || len(s.listeners) > 0 {
		return 0
	}
	return now.Sub(s.lastActive)
}

// Submit relays the messages of one POST to the child. Requests get fresh child-side
// ids and are tracked until their response; the returned stream carries their answers
// (nil when there were no requests: notifications and responses only). An event stream
// of such an answer can be resumed.
func (s *Session) Submit(msgs []*jsonrpc.Message, streaming bool) (*Stream, error) {
	return s.SubmitWith(msgs, streaming, Mode{})
}

// SubmitWith is Submit with mode's Rewrite and Lone (see [Mode]); its other fields are
// for 2026-07-28 requests and are ignored here.
func (s *Session) SubmitWith(msgs []*jsonrpc.Message, streaming bool, mode Mode) (*Stream, error) {
	ex, err := s.submit(msgs, streaming, Mode{Rewrite: mode.Rewrite, Lone: mode.Lone})
	if ex == nil {
		return nil, err
	}
	return s.newStream(ex, ex.Box, ex.Box.Attach(0), streaming), err
}

// SubmitModern relays one 2026-07-28 request. Its stream is not resumable.
func (s *Session) SubmitModern(m *jsonrpc.Message, streaming bool, mode Mode) (*Stream, error) {
	mode.Modern = true
	mode.Translate = !s.modern
	mode.Listen = s.modern && m.Method == "subscriptions/listen"
	ex, err := s.submit([]*jsonrpc.Message{m}, streaming, mode)
	if ex == nil {
		return nil, err
	}
	return s.newStream(ex, ex.Box, ex.Box.Attach(0), false), err
}

func (s *Session) submit(msgs []*jsonrpc.Message, streaming bool, mode Mode) (*Exchange, error) {
	var ex *Exchange
	out := make([][]byte, 0, len(msgs))
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrEnded
	}
	for _, m := range msgs {
		switch m.Kind {
		case jsonrpc.KindRequest:
			if ex == nil {
				s.nextStream++
				ex = &Exchange{Box: NewMailbox("e"+strconv.Itoa(s.nextStream), exchangeLimit), Streaming: streaming}
				if mode.Lone != nil {
					ex.Box.SetLone(mode.Lone)
				}
				if streaming && !mode.Modern { // 2026-07-28 streams are not resumable
					s.streams[ex.Box.Key()] = ex
				}
			}
			s.nextID++
			c := &call{clientID: m.ID, childID: s.nextID, method: m.Method, mode: mode, ex: ex, start: time.Now()}
			s.calls[c.childID] = c
			s.byClient[string(m.ID)] = c
			if m.ProgressToken != nil {
				c.token = string(m.ProgressToken)
				s.progress[c.token] = c
			}
			ex.remaining++
			ex.calls = append(ex.calls, c)
			out = append(out, m.WithID(json.RawMessage(strconv.FormatInt(c.childID, 10))))
		case jsonrpc.KindNotification:
			if m.RequestID != nil {
				// A cancellation names the client's id; the child only knows its own.
				// A cancellation for a request that is already over (answered, timed out,
				// or abandoned when the client hung up, which already told the child) is
				// dropped: passed on as is, its id could name another request of the child.
				if c, ok := s.byClient[string(m.RequestID)]; ok {
					out = append(out, m.WithRequestID(json.RawMessage(strconv.FormatInt(c.childID, 10))))
					// The request's HTTP answer may still be open: end it with an error,
					// which the client ignores (it gave up on the request).
					s.finishLocked(c, jsonrpc.ErrorResponse(c.clientID, jsonrpc.CodeRequestCancelled,
						"request cancelled by the client"), "cancelled by client")
				}
				continue
			}
			out = append(out, m.Raw)
		default:
			// Responses answer the child's own requests, whose ids it chose: as is.
			out = append(out, m.Raw)
		}
	}
	if ex != nil && s.reqTimeout > 0 && !mode.Listen {
		for _, c := range ex.calls {
			c.timer = time.AfterFunc(s.reqTimeout, func() { s.timeout(c) })
		}
	}
	s.mu.Unlock()
	for _, msg := range out {
		if err := s.proc.Send(msg); err != nil {
			// The child is gone or does not read its input any more: either way the
			// session is over, and its pending requests get their error.
			go s.Close(context.Background(), "cannot write to the MCP server: "+err.Error())
			return ex, fmt.Errorf("%w: %w", ErrEnded, err)
		}
	}
	return ex, nil
}

// finishLocked ends a call: it forgets it and, if reply is not nil, delivers reply as
// its final message. The exchange's mailbox closes with its last call.
func (s *Session) finishLocked(c *call, reply []byte, outcome string) {
	if c.done {
		return
	}
	c.done = true
	if c.timer != nil {
		c.timer.Stop()
	}
	delete(s.calls, c.childID)
	if cur, ok := s.byClient[string(c.clientID)]; ok && cur == c {
		delete(s.byClient, string(c.clientID))
	}
	if c.token != "" {
		if cur, ok := s.progress[c.token]; ok && cur == c {
			delete(s.progress, c.token)
		}
	}
	c.ex.remaining--
	if c.ex.remaining == 0 {
		c.ex.Box.PushClose(reply)
	} else if reply != nil {
		c.ex.Box.Push(reply)
	}
	if s.log.Enabled(context.Background(), slog.LevelInfo) {
		s.log.Info("request", "method", c.method, "duration", time.Since(c.start), "status", outcome)
	}
}

// timeout gives up on a call: the child is told to cancel it and the client gets an
// error in place of the response.
func (s *Session) timeout(c *call) {
	s.mu.Lock()
	if c.done || s.closed {
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	// The child hears of the cancellation before the client hears of the timeout. Should
	// the response slip in between, the client gets it and the cancellation is moot.
	msg := fmt.Sprintf("request timed out after %s", s.reqTimeout)
	_ = s.proc.Send(cancelled(c.childID, msg))
	s.mu.Lock()
	s.finishLocked(c, jsonrpc.ErrorResponse(c.clientID, jsonrpc.CodeRequestTimeout, msg), "timeout")
	s.mu.Unlock()
}

func cancelled(childID int64, reason string) []byte {
	return jsonrpc.Notification("notifications/cancelled", map[string]any{
		"requestId": childID,
		"reason":    reason,
	})
}

// onMessage routes one line the child wrote.
func (s *Session) onMessage(line []byte) {
	m, err := jsonrpc.Parse(line)
	if err != nil {
		s.log.Warn("dropped invalid message from child", "error", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.Kind == jsonrpc.KindResponse {
		id, err := strconv.ParseInt(string(m.ID), 10, 64)
		c, ok := s.calls[id]
		if err != nil || !ok {
			s.log.Debug("dropped response to an unknown or abandoned request", "id", string(m.ID))
			return
		}
		outcome := "ok"
		if m.IsError() {
			outcome = "error"
		}
		if c.method == "initialize" && !c.mode.Modern {
			s.initializedLocked(m)
		}
		out := modernResponse(m.WithID(c.clientID), c)
		if c.mode.Rewrite != nil {
			out = c.mode.Rewrite(out)
		}
		s.finishLocked(c, out, outcome)
		return
	}
	// line belongs to the child's reader: what is passed on as it is must be copied.
	msg := bytes.Clone(m.Raw)
	if m.Method == "notifications/progress" {
		if m.ProgressToken != nil {
			if c, ok := s.progress[string(m.ProgressToken)]; ok && c.ex.Streaming {
				c.ex.Box.Push(msg)
				return
			}
		}
	}
	if s.pooled {
		s.deliverPooledLocked(m, msg)
		return
	}
	s.deliverLocked(msg)
}

// initializedLocked records the negotiated version; a failed initialize ends the
// session, whose id the client will never use.
func (s *Session) initializedLocked(m *jsonrpc.Message) {
	if v := m.ResultProtocolVersion(); v != "" {
		s.version = v
		return
	}
	go s.Close(context.Background(), "initialize failed")
}

// deliverLocked sends a message that answers no particular request: on the stream of
// the oldest running request that can carry it (a stdio server sends sampling,
// elicitation and log messages while it works on a request), else on the GET stream,
// which keeps it until a client reads it.
func (s *Session) deliverLocked(msg []byte) {
	var oldest *call
	for _, c := range s.calls {
		if c.ex.Streaming && (oldest == nil || c.childID < oldest.childID) {
			oldest = c
		}
	}
	if oldest != nil && oldest.ex.Box.Push(msg) {
		return
	}
	s.standalone.Push(msg)
}

// Close ends the session and stops its child; it returns when the child is gone or ctx
// ends.
func (s *Session) Close(ctx context.Context, reason string) {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	proc := s.proc
	s.mu.Unlock()
	if !already {
		s.log.Info("ending session", "reason", reason)
	}
	if proc != nil {
		proc.Stop(ctx)
	}
}

// onExit runs once the child is gone: every open request gets an error, every stream
// ends, and the registry forgets the session.
func (s *Session) onExit(err error) {
	s.mu.Lock()
	s.crashed = !s.closed // nobody asked it to stop
	s.closed = true
	for _, c := range s.calls {
		s.finishLocked(c, jsonrpc.ErrorResponse(c.clientID, jsonrpc.CodeSessionEnded,
			"the MCP server process of this session exited"), "session ended")
	}
	s.standalone.Close()
	for ex := range s.listeners {
		ex.Box.Close()
	}
	s.mu.Unlock()
	attrs := []any{}
	if err != nil {
		attrs = append(attrs, "exit", err.Error())
	}
	s.log.Info("session ended", attrs...)
	s.onEnd(s)
	close(s.ended)
}
