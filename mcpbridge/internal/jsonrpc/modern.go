package jsonrpc

import (
	"encoding/json"
	"strconv"
)

// Reserved _meta keys of protocol revision 2026-07-28.
const (
	MetaProtocolVersion    = "io.modelcontextprotocol/protocolVersion"
	MetaClientCapabilities = "io.modelcontextprotocol/clientCapabilities"
	MetaClientInfo         = "io.modelcontextprotocol/clientInfo"
	MetaLogLevel           = "io.modelcontextprotocol/logLevel"
	MetaSubscriptionID     = "io.modelcontextprotocol/subscriptionId"
	MetaServerInfo         = "io.modelcontextprotocol/serverInfo"
)

// Error codes that protocol revision 2026-07-28 defines.
const (
	CodeMethodNotFound     = -32601
	CodeInvalidParams      = -32602
	CodeHeaderMismatch     = -32020
	CodeMissingCapability  = -32021
	CodeUnsupportedVersion = -32022
)

// RequestMeta is what the bridge reads of a 2026-07-28 request's params: the per-request
// protocol fields of params._meta and the name that the Mcp-Name header mirrors.
type RequestMeta struct {
	// ProtocolVersion is _meta's protocol version; HasVersion whether it is a string.
	ProtocolVersion string
	HasVersion      bool
	// HasCapabilities: _meta carries a clientCapabilities object.
	HasCapabilities bool
	// Capabilities is that object, raw.
	Capabilities json.RawMessage
	// HasLogLevel: the request asked for log messages (notifications/message).
	HasLogLevel bool
	// Name is params.name (tools/call, prompts/get) or params.uri (resources/read);
	// HasName whether that member is a string.
	Name    string
	HasName bool
	// RequestState and InputResponses are a multi round-trip retry's params.requestState
	// (a string) and params.inputResponses (raw), if any.
	RequestState    string
	HasRequestState bool
	InputResponses  json.RawMessage
	// Arguments is params.arguments (tools/call), raw, if any.
	Arguments json.RawMessage
}

// NameMember is the params member that Mcp-Name mirrors for method, or "" when the
// method has none.
func NameMember(method string) string {
	switch method {
	case "tools/call", "prompts/get":
		return "name"
	case "resources/read":
		return "uri"
	}
	return ""
}

// RequestMeta reads the 2026-07-28 fields of a request. Members of the wrong type are
// reported as absent.
func (m *Message) RequestMeta() RequestMeta {
	var out RequestMeta
	if !m.params.ok() {
		return out
	}
	nameKey := NameMember(m.Method)
	p := m.members(m.params, "_meta", nameKey, "requestState", "inputResponses", "arguments")
	if nameKey != "" && p[1].ok() {
		out.HasName = json.Unmarshal(m.Raw[p[1].start:p[1].end], &out.Name) == nil && m.Raw[p[1].start] == '"'
	}
	if p[2].ok() && m.Raw[p[2].start] == '"' {
		out.HasRequestState = json.Unmarshal(m.Raw[p[2].start:p[2].end], &out.RequestState) == nil
	}
	if p[3].ok() {
		out.InputResponses = json.RawMessage(m.Raw[p[3].start:p[3].end])
	}
	if p[4].ok() {
		out.Arguments = json.RawMessage(m.Raw[p[4].start:p[4].end])
	}
	if !p[0].ok() {
		return out
	}
	meta := m.members(p[0], MetaProtocolVersion, MetaClientCapabilities, MetaLogLevel)
	if s := meta[0]; s.ok() && m.Raw[s.start] == '"' {
		out.HasVersion = json.Unmarshal(m.Raw[s.start:s.end], &out.ProtocolVersion) == nil
	}
	if s := meta[1]; s.ok() && m.Raw[s.start] == '{' {
		out.HasCapabilities = true
		out.Capabilities = json.RawMessage(m.Raw[s.start:s.end])
	}
	out.HasLogLevel = meta[2].ok() && m.Raw[meta[2].start] == '"'
	return out
}

// Params returns the raw params member, or nil.
func (m *Message) Params() json.RawMessage {
	if !m.params.ok() {
		return nil
	}
	return json.RawMessage(m.Raw[m.params.start:m.params.end])
}

// ErrorCode returns error.code of an error response.
func (m *Message) ErrorCode() (int, bool) {
	if !m.IsError() {
		return 0, false
	}
	s := m.members(m.errMember, "code")[0]
	if !s.ok() {
		return 0, false
	}
	code, err := strconv.Atoi(string(m.Raw[s.start:s.end]))
	return code, err == nil
}

// Result returns the raw result of a successful response, or nil.
func (m *Message) Result() json.RawMessage {
	if m.Kind != KindResponse || !m.result.ok() || m.isError {
		return nil
	}
	return json.RawMessage(m.Raw[m.result.start:m.result.end])
}

// WithResult returns a copy of a successful response with its result replaced.
func (m *Message) WithResult(result json.RawMessage) []byte {
	if m.Result() == nil {
		return m.Raw
	}
	return splice(m.Raw, m.result, result)
}

// WithResultFields returns a copy of a successful response whose result object gains
// the given members (raw JSON values, in order) where it lacks them: how the bridge
// gives a 2025 server's results the fields 2026-07-28 requires (resultType, ttlMs,
// cacheScope). Any other message is returned as it is.
func (m *Message) WithResultFields(fields ...[2]string) []byte {
	if m.Kind != KindResponse || !m.result.ok() || m.isError || m.Raw[m.result.start] != '{' {
		return m.Raw
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f[0]
	}
	have := m.members(m.result, names...)
	var add []byte
	for i, f := range fields {
		if have[i].ok() {
			continue
		}
		key, _ := json.Marshal(f[0])
		add = append(add, key...)
		add = append(add, ':')
		add = append(add, f[1]...)
		add = append(add, ',')
	}
	if len(add) == 0 {
		return m.Raw
	}
	at := m.result.start + 1 // just inside the result's '{'
	if empty := skipSpace(m.Raw, at); m.Raw[empty] == '}' {
		add = add[:len(add)-1] // no member follows: no comma
	}
	return splice(m.Raw, span{at, at}, add)
}

// SubscriptionID returns params._meta's subscription id of a notification (2026-07-28
// subscriptions/listen streams), or nil.
func (m *Message) SubscriptionID() json.RawMessage {
	s := m.subscriptionSpan()
	if !s.ok() {
		return nil
	}
	return json.RawMessage(m.Raw[s.start:s.end])
}

// WithSubscriptionID returns a copy of the message with its subscription id (in
// params._meta of a notification, or result._meta of a response) replaced by id.
func (m *Message) WithSubscriptionID(id json.RawMessage) []byte {
	s := m.subscriptionSpan()
	if !s.ok() {
		return m.Raw
	}
	return splice(m.Raw, s, id)
}

func (m *Message) subscriptionSpan() span {
	outer := m.params
	if m.Kind == KindResponse {
		outer = m.result
	}
	if !outer.ok() || m.Raw[outer.start] != '{' {
		return span{}
	}
	meta := m.members(outer, "_meta")[0]
	if !meta.ok() || m.Raw[meta.start] != '{' {
		return span{}
	}
	s := m.members(meta, MetaSubscriptionID)[0]
	if !s.ok() || !validID(json.RawMessage(m.Raw[s.start:s.end])) {
		return span{}
	}
	return s
}

// ErrorResponseData encodes a JSON-RPC error response with a data member.
func ErrorResponseData(id json.RawMessage, code int, message string, data any) []byte {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	type errObj struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    any    `json:"data,omitempty"`
	}
	out, err := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   errObj          `json:"error"`
	}{"2.0", id, errObj{code, message, data}})
	if err != nil {
		panic("jsonrpc: encoding error response: " + err.Error())
	}
	return out
}

// Response encodes a successful JSON-RPC response with the given result.
func Response(id json.RawMessage, result any) []byte {
	out, err := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Result  any             `json:"result"`
	}{"2.0", id, result})
	if err != nil {
		panic("jsonrpc: encoding response: " + err.Error())
	}
	return out
}
