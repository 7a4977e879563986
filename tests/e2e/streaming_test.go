package e2e

//lint:file-ignore SA1019 sampling is deprecated at 2026-07-28 but 2025 servers still ask for it, and the bridge translates it: the tests use it on purpose.

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestStreamingThroughTheEdge: what Streamable HTTP needs beyond request/response
// survives Traefik and the plugin: progress notifications arrive on the request's SSE
// stream while the tool is still running (nothing buffers the stream), and a
// server-to-client request (sampling) reaches the client and its answer gets back.
func TestStreamingThroughTheEdge(t *testing.T) {
	ctx := testContext(t)
	mcpURL := stack.MCPURL("everything")

	var mu sync.Mutex
	var progressAt []time.Time
	sampled := make(chan string, 1)
	opts := &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			progressAt = append(progressAt, time.Now())
			mu.Unlock()
		},
		CreateMessageHandler: func(_ context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			text := ""
			if len(req.Params.Messages) > 0 {
				if tc, ok := req.Params.Messages[0].Content.(*mcp.TextContent); ok {
					text = tc.Text
				}
			}
			select {
			case sampled <- text:
			default:
			}
			return &mcp.CreateMessageResult{Model: "e2e-model", Role: "assistant", Content: &mcp.TextContent{Text: "sampled through the gateway"}}, nil
		},
	}
	s := connectSDKWith(t, ctx, mcpURL, newSDKOAuth(t, alice), opts)

	t.Run("progress", func(t *testing.T) {
		params := &mcp.CallToolParams{Name: "trigger-long-running-operation", Arguments: map[string]any{"duration": 3, "steps": 3}}
		params.SetProgressToken("e2e-progress")
		res, err := s.CallTool(ctx, params)
		done := time.Now()
		if err != nil || res.IsError {
			t.Fatalf("long-running tool: %v %+v", err, res)
		}
		// The SDK runs notification handlers concurrently with the call's return: the
		// last one may land just after CallTool returns.
		eventually(t, 10*time.Second, "3 progress notifications", func() (bool, string) {
			mu.Lock()
			defer mu.Unlock()
			return len(progressAt) == 3, fmt.Sprintf("%d received", len(progressAt))
		})
		mu.Lock()
		defer mu.Unlock()
		sort.Slice(progressAt, func(i, j int) bool { return progressAt[i].Before(progressAt[j]) })
		// Streamed, not buffered until the end: the first step's notification came
		// well before the result (steps are 1s apart, so about 2s; a buffered stream
		// delivers all of them with the result).
		if gap := done.Sub(progressAt[0]); gap < 700*time.Millisecond {
			t.Errorf("first progress notification only %s before the result: the stream is buffered", gap)
		}
	})

	t.Run("sampling", func(t *testing.T) {
		got := callText(t, ctx, s, "trigger-sampling-request", map[string]any{"prompt": "say hi", "maxTokens": 10})
		select {
		case prompt := <-sampled:
			if !strings.Contains(prompt, "say hi") {
				t.Errorf("sampling request prompt = %q, want it to carry the tool's prompt", prompt)
			}
		default:
			t.Fatal("the server's sampling request never reached the client")
		}
		if !strings.Contains(got, "sampled through the gateway") {
			t.Errorf("tool result %q does not contain the client's sampling answer", got)
		}
	})
}
