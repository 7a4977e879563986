package bridge

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/tests/internal/mcpservers"
)

// TestToolPolicy: with --tool-policy, tools/list shows each caller only the tools they
// may call and calling another gets a JSON-RPC error naming the reason, by scope
// (X-Auth-Scopes) and by user (X-User-Login), in both protocol eras; the child never
// sees a refused call.
func TestToolPolicy(t *testing.T) {
	b := startBridge(t, []string{"--tool-policy", "get-sum=scope:math; trigger-*=user:alice; *=any"}, mcpservers.Everything(t))
	callers := []struct {
		login, scopes string
		visible       []string // of get-sum, echo, trigger-long-running-operation
		refused       string   // a tool the caller may not call
		reason        string
	}{
		{"alice", "mcp", []string{"echo", "trigger-long-running-operation"}, "get-sum", "scope math"},
		{"bob", "mcp math", []string{"echo", "get-sum"}, "trigger-long-running-operation", "user alice"},
	}
	watched := []string{"echo", "get-sum", "trigger-long-running-operation"}
	for _, era := range []string{"2025-11-25", "2026-07-28"} {
		for _, c := range callers {
			t.Run(era+"/"+c.login, func(t *testing.T) {
				ident := []string{"X-User-Login", c.login, "X-Auth-Scopes", c.scopes}
				var post func(method, name, body string) rawResponse
				if era == "2026-07-28" {
					post = func(method, name, body string) rawResponse {
						return do(t, "POST", b.URL, modernHeaders("id-"+c.login, method, name, ident...), body)
					}
				} else {
					sid := initSession(t, b, "id-"+c.login)
					post = func(_, _, body string) rawResponse {
						return do(t, "POST", b.URL, sessionHeaders("id-"+c.login, sid, append(ident, "Accept", "application/json")...), body)
					}
				}
				body := func(id any, method, members string) string {
					if era == "2026-07-28" {
						return modernBody(id, method, members)
					}
					return strings.Replace(modernBody(id, method, members), ","+modernMeta, "", 1)
				}
				r := post("tools/list", "", body(1, "tools/list", `"x":0`))
				var list struct {
					Result struct {
						Tools []struct{ Name string } `json:"tools"`
					} `json:"result"`
				}
				if err := json.Unmarshal([]byte(r.Body), &list); err != nil || len(list.Result.Tools) == 0 {
					t.Fatalf("tools/list: %d %s", r.Status, r.Body)
				}
				var seen []string
				for _, tool := range list.Result.Tools {
					for _, w := range watched {
						if tool.Name == w {
							seen = append(seen, w)
						}
					}
				}
				sort.Strings(seen)
				if strings.Join(seen, ",") != strings.Join(c.visible, ",") {
					t.Errorf("tools/list shows %v of %v, want %v", seen, watched, c.visible)
				}
				r = post("tools/call", c.refused, body(2, "tools/call", `"name":"`+c.refused+`","arguments":{"a":1,"b":2,"duration":0.1,"steps":1}`))
				if code, msg := rpcError(r.Body); code != -32602 || !strings.Contains(msg, c.refused) || !strings.Contains(msg, c.reason) {
					t.Errorf("calling %s: %d %s, want -32602 naming the tool and %q", c.refused, r.Status, r.Body, c.reason)
				}
				allowed := c.visible[len(c.visible)-1]
				r = post("tools/call", allowed, body(3, "tools/call", `"name":"`+allowed+`","arguments":{"message":"ok","a":1,"b":2,"duration":0.1,"steps":1}`))
				if code, _ := rpcError(r.Body); code != 0 || !strings.Contains(r.Body, `"content"`) {
					t.Errorf("calling %s: %d %s", allowed, r.Status, r.Body)
				}
			})
		}
	}
	// Eight calls reached the bridge; only the four allowed ones reached the child (the
	// bridge logs a "request" line per call the child answered).
	// (The log line may follow the answer by a moment.)
	childCalls := 0
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		childCalls = 0
		for _, line := range strings.Split(b.logs.String(), "\n") {
			if strings.Contains(line, `"msg":"request"`) && strings.Contains(line, `"method":"tools/call"`) {
				childCalls++
			}
		}
		if childCalls >= 4 {
			break
		}
	}
	if childCalls != 4 {
		t.Errorf("the child answered %d tools/call requests, want the 4 allowed ones", childCalls)
	}
}
