package streamable

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/jsonrpc"
)

// httpError is a refusal at the HTTP level. Its body is a JSON-RPC error with a null id,
// as the official SDKs send, so clients can show the message.
type httpError struct {
	status     int
	code       int
	message    string
	retryAfter int // seconds, for 503
	// id is the request's id when it is known (2026-07-28 answers carry it); data is the
	// error's data member.
	id   json.RawMessage
	data any
}

func (e *httpError) Error() string { return e.message }

func (e *httpError) write(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if e.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	if e.status == http.StatusMethodNotAllowed {
		h.Set("Allow", "GET, POST, DELETE")
	}
	w.WriteHeader(e.status)
	_, _ = w.Write(jsonrpc.ErrorResponseData(e.id, e.code, e.message, e.data))
}

func badRequest(msg string) *httpError {
	return &httpError{status: http.StatusBadRequest, code: jsonrpc.CodeInvalidRequest, message: msg}
}

var (
	errNoSession = badRequest("Bad Request: Mcp-Session-Id header is required")
	errNotFound  = &httpError{status: http.StatusNotFound, code: jsonrpc.CodeSessionEnded,
		message: "Not Found: unknown or ended session; start a new one with initialize"}
	errForbiddenOrigin = &httpError{status: http.StatusForbidden, code: jsonrpc.CodeInvalidRequest,
		message: "Forbidden: Origin not allowed"}
	errMethod = &httpError{status: http.StatusMethodNotAllowed, code: jsonrpc.CodeInvalidRequest,
		message: "Method Not Allowed: use POST, GET or DELETE"}
	errModernMethod = &httpError{status: http.StatusMethodNotAllowed, code: jsonrpc.CodeInvalidRequest,
		message: "Method Not Allowed: protocol version 2026-07-28 has no GET stream and no sessions; use POST (subscriptions/listen for notifications)"}
	errExitedInInitialize = &httpError{status: http.StatusInternalServerError, code: jsonrpc.CodeInternalError,
		message: "Internal Server Error: the MCP server exited during initialize"}
	errShutdown = &httpError{status: http.StatusServiceUnavailable, code: jsonrpc.CodeUnavailable,
		message: "Service Unavailable: the bridge is shutting down", retryAfter: 5}
)
