package streamable

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mcp-oauth-gateway/gateway/internal/contract"
	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/jsonrpc"
	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/session"
)

// Protocol revision 2026-07-28 (stateless): every request is one POST that carries its
// protocol version and the client's capabilities in params._meta, mirrored into the
// MCP-Protocol-Version, Mcp-Method and Mcp-Name headers; no session, no initialize. A
// request is served by a warm child of the user's own pool (see session.Registry.Pooled).

// Headers of 2026-07-28.
const (
	HeaderMethod = "Mcp-Method"
	HeaderName   = "Mcp-Name"
)

// removedMethods are 2025 methods that 2026-07-28 no longer has: a request for one is
// answered 404 with -32601, as for any method the server does not implement.
var removedMethods = map[string]bool{
	"initialize": true, "ping": true, "logging/setLevel": true,
	"resources/subscribe": true, "resources/unsubscribe": true,
}

// isModern reports whether the request is of the 2026-07-28 era: its
// MCP-Protocol-Version is a 2026-07-28-era version, or one the bridge does not know on a
// request without session (answered the 2026-07-28 way, with the supported versions),
// or it has no version header but its body carries the per-request _meta of 2026-07-28.
func (h *Handler) isModern(r *http.Request, msgs []*jsonrpc.Message) bool {
	if v := r.Header.Get(HeaderProtocolVersion); v != "" {
		// An unknown version on a session's request is a 2025 client's mistake.
		return slices.Contains(h.modern, v) ||
			!slices.Contains(h.versions, v) && r.Header.Get(HeaderSessionID) == ""
	}
	if len(msgs) != 1 || msgs[0].Kind != jsonrpc.KindRequest || msgs[0].Method == "initialize" ||
		r.Header.Get(HeaderSessionID) != "" {
		return false
	}
	return msgs[0].RequestMeta().HasVersion
}

// postModern serves one 2026-07-28 POST. Refusals carry the request's id, with the
// status and code the specification gives: a header that is missing or does not match
// the body 400/-32020, _meta without its required fields 400/-32602, an unsupported
// version 400/-32022 with the supported ones, a removed method 404/-32601.
func (h *Handler) postModern(w *recorder, r *http.Request, body []byte, msgs []*jsonrpc.Message, batch, acceptJSON, acceptSSE bool) error {
	if batch {
		return badRequest("Bad Request: JSON-RPC batches are not part of protocol version 2026-07-28")
	}
	m := msgs[0]
	switch m.Kind {
	case jsonrpc.KindNotification:
		// 2026-07-28 defines no client notification over HTTP (closing a stream is the
		// cancellation): accepted and dropped.
		w.WriteHeader(http.StatusAccepted)
		return nil
	case jsonrpc.KindResponse:
		return badRequest("Bad Request: a 2026-07-28 client sends no responses (server requests come as input requests in results)")
	}
	fail := func(status, code int, message string, data any) error {
		return &httpError{status: status, code: code, message: message, id: m.ID, data: data}
	}
	mismatch := func(format string, args ...any) error {
		return fail(http.StatusBadRequest, jsonrpc.CodeHeaderMismatch, "Header mismatch: "+fmt.Sprintf(format, args...), nil)
	}
	version := r.Header.Get(HeaderProtocolVersion)
	if version == "" {
		return mismatch("the MCP-Protocol-Version header is required")
	}
	switch method := r.Header.Get(HeaderMethod); {
	case method == "":
		return mismatch("the Mcp-Method header is required")
	case method != m.Method:
		return mismatch("Mcp-Method header value %q does not match body value %q", method, m.Method)
	}
	meta := m.RequestMeta()
	if !meta.HasVersion || !meta.HasCapabilities {
		return fail(http.StatusBadRequest, jsonrpc.CodeInvalidParams, "Invalid params: params._meta must carry "+
			jsonrpc.MetaProtocolVersion+" and "+jsonrpc.MetaClientCapabilities, nil)
	}
	if meta.ProtocolVersion != version {
		return mismatch("MCP-Protocol-Version header value %q does not match _meta value %q", version, meta.ProtocolVersion)
	}
	if !slices.Contains(h.modern, version) {
		return fail(http.StatusBadRequest, jsonrpc.CodeUnsupportedVersion, "Unsupported protocol version",
			map[string]any{"supported": h.allVersions, "requested": version})
	}
	if key := jsonrpc.NameMember(m.Method); key != "" {
		raw := r.Header.Get(HeaderName)
		name, ok := decodeHeaderValue(raw)
		switch {
		case raw == "":
			return mismatch("the Mcp-Name header is required for %s", m.Method)
		case !ok:
			return mismatch("the Mcp-Name header value is malformed")
		case !meta.HasName || name != meta.Name:
			return mismatch("Mcp-Name header value %q does not match body value %q (params.%s)", name, meta.Name, key)
		}
	}
	if m.Method == "tools/call" {
		if why := h.params.check(r.Header, meta.Name, meta.Arguments); why != "" {
			return mismatch("%s", why)
		}
	}
	if removedMethods[m.Method] {
		return fail(http.StatusNotFound, jsonrpc.CodeMethodNotFound,
			fmt.Sprintf("Method not found: %s is not part of protocol version %s", m.Method, version), nil)
	}
	if m.Method == "subscriptions/listen" && !acceptSSE {
		return fail(http.StatusNotAcceptable, jsonrpc.CodeInvalidRequest,
			"Not Acceptable: subscriptions/listen answers with an event stream; Accept must include text/event-stream", nil)
	}

	if err := h.checkTools(w, r, msgs, false); err != nil || w.wrote {
		return err
	}
	user := r.Header.Get(contract.HeaderUserID)
	if meta.HasRequestState && h.replicas != nil {
		// The suspended call may be another replica's: its session id says which.
		if sid, err := h.sessions.StateSession(user, meta.RequestState); err == nil {
			if forwarded, gone := h.replicas.Forward(w, r, sid); forwarded && !gone {
				return nil
			}
		}
	}
	if meta.HasRequestState {
		// A retry with input responses for a 2025 child's call the bridge suspended;
		// any other requestState belongs to a 2026-07-28 child, which checks its own.
		if s, st, err := h.sessions.Resume(user, meta.RequestState, m.ID, meta.InputResponses, acceptSSE); err == nil {
			if end, err := s.Begin(); err == nil {
				defer end()
			}
			return h.respondModern(w, r, st, acceptJSON, nil)
		}
	}
	// With replicas sharing users, the user's children (and the listen streams their
	// notifications go to) are on one replica: serve the request there.
	if h.replicas != nil && h.replicas.ForwardUser(w, r, user, body) {
		return nil
	}
	s, err := h.sessions.Pooled(r.Context(), user)
	if err != nil {
		return h.poolError(err, m)
	}
	if meta.HasRequestState && !s.Modern() {
		return fail(http.StatusBadRequest, jsonrpc.CodeInvalidParams, "Invalid params: "+session.ErrBadRequestState.Error(), nil)
	}
	end, err := s.Begin()
	if err != nil {
		return fail(http.StatusServiceUnavailable, jsonrpc.CodeInternalError,
			"Service Unavailable: the MCP server process ended; retry the request", nil)
	}
	defer end()
	var st *session.Stream
	var ln *lone
	switch {
	case m.Method == "server/discover" && !s.Modern():
		return writeModernJSON(w, s.Discover(m.ID, h.allVersions))
	case m.Method == "subscriptions/listen" && !s.Modern():
		st, err = s.Listen(m)
	default:
		mode := session.Mode{Logs: meta.HasLogLevel, Caps: meta.Capabilities, Rewrite: h.toolsListHook(r, msgs)}
		if acceptJSON {
			ln = newLone(w, writeModernJSON)
			mode.Lone = ln.deliver
		}
		st, err = s.SubmitModern(m, acceptSSE, mode)
	}
	if err != nil {
		// The child's end may have answered the request already (through ln).
		taken, _ := ln.end()
		if st != nil {
			st.Close(taken)
		}
		if taken {
			return nil
		}
		return fail(http.StatusServiceUnavailable, jsonrpc.CodeInternalError,
			"Service Unavailable: the MCP server process ended; retry the request", nil)
	}
	return h.respondModern(w, r, st, acceptJSON, ln)
}

// poolError maps a failure to get a pooled child to its answer.
func (h *Handler) poolError(err error, m *jsonrpc.Message) error {
	e := &httpError{status: http.StatusServiceUnavailable, code: jsonrpc.CodeInternalError, id: m.ID, retryAfter: 30}
	switch {
	case errors.Is(err, session.ErrTooManySessions):
		e.message = "Service Unavailable: the bridge runs the most MCP server processes it may; retry later"
	case errors.Is(err, session.ErrShuttingDown):
		e.message, e.retryAfter = errShutdown.message, errShutdown.retryAfter
	default:
		h.log.Error("no MCP server process for a 2026-07-28 request", "error", err)
		e.status, e.retryAfter = http.StatusInternalServerError, 0
		e.message = "Internal Server Error: the MCP server could not be started"
	}
	return e
}

// respondModern writes what belongs to one 2026-07-28 request: its response alone as
// application/json when the client takes it, else an event stream (no event ids: a
// 2026-07-28 stream is not resumable). Closing the stream cancels the request. ln, if
// not nil, may have written a lone response already.
func (h *Handler) respondModern(w *recorder, r *http.Request, st *session.Stream, acceptJSON bool, ln *lone) error {
	delivered := false
	defer func() { st.Close(endLone(ln, delivered)) }()
	var sse *sseWriter
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-tick.C:
			if sse != nil {
				sse.Comment("keepalive")
				if sse.Flush() != nil {
					return nil
				}
			}
			continue
		case <-st.Ready():
		}
		events, done, _ := st.Next()
		if len(events) == 0 && !done {
			continue
		}
		if len(events) == 0 && ln.took() {
			return nil
		}
		if sse == nil && acceptJSON && done && len(events) == 1 {
			delivered = true
			return writeModernJSON(w, events[0].Msg)
		}
		if sse == nil {
			sse = newSSEWriter(w)
			w.wrote = true
		}
		for _, e := range events {
			sse.Write("", e.Msg)
		}
		if err := sse.Flush(); err != nil || done {
			delivered = err == nil
			return nil
		}
	}
}

// writeModernJSON writes a lone response. An error response gets the status
// 2026-07-28 gives it: 404 for a method the server does not implement, 400 for the
// header, capability and version errors.
func writeModernJSON(w *recorder, msg []byte) error {
	status := http.StatusOK
	if m, err := jsonrpc.Reparse(msg); err == nil {
		if code, ok := m.ErrorCode(); ok {
			switch code {
			case jsonrpc.CodeMethodNotFound:
				status = http.StatusNotFound
			case jsonrpc.CodeHeaderMismatch, jsonrpc.CodeMissingCapability, jsonrpc.CodeUnsupportedVersion:
				status = http.StatusBadRequest
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.wrote = true
	_, err := w.Write(msg)
	return err
}

// decodeHeaderValue undoes the Base64 sentinel encoding of Mcp-Name and Mcp-Param-*
// values (=?base64?…?=). A plain value must be visible ASCII or space, without
// leading or trailing white space.
func decodeHeaderValue(v string) (string, bool) {
	if strings.HasPrefix(v, "=?base64?") && strings.HasSuffix(v, "?=") && len(v) >= len("=?base64??=") {
		b, err := base64.StdEncoding.DecodeString(v[len("=?base64?") : len(v)-len("?=")])
		if err != nil || !utf8.Valid(b) {
			return "", false
		}
		return string(b), true
	}
	if strings.TrimSpace(v) != v {
		return "", false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e {
			return "", false
		}
	}
	return v, true
}
