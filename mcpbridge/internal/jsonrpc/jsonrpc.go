// Package jsonrpc reads just enough of a JSON-RPC 2.0 message for the bridge to route it:
// the id, the method and a progress token. Everything else stays raw bytes, so methods
// and fields the bridge has never heard of pass through untouched.
//
// Keys are matched exactly (case-sensitively), unlike encoding/json's struct decoding,
// so `{"ID":1}` is not mistaken for an id. When a key repeats, the last one wins, as in
// JavaScript's JSON.parse that the official servers use. Rewriting an id splices the
// new value into the original bytes: nothing else of the message changes.
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

// Message is one parsed JSON-RPC message. Raw is the message without any newline (the
// stdio transport forbids them inside a message); the other fields alias parts of it.
type Message struct {
	Kind   Kind
	ID     json.RawMessage // requests and responses; a JSON string or number
	Method string          // requests and notifications
	// ProgressToken is params._meta.progressToken of a request, or params.progressToken
	// of a notifications/progress, if any.
	ProgressToken json.RawMessage
	// RequestID is params.requestId of a notifications/cancelled, if any.
	RequestID json.RawMessage
	Raw       []byte

	id, result, requestID, params span // absolute positions in Raw
	errMember                     span
	isError                       bool
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
	// CodeRequestCancelled answers a request the client cancelled while its HTTP answer
	// was still open (the code LSP uses for the same case).
	CodeRequestCancelled = -32800
)

// Parse parses one JSON-RPC message (not a batch). It reads the members it routes by
// and leaves every other byte as it was.
func Parse(data []byte) (*Message, error) {
	raw := data
	if bytes.ContainsAny(data, "\n\r") {
		var buf bytes.Buffer
		buf.Grow(len(data))
		if err := json.Compact(&buf, data); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrParse, err)
		}
		raw = buf.Bytes()
	} else if !json.Valid(data) {
		return nil, fmt.Errorf("%w: %v", ErrParse, syntaxError(data))
	}
	return parse(raw)
}

// Reparse reads a message the bridge built itself from one that [Parse] accepted (an id,
// a result or a field spliced in): it skips the validation of every byte that Parse did
// already, which for a large result is most of the work.
func Reparse(data []byte) (*Message, error) {
	return parse(data)
}

// parse reads the members of raw, valid compact JSON.
func parse(raw []byte) (*Message, error) {
	m := &Message{Raw: raw}
	var version, method, params, result, errMember span
	var hasID bool
	if err := scanObject(raw, func(key string, v span) {
		switch key {
		case "jsonrpc":
			version = v
		case "id":
			m.id, hasID = v, true
		case "method":
			method = v
		case "params":
			params = v
		case "result":
			result = v
		case "error":
			errMember = v
		}
	}); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrInvalidMessage)
	}
	if string(raw[version.start:version.end]) != `"2.0"` {
		return nil, fmt.Errorf("%w: jsonrpc must be \"2.0\"", ErrInvalidMessage)
	}
	if hasID {
		m.ID = raw[m.id.start:m.id.end]
		if !validID(m.ID) {
			return nil, fmt.Errorf("%w: id must be a string or a number", ErrInvalidMessage)
		}
	}
	if method.ok() {
		if err := json.Unmarshal(raw[method.start:method.end], &m.Method); err != nil || m.Method == "" {
			return nil, fmt.Errorf("%w: method must be a non-empty string", ErrInvalidMessage)
		}
		m.Kind = KindNotification
		if hasID {
			m.Kind = KindRequest
		}
		if params.ok() {
			m.params = params
			m.readParams(params)
		}
		return m, nil
	}
	if !hasID || result.ok() == errMember.ok() {
		return nil, fmt.Errorf("%w: neither a request, a notification nor a response", ErrInvalidMessage)
	}
	m.Kind, m.result, m.isError, m.errMember = KindResponse, result, errMember.ok(), errMember
	return m, nil
}

func syntaxError(data []byte) error {
	var v any
	return json.Unmarshal(data, &v)
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

// members returns the spans of the named members of the object at s (absolute).
func (m *Message) members(s span, names ...string) []span {
	out := make([]span, len(names))
	if m.Raw[s.start] != '{' {
		return out
	}
	_ = scanObject(m.Raw[s.start:s.end], func(key string, v span) {
		for i, n := range names {
			if key == n {
				out[i] = span{s.start + v.start, s.start + v.end}
			}
		}
	})
	return out
}

// readParams picks params._meta.progressToken, params.progressToken (progress
// notifications) and params.requestId (cancellations), ignoring any shape it does not
// expect: an odd params object is the child's problem, not the bridge's.
func (m *Message) readParams(params span) {
	p := m.members(params, "_meta", "progressToken", "requestId")
	value := func(s span) json.RawMessage {
		if v := json.RawMessage(m.Raw[s.start:s.end]); s.ok() && validID(v) {
			return v
		}
		return nil
	}
	switch {
	case m.Method == "notifications/cancelled":
		if m.RequestID = value(p[2]); m.RequestID != nil {
			m.requestID = p[2]
		}
	case m.Method == "notifications/progress":
		m.ProgressToken = value(p[1])
	case m.Kind == KindRequest && p[0].ok():
		m.ProgressToken = value(m.members(p[0], "progressToken")[0])
	}
}

// IsError reports whether the message is an error response.
func (m *Message) IsError() bool { return m.Kind == KindResponse && m.isError }

// ResultProtocolVersion returns result.protocolVersion of a successful response (the
// answer to initialize), or "".
func (m *Message) ResultProtocolVersion() string {
	if m.Kind != KindResponse || !m.result.ok() {
		return ""
	}
	s := m.members(m.result, "protocolVersion")[0]
	var v string
	if !s.ok() || json.Unmarshal(m.Raw[s.start:s.end], &v) != nil {
		return ""
	}
	return v
}

// WithID returns a copy of the message with its id replaced by id; every other byte is
// kept. A message without id (a notification) is returned as it is.
func (m *Message) WithID(id json.RawMessage) []byte {
	if m.ID == nil {
		return m.Raw
	}
	return splice(m.Raw, m.id, id)
}

// WithRequestID returns a copy of a notifications/cancelled message with
// params.requestId replaced by id.
func (m *Message) WithRequestID(id json.RawMessage) []byte {
	if !m.requestID.ok() {
		return m.Raw
	}
	return splice(m.Raw, m.requestID, id)
}

func splice(raw []byte, s span, value []byte) []byte {
	out := make([]byte, 0, len(raw)-(s.end-s.start)+len(value))
	out = append(out, raw[:s.start]...)
	out = append(out, value...)
	return append(out, raw[s.end:]...)
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
