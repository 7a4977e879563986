// Package jsonrpc reads just enough of a JSON-RPC 2.0 message for the bridge to route it:
// the id, the method and a progress token. Everything else stays raw bytes, so methods
// and fields the bridge has never heard of pass through untouched.
//
// Keys are matched exactly (case-sensitively), unlike encoding/json's struct decoding,
// so `{"ID":1}` is not mistaken for an id. When a key repeats, the last one wins, as in
// JavaScript's JSON.parse that the official servers use.
package jsonrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Kind is what a message is, decided by which members it has.
type Kind int

// The kinds of JSON-RPC message.
const (
	KindRequest      Kind = iota + 1 // method and id
	KindNotification                 // method, no id
	KindResponse                     // id and result or error, no method
)

func (k Kind) String() string {
	switch k {
	case KindRequest:
		return "request"
	case KindNotification:
		return "notification"
	case KindResponse:
		return "response"
	}
	return "invalid"
}

// Sentinel errors of [Parse] and [SplitBatch]; wrapped with detail.
var (
	ErrParse          = errors.New("invalid JSON")
	ErrInvalidMessage = errors.New("invalid JSON-RPC message")
	ErrEmptyBatch     = errors.New("empty JSON-RPC batch")
)

// Message is one parsed JSON-RPC message. Raw is the compacted message (no newline can
// appear in it, as the stdio transport requires); the other fields alias parts of it.
type Message struct {
	Kind   Kind
	ID     json.RawMessage // requests and responses; a JSON string or number
	Method string          // requests and notifications
	// ProgressToken is params._meta.progressToken of a request, or params.progressToken
	// of a notifications/progress, if any.
	ProgressToken json.RawMessage
	// RequestID is params.requestId of a notifications/cancelled, if any.
	RequestID json.RawMessage
	// ProtocolVersion is result.protocolVersion of a response, if any (initialize).
	ProtocolVersion string
	Raw             []byte

	fields map[string]json.RawMessage
}

// Standard JSON-RPC error codes, and the bridge's own in the server-error range.
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeInternalError  = -32603
	// CodeSessionEnded: the child process behind the session exited.
	CodeSessionEnded = -32000
	// CodeRequestTimeout: the child did not answer within the request timeout.
	CodeRequestTimeout = -32001
	// CodeUnavailable: the bridge could not serve the request (session limit, shutdown).
	CodeUnavailable = -32002
)

// Parse parses one JSON-RPC message (not a batch).
func Parse(data []byte) (*Message, error) {
	var buf bytes.Buffer
	buf.Grow(len(data))
	if err := json.Compact(&buf, data); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrParse, err)
	}
	raw := buf.Bytes()
	if len(raw) == 0 || raw[0] != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrInvalidMessage)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidMessage, err)
	}
	m := &Message{Raw: raw, fields: fields}
	if v, ok := fields["jsonrpc"]; !ok || string(v) != `"2.0"` {
		return nil, fmt.Errorf("%w: jsonrpc must be \"2.0\"", ErrInvalidMessage)
	}
	id, hasID := fields["id"]
	if hasID {
		if !validID(id) {
			return nil, fmt.Errorf("%w: id must be a string or a number", ErrInvalidMessage)
		}
		m.ID = id
	}
	if rawMethod, ok := fields["method"]; ok {
		if err := json.Unmarshal(rawMethod, &m.Method); err != nil || m.Method == "" {
			return nil, fmt.Errorf("%w: method must be a non-empty string", ErrInvalidMessage)
		}
		m.Kind = KindNotification
		if hasID {
			m.Kind = KindRequest
		}
		m.readParams(fields["params"])
		return m, nil
	}
	_, hasResult := fields["result"]
	_, hasError := fields["error"]
	if !hasID || hasResult == hasError {
		return nil, fmt.Errorf("%w: neither a request, a notification nor a response", ErrInvalidMessage)
	}
	m.Kind = KindResponse
	if hasResult {
		m.ProtocolVersion = protocolVersion(fields["result"])
	}
	return m, nil
}

// validID reports whether id is a JSON string or number (MCP forbids null ids).
func validID(id json.RawMessage) bool {
	if len(id) == 0 {
		return false
	}
	switch c := id[0]; {
	case c == '"':
		return true
	case c == '-' || (c >= '0' && c <= '9'):
		return true
	}
	return false
}

// readParams picks params._meta.progressToken and params.requestId, ignoring any shape
// it does not expect: an odd params object is the child's problem, not the bridge's.
func (m *Message) readParams(params json.RawMessage) {
	if len(params) == 0 || params[0] != '{' {
		return
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(params, &fields) != nil {
		return
	}
	if rid := fields["requestId"]; m.Method == "notifications/cancelled" && validID(rid) {
		m.RequestID = rid
	}
	if tok := fields["progressToken"]; m.Method == "notifications/progress" && validID(tok) {
		m.ProgressToken = tok
		return
	}
	meta := fields["_meta"]
	if m.Kind != KindRequest || len(meta) == 0 || meta[0] != '{' {
		return
	}
	var metaFields map[string]json.RawMessage
	if json.Unmarshal(meta, &metaFields) != nil {
		return
	}
	if tok := metaFields["progressToken"]; validID(tok) {
		m.ProgressToken = tok
	}
}

func protocolVersion(result json.RawMessage) string {
	if len(result) == 0 || result[0] != '{' {
		return ""
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(result, &fields) != nil {
		return ""
	}
	var v string
	if json.Unmarshal(fields["protocolVersion"], &v) != nil {
		return ""
	}
	return v
}

// IsError reports whether the message is an error response.
func (m *Message) IsError() bool {
	_, ok := m.fields["error"]
	return m.Kind == KindResponse && ok
}

// WithID returns the message's bytes with its top-level id replaced by id.
func (m *Message) WithID(id json.RawMessage) []byte {
	return m.with("id", id)
}

// WithRequestID returns a notifications/cancelled message's bytes with params.requestId
// replaced by id.
func (m *Message) WithRequestID(id json.RawMessage) []byte {
	var params map[string]json.RawMessage
	if json.Unmarshal(m.fields["params"], &params) != nil {
		return m.Raw
	}
	params["requestId"] = id
	p, err := json.Marshal(params)
	if err != nil {
		return m.Raw
	}
	return m.with("params", p)
}

func (m *Message) with(key string, value json.RawMessage) []byte {
	fields := make(map[string]json.RawMessage, len(m.fields))
	for k, v := range m.fields {
		fields[k] = v
	}
	fields[key] = value
	out, err := json.Marshal(fields)
	if err != nil {
		// Every value came out of a successful Unmarshal, so this cannot happen.
		panic("jsonrpc: re-encoding a parsed message: " + err.Error())
	}
	return out
}

// SplitBatch reports whether data is a JSON array (a batch) and returns its elements,
// or data itself as the single element when it is not an array.
func SplitBatch(data []byte) (msgs []json.RawMessage, batch bool, err error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return []json.RawMessage{data}, false, nil
	}
	if err := json.Unmarshal(trimmed, &msgs); err != nil {
		return nil, true, fmt.Errorf("%w: %v", ErrParse, err)
	}
	if len(msgs) == 0 {
		return nil, true, ErrEmptyBatch
	}
	return msgs, true, nil
}

// ErrorResponse encodes a JSON-RPC error response. id may be nil, for errors about a
// message whose id could not be read.
func ErrorResponse(id json.RawMessage, code int, message string) []byte {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	out, _ := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}{JSONRPC: "2.0", ID: id, Error: struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, message}})
	return out
}

// Notification encodes a JSON-RPC notification with the given params object.
func Notification(method string, params any) []byte {
	out, err := json.Marshal(struct {
		JSONRPC string `json:"jsonrpc"`
		Method  string `json:"method"`
		Params  any    `json:"params,omitempty"`
	}{"2.0", method, params})
	if err != nil {
		panic("jsonrpc: encoding notification: " + err.Error())
	}
	return out
}
