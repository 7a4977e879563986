package session

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/jsonrpc"
)

// Multi round-trip requests (2026-07-28) for a 2025 child. A 2025 server asks its client
// for sampling, elicitation or roots with a request of its own in the middle of a tool
// call, and waits. A 2026-07-28 client takes no such request: the bridge ends the HTTP
// answer with an InputRequiredResult carrying the child's request as an input request
// and a signed requestState, keeps the child's call running, and when the client retries
// with inputResponses and that requestState, answers the child and goes on streaming the
// same call to the retry.

// ErrBadRequestState: a retry's requestState is forged, another user's, expired, or names
// a call that is over.
var ErrBadRequestState = errors.New("requestState is not valid: forged, expired, or its request is over")

// inputCapability is the client capability each server-to-client request needs.
var inputCapability = map[string]string{
	"sampling/createMessage": "sampling",
	"elicitation/create":     "elicitation",
	"roots/list":             "roots",
}

// inputMethods are the requests whose results may be an InputRequiredResult.
var inputMethods = map[string]bool{"tools/call": true, "prompts/get": true, "resources/read": true}

// pendingInput is a server-to-client request of the child waiting for the client.
type pendingInput struct {
	childID json.RawMessage // the child's own request id
	request json.RawMessage // {"method":…,"params":…}
}

// states signs and verifies requestState tokens.
type states struct{ key []byte }

// newStates uses key, or a random key of this process when key is empty: a single
// bridge that restarts has no call to resume anyway. Replicas share a key so that any
// of them can tell which session (and so which replica) a requestState names.
func newStates(key []byte) (*states, error) {
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("session: random key: %w", err)
		}
	}
	return &states{key: key}, nil
}

// requestState is what a requestState names, signed together with the user.
type requestState struct {
	Session string `json:"s"`
	Call    int64  `json:"c"`
	Expires int64  `json:"e"` // unix seconds
}

func (k *states) sign(user string, st requestState) string {
	payload, _ := json.Marshal(st)
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + base64.RawURLEncoding.EncodeToString(k.mac(user, p))
}

func (k *states) mac(user, payload string) []byte {
	mac := hmac.New(sha256.New, k.key)
	mac.Write([]byte(user))
	mac.Write([]byte{0})
	mac.Write([]byte(payload))
	return mac.Sum(nil)
}

// parse verifies a requestState for user and returns what it names.
func (k *states) parse(user, token string) (sessionID string, call int64, err error) {
	p, sig, ok := strings.Cut(token, ".")
	mac, decErr := base64.RawURLEncoding.DecodeString(sig)
	if !ok || decErr != nil || !hmac.Equal(mac, k.mac(user, p)) {
		return "", 0, ErrBadRequestState
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	var st requestState
	if err != nil || json.Unmarshal(payload, &st) != nil || time.Now().Unix() > st.Expires {
		return "", 0, ErrBadRequestState
	}
	return st.Session, st.Call, nil
}

// hasCapability reports whether the raw clientCapabilities object declares name.
func hasCapability(caps json.RawMessage, name string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(caps, &m) != nil {
		return false
	}
	v, ok := m[name]
	return ok && len(v) > 0 && v[0] == '{'
}

// inputRequestLocked handles a server-to-client request from a pooled 2025 child: it
// becomes an input request of the 2026-07-28 call it belongs to (the oldest running
// tools/call, prompts/get or resources/read), or is refused.
func (s *Session) inputRequestLocked(m *jsonrpc.Message) {
	var target *call
	for _, c := range s.calls {
		if c.mode.Translate && inputMethods[c.method] && (target == nil || c.childID < target.childID) {
			target = c
		}
	}
	capName, known := inputCapability[m.Method]
	childID := bytes.Clone(m.ID)
	refuse := func(msg string) {
		reply := jsonrpc.ErrorResponse(childID, jsonrpc.CodeMethodNotFound, msg)
		go func() { _ = s.proc.Send(reply) }()
	}
	switch {
	case target == nil || !known:
		refuse("the client cannot take " + m.Method + " here")
		return
	case !hasCapability(target.mode.Caps, capName):
		// The request needs a capability its client did not declare: the client gets
		// MissingRequiredClientCapability, the child a refusal and the call cancelled.
		refuse("the client did not declare the " + capName + " capability")
		reply := jsonrpc.ErrorResponseData(target.clientID, jsonrpc.CodeMissingCapability,
			"Missing required client capability: "+capName,
			map[string]any{"requiredCapabilities": map[string]any{capName: map[string]any{}}})
		id := target.childID
		s.finishLocked(target, reply, "missing client capability")
		go func() { _ = s.proc.Send(cancelled(id, "the client lacks the "+capName+" capability")) }()
		return
	}
	var req struct {
		Params json.RawMessage `json:"params"`
	}
	_ = json.Unmarshal(m.Raw, &req)
	body, _ := json.Marshal(struct {
		Method string          `json:"method"`
		Params json.RawMessage `json:"params,omitempty"`
	}{m.Method, req.Params})
	if target.inputs == nil {
		target.inputs = map[string]pendingInput{}
	}
	s.internal++
	key := capName + "-" + strconv.FormatInt(s.internal, 10)
	target.inputs[key] = pendingInput{childID: childID, request: body}
	if !target.suspended {
		s.suspendLocked(target)
	}
}

// suspendLocked ends the call's current HTTP answer with an InputRequiredResult for its
// pending input requests; the call itself keeps running in the child.
func (s *Session) suspendLocked(c *call) {
	reqs := map[string]json.RawMessage{}
	for k, in := range c.inputs {
		reqs[k] = in.request
	}
	expires := time.Now().Add(s.inputWindow())
	state := s.states.sign(s.User, requestState{Session: s.ID, Call: c.childID, Expires: expires.Unix()})
	msg := jsonrpc.Response(c.clientID, map[string]any{
		"resultType": "input_required", "inputRequests": reqs, "requestState": state,
	})
	c.suspended = true
	c.ex.Box.PushClose(msg)
}

// inputWindow is how long a client has to come back with its input responses.
func (s *Session) inputWindow() time.Duration {
	if s.reqTimeout > 0 {
		return s.reqTimeout
	}
	return 10 * time.Minute
}

// Resume continues a suspended call with the client's retry: its input responses go to
// the child, and the retry (id) becomes the call's answer stream. Inputs the client did
// not answer are asked again at once.
func (s *Session) Resume(callID int64, id json.RawMessage, responses json.RawMessage, streaming bool) (*Stream, error) {
	var answers map[string]json.RawMessage
	_ = json.Unmarshal(responses, &answers)
	s.mu.Lock()
	c, ok := s.calls[callID]
	if s.closed || !ok || !c.suspended {
		s.mu.Unlock()
		return nil, ErrBadRequestState
	}
	var out [][]byte
	for key, in := range c.inputs {
		a, ok := answers[key]
		if !ok || len(a) == 0 || a[0] != '{' {
			continue
		}
		out = append(out, []byte(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":%s}`, in.childID, compact(a))))
		delete(c.inputs, key)
	}
	s.nextStream++
	ex := &Exchange{Box: NewMailbox("e"+strconv.Itoa(s.nextStream), exchangeLimit), Streaming: streaming,
		remaining: 1, calls: []*call{c}}
	if cur, ok := s.byClient[string(c.clientID)]; ok && cur == c {
		delete(s.byClient, string(c.clientID))
	}
	c.clientID, c.ex, c.suspended = bytes.Clone(id), ex, false
	s.byClient[string(c.clientID)] = c
	if len(c.inputs) > 0 {
		s.suspendLocked(c)
	}
	st := s.newStream(ex, ex.Box, ex.Box.Attach(0), false)
	s.mu.Unlock()
	s.sendAll(out)
	return st, nil
}

func compact(raw json.RawMessage) []byte {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}
