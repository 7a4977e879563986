package bridge

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/tests/internal/mcpservers"
)

// modernMeta is the per-request _meta of a 2026-07-28 request.
const modernMeta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`

// modernBody is a 2026-07-28 request; members are params' other members ("" for none).
func modernBody(id any, method, members string) string {
	idJSON, _ := json.Marshal(id)
	params := modernMeta
	if members != "" {
		params = members + "," + modernMeta
	}
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":%q,"params":{%s}}`, idJSON, method, params)
}

// modernHeaders are the headers of a 2026-07-28 POST of method (name: Mcp-Name, or "").
func modernHeaders(user, method, name string, extra ...string) map[string]string {
	h := jsonHeaders(append([]string{"X-User-Id", user, "MCP-Protocol-Version", "2026-07-28", "Mcp-Method", method}, extra...)...)
	if name != "" {
		h["Mcp-Name"] = name
	}
	return h
}

// rpcEnvelope reads the id, error code and error data of a JSON-RPC answer.
func rpcEnvelope(t *testing.T, body string) (id string, code int, data json.RawMessage) {
	t.Helper()
	var r struct {
		ID    json.RawMessage `json:"id"`
		Error *struct {
			Code int             `json:"code"`
			Data json.RawMessage `json:"data"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("answer is not one JSON-RPC message: %v: %s", err, body)
	}
	if r.Error != nil {
		code, data = r.Error.Code, r.Error.Data
	}
	return string(r.ID), code, data
}

// TestModernStatusRules: every refusal of a 2026-07-28 request, with raw HTTP, has the
// status and JSON-RPC code the specification gives and carries the request's id; a
// valid request is served without any session.
func TestModernStatusRules(t *testing.T) {
	b := startBridge(t, nil, mcpservers.GoEverything(t))
	call := modernBody(7, "tools/call", `"name":"test_simple_text","arguments":{}`)
	tests := []struct {
		name   string
		method string
		header map[string]string
		body   string
		status int
		code   int // 0: a result
		id     string
	}{
		{"tools/call", "POST", modernHeaders("alice", "tools/call", "test_simple_text"), call, 200, 0, "7"},
		{"Mcp-Name in the Base64 sentinel form", "POST",
			modernHeaders("alice", "tools/call", "=?base64?dGVzdF9zaW1wbGVfdGV4dA==?="), call, 200, 0, "7"},
		{"a session id is ignored", "POST",
			modernHeaders("alice", "tools/call", "test_simple_text", "Mcp-Session-Id", "0123456789abcdef0123456789abcdef"), call, 200, 0, "7"},
		{"no Mcp-Method", "POST", jsonHeaders("X-User-Id", "alice", "MCP-Protocol-Version", "2026-07-28", "Mcp-Name", "test_simple_text"), call, 400, -32020, "7"},
		{"Mcp-Method differs from the body", "POST", modernHeaders("alice", "tools/list", "test_simple_text"), call, 400, -32020, "7"},
		{"Mcp-Method differs only in case", "POST", modernHeaders("alice", "Tools/Call", "test_simple_text"), call, 400, -32020, "7"},
		{"no Mcp-Name for tools/call", "POST", modernHeaders("alice", "tools/call", ""), call, 400, -32020, "7"},
		{"Mcp-Name differs from the body", "POST", modernHeaders("alice", "tools/call", "test_image"), call, 400, -32020, "7"},
		{"Mcp-Name with a bad sentinel", "POST", modernHeaders("alice", "tools/call", "=?base64?***?="), call, 400, -32020, "7"},
		{"Mcp-Name with a control character", "POST", modernHeaders("alice", "tools/call", "test_simple\ttext"), call, 400, -32020, "7"},
		{"no protocol version header, modern _meta", "POST", jsonHeaders("X-User-Id", "alice", "Mcp-Method", "tools/call", "Mcp-Name", "test_simple_text"), call, 400, -32020, "7"},
		{"no _meta", "POST", modernHeaders("alice", "tools/list", ""), `{"jsonrpc":"2.0","id":"s","method":"tools/list","params":{}}`, 400, -32602, `"s"`},
		{"_meta without capabilities", "POST", modernHeaders("alice", "tools/list", ""),
			`{"jsonrpc":"2.0","id":8,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`, 400, -32602, "8"},
		{"_meta version differs from the header", "POST", modernHeaders("alice", "tools/list", ""),
			strings.Replace(modernBody(9, "tools/list", ""), `"2026-07-28"`, `"2099-01-01"`, 1), 400, -32020, "9"},
		{"unsupported version", "POST", modernHeaders("alice", "tools/list", "", "MCP-Protocol-Version", "2099-01-01"),
			strings.Replace(modernBody(10, "tools/list", ""), `"2026-07-28"`, `"2099-01-01"`, 1), 400, -32022, "10"},
		{"ping is gone", "POST", modernHeaders("alice", "ping", ""), modernBody(11, "ping", ""), 404, -32601, "11"},
		{"initialize is gone", "POST", modernHeaders("alice", "initialize", ""), modernBody(12, "initialize", ""), 404, -32601, "12"},
		{"resources/subscribe is gone", "POST", modernHeaders("alice", "resources/subscribe", ""), modernBody(13, "resources/subscribe", `"uri":"x"`), 404, -32601, "13"},
		{"unknown method", "POST", modernHeaders("alice", "no/such", ""), modernBody(14, "no/such", ""), 404, -32601, "14"},
		{"batch", "POST", modernHeaders("alice", "tools/list", ""), "[" + modernBody(15, "tools/list", "") + "]", 400, -32600, "null"},
		{"GET", "GET", modernHeaders("alice", "", ""), "", 405, -32600, "null"},
		{"DELETE", "DELETE", modernHeaders("alice", "", ""), "", 405, -32600, "null"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, tc.method, b.URL, tc.header, tc.body)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d; body %s", r.Status, tc.status, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			if sid := r.Header.Get("Mcp-Session-Id"); sid != "" {
				t.Errorf("a 2026-07-28 answer carries Mcp-Session-Id %q", sid)
			}
			id, code, data := rpcEnvelope(t, r.Body)
			if code != tc.code || id != tc.id {
				t.Errorf("id %s code %d, want id %s code %d; body %s", id, code, tc.id, tc.code, r.Body)
			}
			if code == -32022 {
				var d struct {
					Supported []string `json:"supported"`
					Requested string   `json:"requested"`
				}
				if json.Unmarshal(data, &d) != nil || d.Requested != "2099-01-01" ||
					!strings.Contains(strings.Join(d.Supported, ","), "2026-07-28,2025-11-25") {
					t.Errorf("UnsupportedProtocolVersion data %s", data)
				}
			}
		})
	}
	r := do(t, "POST", b.URL, modernHeaders("alice", "", ""), `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}`)
	if r.Status != http.StatusAccepted {
		t.Errorf("a notification: status %d, want 202", r.Status)
	}
}

// TestModernTranslated: a 2025 server (server-everything) answers 2026-07-28 requests
// through the bridge, which initialized the child itself: server/discover from its
// initialize result, results with the fields 2026-07-28 requires, and
// subscriptions/listen delivering the child's resource updates with the subscription id.
func TestModernTranslated(t *testing.T) {
	b := startBridge(t, nil, mcpservers.Everything(t))

	r := do(t, "POST", b.URL, modernHeaders("alice", "server/discover", ""), modernBody("d", "server/discover", ""))
	var discover struct {
		Result struct {
			ResultType   string                     `json:"resultType"`
			Supported    []string                   `json:"supportedVersions"`
			Capabilities map[string]json.RawMessage `json:"capabilities"`
			Meta         map[string]struct {
				Name string `json:"name"`
			} `json:"_meta"`
			TTL *int `json:"ttlMs"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(r.Body), &discover); err != nil || r.Status != 200 {
		t.Fatalf("server/discover: %d %s", r.Status, r.Body)
	}
	d := discover.Result
	if d.ResultType != "complete" || len(d.Supported) == 0 || d.Supported[0] != "2026-07-28" || d.Capabilities["tools"] == nil ||
		!strings.Contains(d.Meta["io.modelcontextprotocol/serverInfo"].Name, "everything") || d.TTL == nil {
		t.Errorf("server/discover result %s", r.Body)
	}

	r = do(t, "POST", b.URL, modernHeaders("alice", "resources/list", ""), modernBody(2, "resources/list", ""))
	var list struct {
		Result struct {
			ResultType string `json:"resultType"`
			CacheScope string `json:"cacheScope"`
			TTL        *int   `json:"ttlMs"`
			Resources  []struct {
				URI string `json:"uri"`
			} `json:"resources"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(r.Body), &list); err != nil || len(list.Result.Resources) == 0 {
		t.Fatalf("resources/list: %d %s", r.Status, r.Body)
	}
	if l := list.Result; l.ResultType != "complete" || l.CacheScope != "private" || l.TTL == nil {
		t.Errorf("resources/list lacks the 2026-07-28 result fields: %s", r.Body)
	}
	uri := list.Result.Resources[0].URI

	// subscriptions/listen on a 2025 child: the acknowledgement first, then the child's
	// resources/updated for the subscribed URI, each with the subscription id.
	listen := openModernStream(t, b, "alice", modernBody("sub-1", "subscriptions/listen",
		fmt.Sprintf(`"notifications":{"resourceSubscriptions":[%q],"toolsListChanged":true}`, uri)))
	defer listen.Close()
	first := listen.next(t, 10*time.Second)
	if !strings.Contains(first, `"notifications/subscriptions/acknowledged"`) || !strings.Contains(first, `"io.modelcontextprotocol/subscriptionId":"sub-1"`) ||
		!strings.Contains(first, uri) {
		t.Fatalf("first event on the listen stream: %s", first)
	}
	// toggle-subscriber-updates makes the child send an update for every subscribed URI.
	r = do(t, "POST", b.URL, modernHeaders("alice", "tools/call", "toggle-subscriber-updates"),
		modernBody(3, "tools/call", `"name":"toggle-subscriber-updates","arguments":{}`))
	if r.Status != 200 || !strings.Contains(r.Body, "Started") {
		t.Fatalf("toggle-subscriber-updates: %d %s", r.Status, r.Body)
	}
	update := listen.next(t, 15*time.Second)
	if !strings.Contains(update, `"notifications/resources/updated"`) || !strings.Contains(update, uri) ||
		!strings.Contains(update, `"io.modelcontextprotocol/subscriptionId":"sub-1"`) {
		t.Errorf("update on the listen stream: %s", update)
	}
	// Another user's listen stream never sees alice's child.
	other := openModernStream(t, b, "bob", modernBody("sub-2", "subscriptions/listen",
		fmt.Sprintf(`"notifications":{"resourceSubscriptions":[%q]}`, uri)))
	defer other.Close()
	if ack := other.next(t, 10*time.Second); !strings.Contains(ack, "acknowledged") {
		t.Fatalf("bob's acknowledgement: %s", ack)
	}
	if msg, ok := other.within(6 * time.Second); ok {
		t.Errorf("bob's stream received %s, from alice's child", msg)
	}
}

// modernStream is an open 2026-07-28 POST answered with an event stream.
type modernStream struct {
	resp   *http.Response
	events chan string
}

func openModernStream(t *testing.T, b *bridge, user, body string) *modernStream {
	t.Helper()
	var m struct {
		Method string `json:"method"`
	}
	_ = json.Unmarshal([]byte(body), &m)
	req, err := http.NewRequestWithContext(context.Background(), "POST", b.URL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range modernHeaders(user, m.Method, "") {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		resp.Body.Close()
		t.Fatalf("%s: status %d content type %q", m.Method, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &modernStream{resp: resp, events: make(chan string, 64)}
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "id:") {
				s.events <- "an event id: " + sc.Text()
			}
			if data, ok := strings.CutPrefix(sc.Text(), "data:"); ok {
				s.events <- strings.TrimSpace(data)
			}
		}
	}()
	return s
}

func (s *modernStream) next(t *testing.T, timeout time.Duration) string {
	t.Helper()
	msg, ok := s.within(timeout)
	if !ok {
		t.Fatalf("no event within %s", timeout)
	}
	return msg
}

func (s *modernStream) within(timeout time.Duration) (string, bool) {
	select {
	case msg, ok := <-s.events:
		return msg, ok
	case <-time.After(timeout):
		return "", false
	}
}

func (s *modernStream) Close() { s.resp.Body.Close() }

// TestModernIsolation: two users' 2026-07-28 requests, interleaved for a minute, never
// reach the same child (the bridge's log names the user and pid of every pooled child it starts; each
// pid is checked alive in /proc), and every answer goes to the request that asked.
func TestModernIsolation(t *testing.T) {
	b := startBridge(t, []string{"--pool-size", "2"}, mcpservers.GoEverything(t))
	deadline := time.Now().Add(time.Minute)
	done := make(chan error, 2)
	for _, user := range []string{"alice", "bob"} {
		go func() {
			for i := 0; time.Now().Before(deadline); i++ {
				if i%4 == 0 {
					time.Sleep(20 * time.Millisecond) // let the other user's requests in between
				}
				id := fmt.Sprintf("%s-%d", user, i)
				r := do(t, "POST", b.URL, modernHeaders(user, "tools/call", "test_simple_text"),
					modernBody(id, "tools/call", `"name":"test_simple_text","arguments":{}`))
				if gotID, code, _ := rpcEnvelope(t, r.Body); r.Status != 200 || code != 0 || gotID != `"`+id+`"` {
					done <- fmt.Errorf("%s: status %d body %s", id, r.Status, r.Body)
					return
				}
			}
			done <- nil
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	owner := map[string]string{} // pid → user
	for _, line := range strings.Split(b.logs.String(), "\n") {
		var e struct {
			Msg  string `json:"msg"`
			User string `json:"user"`
			PID  int    `json:"pid"`
		}
		if json.Unmarshal([]byte(line), &e) != nil || e.Msg != "pooled child created" {
			continue
		}
		pid := fmt.Sprint(e.PID)
		if prev, ok := owner[pid]; ok && prev != e.User {
			t.Errorf("child %s served %s and %s", pid, prev, e.User)
		}
		owner[pid] = e.User
		if _, err := os.Stat("/proc/" + pid); err != nil {
			t.Errorf("pooled child %s of %s is not running: %v", pid, e.User, err)
		}
	}
	users := map[string]int{}
	for _, u := range owner {
		users[u]++
	}
	if users["alice"] < 1 || users["bob"] < 1 || users["alice"] > 2 || users["bob"] > 2 {
		t.Errorf("pooled children per user %v, want 1 or 2 each (pool size 2)", users)
	}
}
