package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/jsonrpc"
)

// This file holds what the bridge does for 2026-07-28 (stateless) requests on a pooled
// child: its own round trips to the child (the era probe, initialize), the answers it
// gives for a 2025 child (server/discover, subscriptions/listen), and the routing of
// what a child sends while it serves such requests.

// ErrHandshake: the child did not take the bridge's initialize.
var ErrHandshake = errors.New("the MCP server refused the bridge's initialize")

// cacheable are the methods whose 2026-07-28 results carry ttlMs and cacheScope.
var cacheable = map[string]bool{
	"tools/list": true, "prompts/list": true, "resources/list": true,
	"resources/read": true, "resources/templates/list": true,
}

// modernResponse turns a child's response (already carrying the client's id) into what
// a 2026-07-28 client must see: a 2025 child's result gains resultType (and, for
// cacheable results, ttlMs 0 and cacheScope private: the bridge cannot know how long a
// 2025 server's lists stay valid, and they are one user's); a relayed listen's closing
// result names the client's subscription id.
func modernResponse(out []byte, c *call) []byte {
	if !c.mode.Translate && !c.mode.Listen {
		return out
	}
	m, err := jsonrpc.Reparse(out)
	if err != nil {
		return out
	}
	if c.mode.Listen {
		return m.WithSubscriptionID(c.clientID)
	}
	fields := [][2]string{{"resultType", `"complete"`}}
	if cacheable[c.method] {
		fields = append(fields, [2]string{"ttlMs", "0"}, [2]string{"cacheScope", `"private"`})
	}
	return m.WithResultFields(fields...)
}

// load is how many requests the child is working on. An open subscriptions/listen
// does not count: the user's next request should reach the same child, whose changes
// that stream reports (a 2025 server's state lives in its process).
func (s *Session) load() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if !c.mode.Listen {
			n++
		}
	}
	return n
}

// Modern reports whether the child itself speaks 2026-07-28.
func (s *Session) Modern() bool { return s.modern }

// roundTrip sends the bridge's own request to the child and returns the response.
func (s *Session) roundTrip(ctx context.Context, method string, params any) (*jsonrpc.Message, error) {
	s.mu.Lock()
	s.internal++
	id := strconv.Quote("mcpbridge-" + strconv.FormatInt(s.internal, 10))
	s.mu.Unlock()
	raw, err := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Method  string          `json:"method"`
		Params  any             `json:"params"`
	}{"2.0", json.RawMessage(id), method, params})
	if err != nil {
		return nil, err
	}
	m, err := jsonrpc.Parse(raw)
	if err != nil {
		return nil, err
	}
	ex, err := s.submit([]*jsonrpc.Message{m}, false, Mode{})
	if err != nil {
		return nil, err
	}
	r := ex.Box.Attach(0)
	defer r.Detach()
	var last []byte
	for {
		select {
		case <-ctx.Done():
			s.abandon(ex)
			return nil, ctx.Err()
		case <-r.Ready():
		}
		events, done, _ := r.Next()
		if len(events) > 0 {
			last = events[len(events)-1].Msg
		}
		if done {
			if last == nil {
				return nil, ErrEnded
			}
			return jsonrpc.Parse(last)
		}
	}
}

// metaParams are the params of a 2026-07-28 request the bridge sends itself.
func metaParams(version string) map[string]any {
	return map[string]any{"_meta": map[string]any{
		jsonrpc.MetaProtocolVersion:    version,
		jsonrpc.MetaClientCapabilities: map[string]any{},
		jsonrpc.MetaClientInfo:         clientInfo,
	}}
}

var clientInfo = map[string]string{"name": "mcpbridge", "version": "2"}

// probeModern asks the child with server/discover whether it speaks one of versions.
// A 2025 server answers with an error (or not at all, until ctx ends).
func (s *Session) probeModern(ctx context.Context, versions []string) (bool, error) {
	m, err := s.roundTrip(ctx, "server/discover", metaParams(versions[0]))
	if errors.Is(err, ErrEnded) {
		return false, err
	}
	if err != nil {
		return false, nil
	}
	var res struct {
		Supported []string `json:"supportedVersions"`
	}
	if json.Unmarshal(m.Result(), &res) != nil {
		return false, nil
	}
	for _, v := range res.Supported {
		for _, want := range versions {
			if v == want {
				return true, nil
			}
		}
	}
	return false, nil
}

// initialize runs the 2025 handshake for a pooled child. The bridge declares sampling
// and elicitation, which it turns into input requests of the call they happen in (for
// the clients that declare them); not roots, which a 2025 server asks for at once after
// initialize, outside any call.
func (s *Session) initialize(ctx context.Context, version string) error {
	m, err := s.roundTrip(ctx, "initialize", map[string]any{
		"protocolVersion": version, "clientInfo": clientInfo,
		"capabilities": map[string]any{"sampling": map[string]any{}, "elicitation": map[string]any{}},
	})
	if err != nil {
		return err
	}
	if m.IsError() || m.ResultProtocolVersion() == "" {
		return fmt.Errorf("%w: %s", ErrHandshake, m.Raw)
	}
	s.mu.Lock()
	s.initRes = bytes.Clone(m.Result())
	s.version = m.ResultProtocolVersion()
	s.mu.Unlock()
	return s.proc.Send(jsonrpc.Notification("notifications/initialized", nil))
}

// initResult is the part of a 2025 child's initialize answer that server/discover and
// subscriptions/listen need.
type initResult struct {
	Capabilities struct {
		Tools     *struct{ ListChanged bool } `json:"tools"`
		Prompts   *struct{ ListChanged bool } `json:"prompts"`
		Resources *struct {
			ListChanged bool
			Subscribe   bool
		} `json:"resources"`
	} `json:"capabilities"`
}

// Discover answers server/discover for a 2025 child from its initialize result.
func (s *Session) Discover(id json.RawMessage, versions []string) []byte {
	var init map[string]json.RawMessage
	_ = json.Unmarshal(s.initRes, &init)
	// Discovery results are cacheable (ttlMs, cacheScope); a 2025 server's capabilities
	// do not change while it runs, but the bridge cannot promise more than this child.
	res := map[string]any{"resultType": "complete", "supportedVersions": versions, "ttlMs": 0, "cacheScope": "private"}
	res["capabilities"] = json.RawMessage("{}")
	if c, ok := init["capabilities"]; ok {
		res["capabilities"] = c
	}
	if info, ok := init["serverInfo"]; ok {
		res["_meta"] = map[string]json.RawMessage{jsonrpc.MetaServerInfo: info}
	}
	if in, ok := init["instructions"]; ok {
		res["instructions"] = in
	}
	return jsonrpc.Response(id, res)
}

// listener is a subscriptions/listen stream the bridge serves itself for a 2025 child:
// it forwards the child's change notifications that the client asked for.
type listener struct {
	id                        json.RawMessage // the listen request's id: the subscription id
	tools, prompts, resources bool
	uris                      map[string]bool
}

// listenFilter is subscriptions/listen's notifications member.
type listenFilter struct {
	Tools     bool     `json:"toolsListChanged,omitempty"`
	Prompts   bool     `json:"promptsListChanged,omitempty"`
	Resources bool     `json:"resourcesListChanged,omitempty"`
	URIs      []string `json:"resourceSubscriptions,omitempty"`
}

// Listen opens a subscriptions/listen stream for a 2025 child. Its first event is the
// acknowledgement with the subset the child can honour (what its capabilities declare);
// resource subscriptions become resources/subscribe requests to the child. The stream
// stays open until [Session.EndListen] or the child exits.
func (s *Session) Listen(m *jsonrpc.Message) (*Stream, error) {
	var p struct {
		Notifications listenFilter `json:"notifications"`
	}
	_ = json.Unmarshal(m.Params(), &p)
	var caps initResult
	_ = json.Unmarshal(s.initRes, &caps)
	c := caps.Capabilities
	want := p.Notifications
	got := listenFilter{
		Tools:     want.Tools && c.Tools != nil && c.Tools.ListChanged,
		Prompts:   want.Prompts && c.Prompts != nil && c.Prompts.ListChanged,
		Resources: want.Resources && c.Resources != nil && c.Resources.ListChanged,
	}
	l := &listener{id: bytes.Clone(m.ID), tools: got.Tools, prompts: got.Prompts, resources: got.Resources,
		uris: map[string]bool{}}
	if c.Resources != nil && c.Resources.Subscribe {
		got.URIs = want.URIs
		for _, u := range want.URIs {
			l.uris[u] = true
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrEnded
	}
	s.nextStream++
	ex := &Exchange{Box: NewMailbox("l"+strconv.Itoa(s.nextStream), exchangeLimit), Streaming: true}
	fresh := s.subscribeLocked(l, true)
	s.listeners[ex] = l
	s.mu.Unlock()
	ex.Box.Push(withSubscription(jsonrpc.Notification("notifications/subscriptions/acknowledged",
		map[string]any{"notifications": got}), l.id))
	s.sendAll(fresh)
	st := s.newStream(ex, ex.Box, ex.Box.Attach(0), false)
	st.listen = true
	return st, nil
}

// EndListen ends a bridge-served listen stream (see [Stream.Close]): resource subscriptions no other stream
// holds are given up with resources/unsubscribe.
func (s *Session) EndListen(ex *Exchange) {
	s.mu.Lock()
	l, ok := s.listeners[ex]
	delete(s.listeners, ex)
	var gone [][]byte
	if ok {
		gone = s.subscribeLocked(l, false)
	}
	s.mu.Unlock()
	ex.Box.Close()
	s.sendAll(gone)
}

// subscribeLocked returns the resources/subscribe (add) or resources/unsubscribe
// requests for l's URIs that no other listener holds.
func (s *Session) subscribeLocked(l *listener, add bool) [][]byte {
	method := "resources/unsubscribe"
	if add {
		method = "resources/subscribe"
	}
	var out [][]byte
	for u := range l.uris {
		held := false
		for _, other := range s.listeners {
			if other != l && other.uris[u] {
				held = true
				break
			}
		}
		if held {
			continue
		}
		// The child's answer has an id no call knows: it is dropped.
		s.internal++
		msg, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": method,
			"id": "mcpbridge-sub-" + strconv.FormatInt(s.internal, 10), "params": map[string]string{"uri": u}})
		out = append(out, msg)
	}
	return out
}

func (s *Session) sendAll(msgs [][]byte) {
	for _, msg := range msgs {
		if err := s.proc.Send(msg); err != nil {
			go s.Close(context.Background(), "cannot write to the MCP server: "+err.Error())
			return
		}
	}
}

// withSubscription returns the notification with params._meta's subscription id set.
func withSubscription(msg []byte, id json.RawMessage) []byte {
	var n map[string]json.RawMessage
	if json.Unmarshal(msg, &n) != nil {
		return msg
	}
	params := map[string]json.RawMessage{}
	_ = json.Unmarshal(n["params"], &params)
	meta := map[string]json.RawMessage{}
	_ = json.Unmarshal(params["_meta"], &meta)
	meta[jsonrpc.MetaSubscriptionID] = id
	params["_meta"], _ = json.Marshal(meta)
	n["params"], _ = json.Marshal(params)
	out, err := json.Marshal(n)
	if err != nil {
		return msg
	}
	return out
}

// deliverPooledLocked routes what a pooled child sends outside any response and
// progress: 2026-07-28 rules.
func (s *Session) deliverPooledLocked(m *jsonrpc.Message, msg []byte) {
	switch {
	case m.Kind == jsonrpc.KindRequest:
		s.inputRequestLocked(m)
	case m.SubscriptionID() != nil:
		id, err := strconv.ParseInt(string(m.SubscriptionID()), 10, 64)
		if c, ok := s.calls[id]; err == nil && ok && c.mode.Listen {
			c.ex.Box.Push(m.WithSubscriptionID(c.clientID))
		}
	case m.Method == "notifications/message":
		var oldest *call
		for _, c := range s.calls {
			if c.mode.Logs && c.ex.Streaming && (oldest == nil || c.childID < oldest.childID) {
				oldest = c
			}
		}
		if oldest != nil {
			oldest.ex.Box.Push(msg)
		}
	default:
		wanted := false
		for ex, l := range s.listeners {
			if l.wants(m) {
				wanted = true
				ex.Box.Push(withSubscription(msg, l.id))
			}
		}
		if !wanted {
			s.logDropped(m)
		}
	}
}

// wants reports whether the listener asked for this change notification.
func (l *listener) wants(m *jsonrpc.Message) bool {
	switch m.Method {
	case "notifications/tools/list_changed":
		return l.tools
	case "notifications/prompts/list_changed":
		return l.prompts
	case "notifications/resources/list_changed":
		return l.resources
	case "notifications/resources/updated":
		var p struct {
			URI string `json:"uri"`
		}
		return json.Unmarshal(m.Params(), &p) == nil && l.uris[p.URI]
	}
	return false
}

// logDropped is for messages a pooled child sent that no stream may carry.
func (s *Session) logDropped(m *jsonrpc.Message) {
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("dropped a message no 2026-07-28 stream can carry", "method", m.Method)
	}
}
