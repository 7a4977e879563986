// Package streamable serves the MCP Streamable HTTP transport (protocol versions
// 2025-03-26, 2025-06-18 and 2025-11-25) on one endpoint, relaying every message to
// and from the session's stdio child through package session.
package streamable

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mcp-oauth-gateway/gateway/internal/contract"
	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/jsonrpc"
	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/metrics"
	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/policy"
	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/session"
)

// Header names of the transport.
const (
	HeaderSessionID       = "Mcp-Session-Id"
	HeaderProtocolVersion = "Mcp-Protocol-Version"
)

// DefaultProtocolVersion is assumed when a request has no MCP-Protocol-Version header,
// as the 2025-06-18 specification requires for backwards compatibility.
const DefaultProtocolVersion = "2025-03-26"

// firstVersionWithoutBatches is the protocol version that removed JSON-RPC batching.
const firstVersionWithoutBatches = "2025-06-18"

// keepAlive is how often an idle GET stream gets a comment.
const keepAlive = 25 * time.Second

// Sessions is what the handler needs of the session registry.
type Sessions interface {
	Create(user string) (*session.Session, error)
	Get(id, user string) (*session.Session, error)
	// Pooled returns a child of the user's pool for a 2026-07-28 request.
	Pooled(ctx context.Context, user string) (*session.Session, error)
	// Resume continues the suspended call a multi round-trip retry's requestState names.
	Resume(user, state string, id, responses json.RawMessage, streaming bool) (*session.Session, *session.Stream, error)
	// StateSession returns the session a requestState of user names.
	StateSession(user, state string) (string, error)
}

// Replicas forwards requests to the other replicas of the bridge (package replica).
type Replicas interface {
	// Forward serves a request for a session another replica holds there. forwarded
	// reports that it did; gone, that the owner could not be reached and nothing was
	// written.
	Forward(w http.ResponseWriter, r *http.Request, sessionID string) (forwarded, gone bool)
	// ForwardUser serves a 2026-07-28 request (body already read) at the replica that
	// serves user, when that is another one, and reports whether it did.
	ForwardUser(w http.ResponseWriter, r *http.Request, user string, body []byte) bool
}

// Options configure a [Handler].
type Options struct {
	// AllowedOrigins: see newOriginPolicy. Empty means loopback origins only.
	AllowedOrigins []string
	// ProtocolVersions are the 2025-era versions accepted in MCP-Protocol-Version
	// (sessions and initialize). Required.
	ProtocolVersions []string
	// ModernVersions are the 2026-07-28-era versions served statelessly; none: the
	// bridge answers every request the 2025 way.
	ModernVersions []string
	// MaxMessage is the largest POST body in bytes (one message or one batch). Required.
	MaxMessage int64
	// Policy limits the tools a caller may list and call; nil allows everything.
	Policy *policy.Policy
	// Replicas, when several replicas serve this bridge, forwards requests for the
	// sessions of the others; nil: one bridge.
	Replicas Replicas
	Logger   *slog.Logger
}

// Handler serves /mcp.
type Handler struct {
	sessions    Sessions
	origins     *originPolicy
	versions    []string // 2025 era
	modern      []string // 2026-07-28 era
	allVersions []string // modern then 2025, as server/discover and -32022 list them
	maxBody     int64
	policy      *policy.Policy
	replicas    Replicas
	params      paramHeaders
	log         *slog.Logger
}

// New validates opts and returns the handler.
func New(sessions Sessions, opts Options) (*Handler, error) {
	origins, err := newOriginPolicy(opts.AllowedOrigins)
	if err != nil {
		return nil, err
	}
	if len(opts.ProtocolVersions) == 0 {
		return nil, errors.New("streamable: no protocol versions allowed")
	}
	if opts.MaxMessage <= 0 {
		return nil, errors.New("streamable: max message size must be positive")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{sessions: sessions, origins: origins, versions: opts.ProtocolVersions,
		modern: opts.ModernVersions, allVersions: append(slices.Clone(opts.ModernVersions), opts.ProtocolVersions...),
		maxBody: opts.MaxMessage, policy: opts.Policy, replicas: opts.Replicas, log: opts.Logger}, nil
}

// ServeHTTP dispatches on the HTTP method and logs one line per request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	var err error
	if !h.origins.allows(r.Header.Get("Origin")) {
		err = errForbiddenOrigin
	} else {
		switch r.Method {
		case http.MethodPost:
			err = h.post(rec, r)
		case http.MethodGet, http.MethodDelete:
			if v := r.Header.Get(HeaderProtocolVersion); v != "" && slices.Contains(h.modern, v) {
				err = errModernMethod
			} else if r.Method == http.MethodGet {
				err = h.get(rec, r)
			} else {
				err = h.delete(rec, r)
			}
		default:
			err = errMethod
		}
	}
	var he *httpError
	if errors.As(err, &he) && !rec.wrote {
		he.write(rec)
	}
	code := rec.status
	if code == 0 {
		code = http.StatusOK
	}
	rpc := metrics.RPC(rec.rpc)
	metrics.Requests.WithLabelValues(rpc, strconv.Itoa(code)).Inc()
	metrics.Duration.WithLabelValues(rpc).Observe(time.Since(start).Seconds())
	if !h.log.Enabled(r.Context(), slog.LevelInfo) {
		return
	}
	attrs := []any{"method", r.Method, "status", rec.status, "duration", time.Since(start)}
	if sid := r.Header.Get(HeaderSessionID); sid != "" {
		attrs = append(attrs, "session", shortID(sid))
	} else if sid := rec.Header().Get(HeaderSessionID); sid != "" {
		attrs = append(attrs, "session", shortID(sid))
	}
	if rec.rpc != "" {
		attrs = append(attrs, "rpc", rec.rpc)
	}
	if err != nil {
		attrs = append(attrs, "error", err.Error())
	}
	h.log.Info("http request", attrs...)
}

// shortID is the prefix of a session id that the logs show: enough to correlate, not
// enough to use.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// checkVersion applies the MCP-Protocol-Version rule and returns the effective version.
func (h *Handler) checkVersion(r *http.Request) (string, error) {
	v := r.Header.Get(HeaderProtocolVersion)
	if v == "" {
		return DefaultProtocolVersion, nil
	}
	if !slices.Contains(h.versions, v) {
		return "", &httpError{status: http.StatusBadRequest, code: jsonrpc.CodeUnsupportedVersion,
			message: fmt.Sprintf("Bad Request: unsupported MCP-Protocol-Version %q (supported: %s)",
				v, strings.Join(h.allVersions, ", ")),
			data: map[string]any{"supported": h.allVersions, "requested": v}}
	}
	return v, nil
}

// lookup finds the session named by the request for the requesting user. When
// another replica holds it, the request is forwarded there and lookup returns no
// session and no error: the answer is written.
func (h *Handler) lookup(w *recorder, r *http.Request) (*session.Session, error) {
	id := r.Header.Get(HeaderSessionID)
	if id == "" {
		return nil, errNoSession
	}
	if h.replicas != nil {
		if forwarded, gone := h.replicas.Forward(w, r, id); gone {
			return nil, errNotFound
		} else if forwarded {
			return nil, nil
		}
	}
	s, err := h.sessions.Get(id, r.Header.Get(contract.HeaderUserID))
	if err != nil {
		return nil, errNotFound
	}
	return s, nil
}

func (h *Handler) post(w *recorder, r *http.Request) error {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		return &httpError{status: http.StatusUnsupportedMediaType, code: jsonrpc.CodeInvalidRequest,
			message: "Unsupported Media Type: Content-Type must be application/json"}
	}
	acceptJSON, acceptSSE := accepts(r.Header.Get("Accept"))
	if !acceptJSON && !acceptSSE {
		return &httpError{status: http.StatusNotAcceptable, code: jsonrpc.CodeInvalidRequest,
			message: "Not Acceptable: Accept must include application/json and text/event-stream"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &httpError{status: http.StatusRequestEntityTooLarge, code: jsonrpc.CodeInvalidRequest,
				message: fmt.Sprintf("Request Entity Too Large: a message may have at most %d bytes", h.maxBody)}
		}
		return badRequest("Bad Request: reading the body: " + err.Error())
	}
	r.Body = io.NopCloser(bytes.NewReader(body)) // read again if forwarded to another replica
	msgs, batch, err := parseBody(body)
	if err != nil {
		return err
	}
	w.rpc = methods(msgs)
	if len(h.modern) > 0 && h.isModern(r, msgs) {
		return h.postModern(w, r, body, msgs, batch, acceptJSON, acceptSSE)
	}
	if isInitialize(msgs) {
		if batch {
			return badRequest("Bad Request: initialize must not be part of a batch")
		}
		if r.Header.Get(HeaderSessionID) != "" {
			return badRequest("Bad Request: initialize must be sent without Mcp-Session-Id")
		}
		return h.initialize(w, r, msgs[0], acceptJSON, acceptSSE)
	}
	s, err := h.lookup(w, r)
	if err != nil || s == nil {
		return err
	}
	version, err := h.checkVersion(r)
	if err != nil {
		return err
	}
	if batch && version >= firstVersionWithoutBatches {
		return badRequest(fmt.Sprintf("Bad Request: JSON-RPC batches are not supported in protocol version %s", version))
	}
	if err := h.checkTools(w, r, msgs, batch); err != nil || w.wrote {
		return err
	}
	end, err := s.Begin()
	if err != nil {
		return errNotFound
	}
	defer end()
	mode := session.Mode{Rewrite: h.toolsListHook(r, msgs)}
	var ln *lone
	if acceptJSON && !batch {
		ln = newLone(w, func(w *recorder, msg []byte) error { return writeJSON(w, [][]byte{msg}, false) })
		mode.Lone = ln.deliver
	}
	st, err := s.SubmitWith(msgs, acceptSSE, mode)
	if err != nil && st == nil {
		return errNotFound
	}
	if st == nil {
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	return h.respond(w, r, st, batch, acceptJSON, ln)
}

func (h *Handler) initialize(w *recorder, r *http.Request, msg *jsonrpc.Message, acceptJSON, acceptSSE bool) error {
	s, err := h.sessions.Create(r.Header.Get(contract.HeaderUserID))
	switch {
	case errors.Is(err, session.ErrTooManySessions):
		return &httpError{status: http.StatusServiceUnavailable, code: jsonrpc.CodeUnavailable, retryAfter: 30,
			message: "Service Unavailable: the bridge has reached its session limit; close unused sessions or retry later"}
	case errors.Is(err, session.ErrTooManyUserSessions):
		return &httpError{status: http.StatusTooManyRequests, code: jsonrpc.CodeUnavailable, retryAfter: 30,
			message: "Too Many Requests: you hold the most sessions one user may and every one is working on a request; retry when one is done"}
	case errors.Is(err, session.ErrShuttingDown):
		return errShutdown
	case err != nil:
		h.log.Error("starting the MCP server failed", "error", err)
		return &httpError{status: http.StatusInternalServerError, code: jsonrpc.CodeInternalError,
			message: "Internal Server Error: the MCP server could not be started"}
	}
	end, err := s.Begin()
	if err != nil {
		return errExitedInInitialize
	}
	w.Header().Set(HeaderSessionID, s.ID)
	defer end()
	st, err := s.Submit([]*jsonrpc.Message{msg}, acceptSSE)
	if err != nil {
		w.Header().Del(HeaderSessionID)
		if st != nil {
			st.Close(false)
		}
		return errExitedInInitialize
	}
	err = h.respond(w, r, st, false, acceptJSON, nil)
	if s.Version() == "" {
		// The client never got a successful answer, so it cannot know or use the
		// session: do not let it hold a child until the idle timeout.
		go s.Close(context.Background(), "initialize not completed")
	}
	return err
}

// respond writes what the child sends for one POST. A lone response becomes an
// application/json body when the client accepts it; as soon as anything else belongs to
// the exchange (progress, a server request), or the client only takes SSE, the answer
// is an event stream that ends with the last response. Its events carry ids, so a
// client whose connection drops can resume it with GET and Last-Event-ID. ln, if not
// nil, may have written a lone response already.
func (h *Handler) respond(w *recorder, r *http.Request, st *session.Stream, batch, acceptJSON bool, ln *lone) error {
	delivered := false
	defer func() { st.Close(endLone(ln, delivered)) }()
	var sse *sseWriter
	var collected [][]byte
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-st.Ready():
		}
		events, done, replaced := st.Next()
		if replaced {
			return nil // the client resumed this stream elsewhere
		}
		if len(events) == 0 && !done {
			continue
		}
		if len(events) == 0 && ln.took() {
			return nil
		}
		if sse == nil && st.Streaming() && (!acceptJSON || !done || len(events) > 1 && !batch) {
			sse = newSSEWriter(w)
			w.wrote = true
			sse.Prime(st.EventID(0))
		}
		if sse == nil {
			for _, e := range events {
				collected = append(collected, e.Msg)
			}
			if done {
				delivered = true
				return writeJSON(w, collected, batch)
			}
			continue
		}
		for _, e := range events {
			sse.Write(st.EventID(e.Seq), e.Msg)
		}
		if err := sse.Flush(); err != nil {
			return nil // kept for the resume window: the client may come back
		}
		if done {
			delivered = true
			return nil
		}
	}
}

func writeJSON(w *recorder, msgs [][]byte, batch bool) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.wrote = true
	if !batch && len(msgs) == 1 {
		_, err := w.Write(msgs[0])
		return err
	}
	// Batch of requests: the array of their responses. (An exchange that ended without
	// any response, say all cancelled, is an empty array.)
	_, _ = io.WriteString(w, "[")
	for i, m := range msgs {
		if i > 0 {
			_, _ = io.WriteString(w, ",")
		}
		_, _ = w.Write(m)
	}
	_, err := io.WriteString(w, "]")
	return err
}

func (h *Handler) get(w *recorder, r *http.Request) error {
	if _, sse := accepts(r.Header.Get("Accept")); !sse {
		return &httpError{status: http.StatusNotAcceptable, code: jsonrpc.CodeInvalidRequest,
			message: "Not Acceptable: Accept must include text/event-stream"}
	}
	s, err := h.lookup(w, r)
	if err != nil || s == nil {
		return err
	}
	if _, err := h.checkVersion(r); err != nil {
		return err
	}
	st, err := s.OpenStream(r.Header.Get("Last-Event-ID"))
	switch {
	case errors.Is(err, session.ErrUnknownEvent):
		return badRequest("Bad Request: unknown or expired Last-Event-ID; the stream cannot be resumed")
	case err != nil:
		return errNotFound
	}
	delivered := false
	defer func() { st.Close(delivered) }()
	sse := newSSEWriter(w)
	w.wrote = true
	sse.Prime(st.EventID(st.Cursor()))
	if err := sse.Flush(); err != nil {
		return nil
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-tick.C:
			sse.Comment("keepalive")
		case <-st.Ready():
			events, done, replaced := st.Next()
			if replaced {
				return nil
			}
			for _, e := range events {
				sse.Write(st.EventID(e.Seq), e.Msg)
			}
			if done {
				delivered = sse.Flush() == nil
				return nil
			}
		}
		if err := sse.Flush(); err != nil {
			return nil
		}
	}
}

func (h *Handler) delete(w *recorder, r *http.Request) error {
	s, err := h.lookup(w, r)
	if err != nil || s == nil {
		return err
	}
	if _, err := h.checkVersion(r); err != nil {
		return err
	}
	s.Close(r.Context(), "deleted by client")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// parseBody splits a POST body into its messages. A body that is not JSON-RPC is refused
// whole: nothing of it reaches the child.
func parseBody(body []byte) ([]*jsonrpc.Message, bool, error) {
	raws, batch, err := jsonrpc.SplitBatch(body)
	if err != nil {
		return nil, batch, &httpError{status: http.StatusBadRequest, code: jsonrpc.CodeParseError,
			message: "Bad Request: " + err.Error()}
	}
	msgs := make([]*jsonrpc.Message, 0, len(raws))
	for _, raw := range raws {
		m, err := jsonrpc.Parse(raw)
		if err != nil {
			code := jsonrpc.CodeInvalidRequest
			if errors.Is(err, jsonrpc.ErrParse) {
				code = jsonrpc.CodeParseError
			}
			return nil, batch, &httpError{status: http.StatusBadRequest, code: code, message: "Bad Request: " + err.Error()}
		}
		msgs = append(msgs, m)
	}
	return msgs, batch, nil
}

func isInitialize(msgs []*jsonrpc.Message) bool {
	for _, m := range msgs {
		if m.Kind == jsonrpc.KindRequest && m.Method == "initialize" {
			return true
		}
	}
	return false
}

func methods(msgs []*jsonrpc.Message) string {
	if len(msgs) == 1 {
		if msgs[0].Method != "" {
			return msgs[0].Method
		}
		return msgs[0].Kind.String()
	}
	names := make([]string, len(msgs))
	for i, m := range msgs {
		names[i] = m.Method
		if names[i] == "" {
			names[i] = m.Kind.String()
		}
	}
	return "batch[" + strings.Join(names, ",") + "]"
}

// accepts reads an Accept header. A missing header accepts anything but is not taken as
// a promise to read an event stream.
func accepts(header string) (acceptJSON, acceptSSE bool) {
	if strings.TrimSpace(header) == "" {
		return true, false
	}
	for _, part := range strings.Split(header, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" {
			continue
		}
		switch mt {
		case "application/json", "application/*", "*/*":
			acceptJSON = true
		case "text/event-stream":
			acceptSSE = true
		}
	}
	return acceptJSON, acceptSSE
}

// recorder remembers the status for the log line and whether a body was started.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
	rpc    string
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer (Flush).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
