package bridge

//lint:file-ignore SA1019 sampling is deprecated at 2026-07-28 but 2025 servers still ask for it, and the bridge translates it: the tests use it on purpose.

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/tests/internal/mcpservers"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// userTransport sets the identity header the mcpauth plugin would inject.
type userTransport struct{ user string }

func (u userTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-User-Id", u.user)
	return http.DefaultTransport.RoundTrip(r)
}

// connect opens a Go SDK client session through the bridge as user, at the newest
// protocol version both support (2026-07-28: stateless).
func connect(t *testing.T, b *bridge, user string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	return connectAt(t, b, user, opts, "")
}

// connectAt is connect pinned to a protocol version ("" lets the client choose).
func connectAt(t *testing.T, b *bridge, user string, opts *mcp.ClientOptions, version string) *mcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "bridge-test", Version: "1"}, opts)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:   b.URL,
		HTTPClient: &http.Client{Transport: userTransport{user}},
	}, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("connect through the bridge: %v", err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func textOf(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// TestSDKEverything drives server-everything (a 2025 server on stdio) through the bridge
// with the official Go SDK client, in both eras: every feature family, progress,
// sampling and elicitation answered by the client, cancellation; at 2025-11-25 in a
// session (ended with DELETE), at 2026-07-28 statelessly, the bridge translating for
// its pooled child.
func TestSDKEverything(t *testing.T) {
	for _, version := range []string{"2025-11-25", "2026-07-28"} {
		t.Run(version, func(t *testing.T) { testSDKEverything(t, version) })
	}
}

func testSDKEverything(t *testing.T, version string) {
	legacy := version < "2026-07-28"
	b := startBridge(t, nil, mcpservers.Everything(t))

	var mu sync.Mutex
	var progress []float64
	var sampled, elicited bool
	cs := connectAt(t, b, "alice", &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			progress = append(progress, req.Params.Progress)
			mu.Unlock()
		},
		CreateMessageHandler: func(_ context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			mu.Lock()
			sampled = true
			mu.Unlock()
			return &mcp.CreateMessageResult{Model: "test-model", Role: "assistant",
				Content: &mcp.TextContent{Text: "sampled answer 42"}}, nil
		},
		ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			mu.Lock()
			elicited = true
			mu.Unlock()
			return &mcp.ElicitResult{Action: "decline"}, nil
		},
	}, version)
	if got := cs.InitializeResult().ProtocolVersion; got != version {
		t.Errorf("negotiated protocol version = %q, want %s", got, version)
	}
	if sid := cs.ID(); (sid != "") != legacy {
		t.Errorf("session id %q at %s", sid, version)
	}

	t.Run("tools", func(t *testing.T) {
		tools, err := cs.ListTools(ctx(t), nil)
		if err != nil {
			t.Fatalf("ListTools: %v", err)
		}
		names := map[string]bool{}
		for _, tool := range tools.Tools {
			names[tool.Name] = true
		}
		for _, want := range []string{"echo", "get-sum", "trigger-long-running-operation", "trigger-sampling-request"} {
			if !names[want] {
				t.Errorf("tools/list lacks %q (got %d tools)", want, len(names))
			}
		}
		res, err := cs.CallTool(ctx(t), &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "héllo\nbridge"}})
		if err != nil {
			t.Fatalf("CallTool echo: %v", err)
		}
		if got, want := textOf(t, res), "Echo: héllo\nbridge"; got != want {
			t.Errorf("echo = %q, want %q", got, want)
		}
		res, err = cs.CallTool(ctx(t), &mcp.CallToolParams{Name: "get-sum", Arguments: map[string]any{"a": 19, "b": 23}})
		if err != nil {
			t.Fatalf("CallTool get-sum: %v", err)
		}
		if got := textOf(t, res); !strings.Contains(got, "42") {
			t.Errorf("get-sum(19, 23) = %q, want it to contain 42", got)
		}
	})

	t.Run("resources", func(t *testing.T) {
		res, err := cs.ListResources(ctx(t), nil)
		if err != nil {
			t.Fatalf("ListResources: %v", err)
		}
		if len(res.Resources) == 0 {
			t.Fatal("resources/list is empty")
		}
		read, err := cs.ReadResource(ctx(t), &mcp.ReadResourceParams{URI: res.Resources[0].URI})
		if err != nil {
			t.Fatalf("ReadResource %s: %v", res.Resources[0].URI, err)
		}
		if len(read.Contents) == 0 || read.Contents[0].URI != res.Resources[0].URI {
			t.Errorf("resources/read %s returned %+v", res.Resources[0].URI, read.Contents)
		}
		if _, err := cs.ListResourceTemplates(ctx(t), nil); err != nil {
			t.Errorf("ListResourceTemplates: %v", err)
		}
	})

	t.Run("prompts", func(t *testing.T) {
		res, err := cs.ListPrompts(ctx(t), nil)
		if err != nil {
			t.Fatalf("ListPrompts: %v", err)
		}
		var simple string
		for _, p := range res.Prompts {
			if len(p.Arguments) == 0 {
				simple = p.Name
				break
			}
		}
		if simple == "" {
			t.Fatalf("no prompt without arguments among %d", len(res.Prompts))
		}
		got, err := cs.GetPrompt(ctx(t), &mcp.GetPromptParams{Name: simple})
		if err != nil {
			t.Fatalf("GetPrompt %s: %v", simple, err)
		}
		if len(got.Messages) == 0 {
			t.Errorf("prompt %s has no messages", simple)
		}
	})

	t.Run("progress", func(t *testing.T) {
		params := &mcp.CallToolParams{Name: "trigger-long-running-operation", Arguments: map[string]any{"duration": 0.6, "steps": 3}}
		params.SetProgressToken("progress-1")
		res, err := cs.CallTool(ctx(t), params)
		if err != nil {
			t.Fatalf("CallTool trigger-long-running-operation: %v", err)
		}
		if !strings.Contains(textOf(t, res), "completed") {
			t.Errorf("result = %q", textOf(t, res))
		}
		// The client hands notifications to its handler asynchronously: wait for them.
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			got := append([]float64(nil), progress...)
			mu.Unlock()
			if len(got) == 3 && got[0] == 1 && got[2] == 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("progress notifications = %v, want [1 2 3]", got)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	// At 2026-07-28 the child's sampling and elicitation requests reach the client as
	// input requests of the tool call's result (multi round-trip requests), answered in
	// the SDK's retry.
	t.Run("sampling", func(t *testing.T) {
		res, err := cs.CallTool(ctx(t), &mcp.CallToolParams{Name: "trigger-sampling-request", Arguments: map[string]any{"prompt": "hi"}})
		if err != nil {
			t.Fatalf("CallTool trigger-sampling-request: %v", err)
		}
		if !strings.Contains(textOf(t, res), "sampled answer 42") {
			t.Errorf("result = %q, want the client's sampled answer in it", textOf(t, res))
		}
		mu.Lock()
		defer mu.Unlock()
		if !sampled {
			t.Error("the client's sampling handler was never called")
		}
	})

	t.Run("elicitation", func(t *testing.T) {
		res, err := cs.CallTool(ctx(t), &mcp.CallToolParams{Name: "trigger-elicitation-request", Arguments: map[string]any{}})
		if err != nil {
			t.Fatalf("CallTool trigger-elicitation-request: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if !elicited {
			t.Errorf("the client's elicitation handler was never called (result %q)", textOf(t, res))
		}
	})

	t.Run("cancellation", func(t *testing.T) { testCancellation(t, b, cs) })
	if !legacy {
		return // no session to delete
	}

	t.Run("delete", func(t *testing.T) {
		sid := cs.ID()
		if sid == "" {
			t.Fatal("no session id")
		}
		if err := cs.Close(); err != nil {
			t.Fatalf("Close (DELETE): %v", err)
		}
		r := do(t, "POST", b.URL, sessionHeaders("alice", sid), `{"jsonrpc":"2.0","id":2,"method":"ping"}`)
		if r.Status != http.StatusNotFound {
			t.Errorf("POST after DELETE: status %d, want 404", r.Status)
		}
		waitGone(t, b.childPIDs(), 15*time.Second)
	})
}

// TestSDKMemory stores and reads back entities in server-memory through the bridge.
func TestSDKMemory(t *testing.T) {
	b := startBridge(t, nil, mcpservers.Memory(t), mcpservers.MemoryEnv(t))
	cs := connect(t, b, "bob", nil)
	_, err := cs.CallTool(ctx(t), &mcp.CallToolParams{Name: "create_entities", Arguments: map[string]any{
		"entities": []map[string]any{{"name": "bridge", "entityType": "component", "observations": []string{"relays bytes"}}},
	}})
	if err != nil {
		t.Fatalf("create_entities: %v", err)
	}
	res, err := cs.CallTool(ctx(t), &mcp.CallToolParams{Name: "read_graph", Arguments: map[string]any{}})
	if err != nil {
		t.Fatalf("read_graph: %v", err)
	}
	if got := textOf(t, res); !strings.Contains(got, "relays bytes") {
		t.Errorf("read_graph = %q, want the stored observation", got)
	}
}

// TestSDKFilesystem lists and reads a directory through server-filesystem.
func TestSDKFilesystem(t *testing.T) {
	root := t.TempDir()
	if err := writeFile(root+"/note.txt", "through the bridge\n"); err != nil {
		t.Fatal(err)
	}
	b := startBridge(t, nil, mcpservers.Filesystem(t, root))
	cs := connect(t, b, "carol", nil)
	res, err := cs.CallTool(ctx(t), &mcp.CallToolParams{Name: "list_directory", Arguments: map[string]any{"path": root}})
	if err != nil {
		t.Fatalf("list_directory: %v", err)
	}
	if got := textOf(t, res); !strings.Contains(got, "note.txt") {
		t.Errorf("list_directory = %q, want note.txt", got)
	}
	res, err = cs.CallTool(ctx(t), &mcp.CallToolParams{Name: "read_text_file", Arguments: map[string]any{"path": root + "/note.txt"}})
	if err != nil {
		t.Fatalf("read_text_file: %v", err)
	}
	if got := textOf(t, res); !strings.Contains(got, "through the bridge") {
		t.Errorf("read_text_file = %q", got)
	}
	res, err = cs.CallTool(ctx(t), &mcp.CallToolParams{Name: "read_text_file", Arguments: map[string]any{"path": "/etc/passwd"}})
	if err == nil && !res.IsError {
		t.Errorf("reading outside the allowed root succeeded: %q", textOf(t, res))
	}
}

// TestSDKProtocolVersions: the Go SDK client negotiating each protocol version the
// bridge serves gets a working session (its MCP-Protocol-Version header is accepted).
func TestSDKProtocolVersions(t *testing.T) {
	b := startBridge(t, nil, mcpservers.GoEverything(t))
	for _, version := range []string{"2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"} {
		t.Run(version, func(t *testing.T) {
			c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			client := mcp.NewClient(&mcp.Implementation{Name: "bridge-test", Version: "1"}, nil)
			cs, err := client.Connect(c, &mcp.StreamableClientTransport{
				Endpoint: b.URL, HTTPClient: &http.Client{Transport: userTransport{"v-" + version}},
			}, &mcp.ClientSessionOptions{ProtocolVersion: version})
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			defer cs.Close()
			if got := cs.InitializeResult().ProtocolVersion; got != version {
				t.Errorf("negotiated %q, want %q", got, version)
			}
			res, err := cs.CallTool(c, &mcp.CallToolParams{Name: "test_simple_text", Arguments: map[string]any{}})
			if err != nil || res.IsError || textOf(t, res) == "" {
				t.Errorf("CallTool: %v %+v", err, res)
			}
		})
	}
}

// testCancellation cancels a long tool call from the client and checks the bridge told the
// child, and the client can go on.
func testCancellation(t *testing.T, b *bridge, cs *mcp.ClientSession) {
	c, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := cs.CallTool(c, &mcp.CallToolParams{Name: "trigger-long-running-operation", Arguments: map[string]any{"duration": 30, "steps": 30}})
		done <- err
	}()
	b.waitLog(t, `"rpc":"tools/call"`, 30*time.Second)
	time.Sleep(300 * time.Millisecond) // let the call reach the child
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled CallTool returned %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("cancelled CallTool did not return")
	}
	// The session is still usable afterwards.
	if _, err := cs.CallTool(ctx(t), &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "after"}}); err != nil {
		t.Errorf("CallTool after a cancellation: %v", err)
	}
	// Whichever reaches the bridge first, the client's notifications/cancelled or its
	// closed connection, the call is forgotten and the child told to cancel it.
	b.waitLogAny(t, 30*time.Second, `"status":"client disconnected"`, `"status":"cancelled by client"`)
}
