package bridge

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/tests/internal/mcpservers"
)

// rpcError decodes the JSON-RPC error of a body, if any.
func rpcError(body string) (code int, message string) {
	var r struct {
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(body), &r) != nil || r.Error == nil {
		return 0, ""
	}
	return r.Error.Code, r.Error.Message
}

// TestStatusRules checks every HTTP status rule of the transport with raw requests
// against the bridge wrapping the Go SDK everything-server.
func TestStatusRules(t *testing.T) {
	b := startBridge(t, []string{"--max-message-bytes", "4096"}, mcpservers.GoEverything(t))
	sid := initSession(t, b, "alice")
	ping := `{"jsonrpc":"2.0","id":5,"method":"ping"}`
	big := `{"jsonrpc":"2.0","id":5,"method":"ping","params":{"pad":"` + strings.Repeat("x", 5000) + `"}}`

	tests := []struct {
		name    string
		method  string
		header  map[string]string
		body    string
		status  int
		rpcCode int    // expected JSON-RPC error code in the body, if not 0
		bodyHas string // substring of the body, if not ""
	}{
		{name: "ping", method: "POST", header: sessionHeaders("alice", sid), body: ping, status: 200, bodyHas: `"id":5`},
		{name: "no protocol version header means 2025-03-26", method: "POST",
			header: jsonHeaders("X-User-Id", "alice", "Mcp-Session-Id", sid), body: ping, status: 200},
		{name: "no session", method: "POST", header: jsonHeaders("X-User-Id", "alice", "MCP-Protocol-Version", "2025-11-25"), body: ping, status: 400, rpcCode: -32600, bodyHas: "Mcp-Session-Id"},
		{name: "unknown session", method: "POST", header: sessionHeaders("alice", "0123456789abcdef0123456789abcdef"), body: ping, status: 404},
		{name: "unsupported protocol version", method: "POST", header: sessionHeaders("alice", sid, "MCP-Protocol-Version", "2099-01-01"), body: ping, status: 400, bodyHas: "2099-01-01"},
		{name: "wrong content type", method: "POST", header: sessionHeaders("alice", sid, "Content-Type", "text/plain"), body: ping, status: 415},
		{name: "unacceptable Accept", method: "POST", header: sessionHeaders("alice", sid, "Accept", "text/html"), body: ping, status: 406},
		{name: "malformed JSON", method: "POST", header: sessionHeaders("alice", sid), body: `{"jsonrpc":"2.0",`, status: 400, rpcCode: -32700},
		{name: "not JSON-RPC", method: "POST", header: sessionHeaders("alice", sid), body: `{"id":1,"method":"ping"}`, status: 400, rpcCode: -32600},
		{name: "null id", method: "POST", header: sessionHeaders("alice", sid), body: `{"jsonrpc":"2.0","id":null,"method":"ping"}`, status: 400, rpcCode: -32600},
		{name: "empty batch", method: "POST", header: sessionHeaders("alice", sid, "MCP-Protocol-Version", "2025-03-26"), body: `[]`, status: 400},
		{name: "oversized message", method: "POST", header: sessionHeaders("alice", sid), body: big, status: 413},
		{name: "notification is accepted", method: "POST", header: sessionHeaders("alice", sid), body: `{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}`, status: 202},
		{name: "response is accepted", method: "POST", header: sessionHeaders("alice", sid), body: `{"jsonrpc":"2.0","id":"s-1","result":{}}`, status: 202},
		{name: "batch in 2025-03-26", method: "POST", header: sessionHeaders("alice", sid, "MCP-Protocol-Version", "2025-03-26", "Accept", "application/json"),
			body:   `[{"jsonrpc":"2.0","id":"a","method":"ping"},{"jsonrpc":"2.0","method":"notifications/roots/list_changed"},{"jsonrpc":"2.0","id":"b","method":"ping"}]`,
			status: 200, bodyHas: `"id":"b"`},
		{name: "batch refused in 2025-06-18", method: "POST", header: sessionHeaders("alice", sid, "MCP-Protocol-Version", "2025-06-18"),
			body: `[{"jsonrpc":"2.0","id":"a","method":"ping"}]`, status: 400, bodyHas: "batches"},
		{name: "batch refused in 2025-11-25", method: "POST", header: sessionHeaders("alice", sid),
			body: `[{"jsonrpc":"2.0","id":"a","method":"ping"}]`, status: 400, bodyHas: "batches"},
		{name: "initialize in a batch", method: "POST", header: jsonHeaders("X-User-Id", "alice", "MCP-Protocol-Version", "2025-03-26"),
			body: "[" + initBody + "]", status: 400},
		{name: "initialize with a session id", method: "POST", header: sessionHeaders("alice", sid), body: initBody, status: 400},
		{name: "foreign Origin", method: "POST", header: sessionHeaders("alice", sid, "Origin", "https://evil.example.com"), body: ping, status: 403},
		{name: "loopback Origin", method: "POST", header: sessionHeaders("alice", sid, "Origin", "http://localhost:6274"), body: ping, status: 200},
		{name: "null Origin", method: "POST", header: sessionHeaders("alice", sid, "Origin", "null"), body: ping, status: 403},
		{name: "GET without Accept event-stream", method: "GET", header: map[string]string{"X-User-Id": "alice", "Mcp-Session-Id": sid, "Accept": "application/json"}, status: 406},
		{name: "GET without session", method: "GET", header: map[string]string{"X-User-Id": "alice", "Accept": "text/event-stream"}, status: 400},
		{name: "GET unknown session", method: "GET", header: map[string]string{"X-User-Id": "alice", "Mcp-Session-Id": "nope", "Accept": "text/event-stream"}, status: 404},
		{name: "GET bad version", method: "GET", header: map[string]string{"X-User-Id": "alice", "Mcp-Session-Id": sid, "Accept": "text/event-stream", "MCP-Protocol-Version": "1.0"}, status: 400},
		{name: "GET foreign Origin", method: "GET", header: map[string]string{"X-User-Id": "alice", "Mcp-Session-Id": sid, "Accept": "text/event-stream", "Origin": "http://evil.example"}, status: 403},
		{name: "DELETE without session", method: "DELETE", header: map[string]string{"X-User-Id": "alice"}, status: 400},
		{name: "DELETE unknown session", method: "DELETE", header: map[string]string{"X-User-Id": "alice", "Mcp-Session-Id": "nope"}, status: 404},
		{name: "PUT", method: "PUT", header: sessionHeaders("alice", sid), body: ping, status: 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, tc.method, b.URL, tc.header, tc.body)
			if r.Status != tc.status {
				t.Fatalf("status = %d, want %d; body %s", r.Status, tc.status, r.Body)
			}
			if tc.rpcCode != 0 {
				if code, _ := rpcError(r.Body); code != tc.rpcCode {
					t.Errorf("JSON-RPC error code = %d, want %d; body %s", code, tc.rpcCode, r.Body)
				}
			}
			if tc.bodyHas != "" && !strings.Contains(r.Body, tc.bodyHas) {
				t.Errorf("body %s does not contain %q", r.Body, tc.bodyHas)
			}
			if r.Status >= 400 && r.Status != 405 {
				if code, msg := rpcError(r.Body); code == 0 || msg == "" {
					t.Errorf("error body is not a JSON-RPC error with a message: %s", r.Body)
				}
			}
		})
	}

	t.Run("batch answers every request with its own id", func(t *testing.T) {
		r := do(t, "POST", b.URL, sessionHeaders("alice", sid, "MCP-Protocol-Version", "2025-03-26", "Accept", "application/json"),
			`[{"jsonrpc":"2.0","id":"a","method":"ping"},{"jsonrpc":"2.0","id":"b","method":"ping"}]`)
		var got []map[string]json.RawMessage
		if err := json.Unmarshal([]byte(r.Body), &got); err != nil || len(got) != 2 {
			t.Fatalf("batch response = %s (%v), want an array of 2", r.Body, err)
		}
		ids := map[string]bool{string(got[0]["id"]): true, string(got[1]["id"]): true}
		if !ids[`"a"`] || !ids[`"b"`] {
			t.Errorf("batch response ids = %v, want \"a\" and \"b\"", ids)
		}
	})

	t.Run("a second GET stream replaces the first", func(t *testing.T) {
		first := openStream(t, b, "alice", sid)
		defer first.Close()
		second := openStream(t, b, "alice", sid)
		defer second.Close()
		select {
		case _, ok := <-first.events:
			if ok {
				t.Error("the replaced stream carried a message")
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the first GET stream was not closed when a second one opened")
		}
	})

	t.Run("DELETE ends the session", func(t *testing.T) {
		other := initSession(t, b, "alice")
		r := do(t, "DELETE", b.URL, sessionHeaders("alice", other), "")
		if r.Status != http.StatusNoContent {
			t.Fatalf("DELETE: status %d, want 204", r.Status)
		}
		for _, method := range []string{"POST", "GET", "DELETE"} {
			h := sessionHeaders("alice", other, "Accept", "application/json, text/event-stream")
			if r := do(t, method, b.URL, h, ping); r.Status != http.StatusNotFound {
				t.Errorf("%s after DELETE: status %d, want 404", method, r.Status)
			}
		}
	})
}

// TestAllowedOrigins checks a configured origin list replaces the loopback default.
func TestAllowedOrigins(t *testing.T) {
	b := startBridge(t, []string{"--allowed-origins", "https://claude.ai, https://Example.com:8443"}, mcpservers.GoEverything(t))
	for _, tc := range []struct {
		origin string
		status int
	}{
		{"https://claude.ai", 200},
		{"https://example.com:8443", 200},
		{"", 200},
		{"http://claude.ai", 403},
		{"https://claude.ai.evil.com", 403},
		{"http://localhost:3000", 403},
	} {
		t.Run(tc.origin, func(t *testing.T) {
			h := jsonHeaders("X-User-Id", "u")
			if tc.origin != "" {
				h["Origin"] = tc.origin
			}
			r := do(t, "POST", b.URL, h, initBody)
			if r.Status != tc.status {
				t.Errorf("initialize with Origin %q: status %d, want %d", tc.origin, r.Status, tc.status)
			}
			if sid := r.Header.Get("Mcp-Session-Id"); sid != "" {
				do(t, "DELETE", b.URL, sessionHeaders("u", sid), "")
			}
		})
	}
}

// TestSessionHijack: a session id is useless to any other user, and probing does not
// disturb its owner.
func TestSessionHijack(t *testing.T) {
	b := startBridge(t, nil, mcpservers.GoEverything(t))
	sid := initSession(t, b, "alice")
	ping := `{"jsonrpc":"2.0","id":9,"method":"ping"}`
	for _, user := range []string{"mallory", "", "Alice", "alice2"} {
		for _, method := range []string{"POST", "GET", "DELETE"} {
			t.Run(fmt.Sprintf("%s as %q", method, user), func(t *testing.T) {
				h := sessionHeaders(user, sid, "Accept", "application/json, text/event-stream")
				if user == "" {
					delete(h, "X-User-Id")
				}
				if r := do(t, method, b.URL, h, ping); r.Status != http.StatusNotFound {
					t.Errorf("status %d, want 404; body %s", r.Status, r.Body)
				}
			})
		}
	}
	if r := do(t, "POST", b.URL, sessionHeaders("alice", sid), ping); r.Status != http.StatusOK {
		t.Errorf("owner's request after hijack attempts: status %d, want 200", r.Status)
	}
}

// TestIDMapping: concurrent requests of one session that reuse one id each get their
// own answer, with the id exactly as the client wrote it.
func TestIDMapping(t *testing.T) {
	b := startBridge(t, nil, mcpservers.GoEverything(t))
	sid := initSession(t, b, "alice")
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"jsonrpc":"2.0","id":"same\u0021","method":"prompts/get","params":{"name":"test_prompt_with_arguments","arguments":{"arg1":"v%d","arg2":"w"}}}`, i)
			r := do(t, "POST", b.URL, sessionHeaders("alice", sid, "Accept", "application/json"), body)
			if r.Status != 200 || !strings.HasPrefix(r.Body, `{"id":"same\u0021"`) && !strings.Contains(r.Body, `"id":"same\u0021"`) {
				errs <- fmt.Sprintf("request %d: status %d body %s", i, r.Status, r.Body)
				return
			}
			if !strings.Contains(r.Body, fmt.Sprintf("v%d", i)) || strings.Count(r.Body, `"id"`) != 1 {
				errs <- fmt.Sprintf("request %d got someone else's answer: %s", i, r.Body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestRequestStream: progress notifications travel on the request's own event stream,
// before the response that ends it.
func TestRequestStream(t *testing.T) {
	b := startBridge(t, nil, mcpservers.GoEverything(t))
	sid := initSession(t, b, "alice")
	r := do(t, "POST", b.URL, sessionHeaders("alice", sid),
		`{"jsonrpc":"2.0","id":"p1","method":"tools/call","params":{"name":"test_tool_with_progress","arguments":{},"_meta":{"progressToken":"tok-7"}}}`)
	if ct := r.Header.Get("Content-Type"); r.Status != 200 || ct != "text/event-stream" {
		t.Fatalf("status %d content type %q, want 200 text/event-stream; body %s", r.Status, ct, r.Body)
	}
	msgs := sseMessages(r.Body)
	if len(msgs) != 4 {
		t.Fatalf("got %d events, want 3 progress + 1 response: %v", len(msgs), msgs)
	}
	for i, m := range msgs[:3] {
		if !strings.Contains(m, `"method":"notifications/progress"`) || !strings.Contains(m, `"progressToken":"tok-7"`) {
			t.Errorf("event %d = %s, want progress for tok-7", i, m)
		}
	}
	if last := msgs[3]; !strings.Contains(last, `"id":"p1"`) || !strings.Contains(last, `tok-7`) {
		t.Errorf("last event = %s, want the response to p1", last)
	}

	t.Run("JSON-only client", func(t *testing.T) {
		r := do(t, "POST", b.URL, sessionHeaders("alice", sid, "Accept", "application/json"),
			`{"jsonrpc":"2.0","id":"p2","method":"tools/call","params":{"name":"test_tool_with_progress","arguments":{},"_meta":{"progressToken":"tok-8"}}}`)
		if ct := r.Header.Get("Content-Type"); r.Status != 200 || ct != "application/json" || !strings.Contains(r.Body, `"id":"p2"`) {
			t.Errorf("status %d content type %q body %s, want the JSON response", r.Status, ct, r.Body)
		}
	})
	t.Run("SSE-only client", func(t *testing.T) {
		r := do(t, "POST", b.URL, sessionHeaders("alice", sid, "Accept", "text/event-stream"), `{"jsonrpc":"2.0","id":"p3","method":"ping"}`)
		if ct := r.Header.Get("Content-Type"); r.Status != 200 || ct != "text/event-stream" || len(sseMessages(r.Body)) != 1 {
			t.Errorf("status %d content type %q body %s, want one event", r.Status, ct, r.Body)
		}
	})
}
