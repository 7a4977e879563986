// Package stdiotest is a scripted stdio JSON-RPC peer for the bridge's unit tests: a test
// binary re-executes itself as the child process (the os/exec test-helper pattern), so
// unit tests exercise real pipes and real processes without npm. The integration tests
// in tests/bridge use the real MCP servers.
//
// Methods it answers:
//
//	echo      result: the params
//	progress  one notifications/progress per params.steps for _meta.progressToken, then a result
//	sample    sends the client a sampling/createMessage request, answers with the client's result
//	notify    sends notifications/message (not tied to the request), then a result
//	hang      never answers
//	crash     exits with status 3
//	deaf      stops reading stdin for good (the process stays alive)
//	cancelled result: the requestIds of every notifications/cancelled received so far
//	initialize result: {"protocolVersion": params.protocolVersion}
package stdiotest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

const envVar = "MCPBRIDGE_STDIOTEST_CHILD"

// Command returns the argv and environment entry that start this test binary as the
// scripted child.
func Command() (argv []string, env string) {
	return []string{os.Args[0]}, envVar + "=1"
}

// Env returns the test process's environment plus the child marker.
func Env() []string {
	_, env := Command()
	return append(os.Environ(), env)
}

// MaybeRun turns the process into the scripted child when started by [Command]; call it
// first in TestMain. It does not return in the child.
func MaybeRun() {
	if os.Getenv(envVar) != "1" {
		return
	}
	run()
	os.Exit(0)
}

type message struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   json.RawMessage `json:"error,omitempty"`
}

func run() {
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	send := func(v any) {
		data, _ := json.Marshal(v)
		mu.Lock()
		out.Write(data)
		out.WriteByte('\n')
		out.Flush()
		mu.Unlock()
	}
	result := func(id json.RawMessage, r any) {
		send(map[string]any{"jsonrpc": "2.0", "id": id, "result": r})
	}
	var cancelled []json.RawMessage
	waiting := map[string]chan json.RawMessage{}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 0, 64<<10), 16<<20)
	fmt.Fprintln(os.Stderr, "stdiotest child ready")
	for in.Scan() {
		var m message
		if json.Unmarshal(in.Bytes(), &m) != nil {
			continue
		}
		if m.Method == "" { // a response to one of our requests
			mu.Lock()
			ch := waiting[string(m.ID)]
			mu.Unlock()
			if ch != nil {
				ch <- m.Result
			}
			continue
		}
		var p struct {
			ProtocolVersion string          `json:"protocolVersion"`
			Steps           int             `json:"steps"`
			RequestID       json.RawMessage `json:"requestId"`
			Meta            struct {
				ProgressToken json.RawMessage `json:"progressToken"`
			} `json:"_meta"`
		}
		_ = json.Unmarshal(m.Params, &p)
		switch m.Method {
		case "initialize":
			result(m.ID, map[string]any{"protocolVersion": p.ProtocolVersion, "capabilities": map[string]any{}})
		case "echo":
			result(m.ID, m.Params)
		case "progress":
			for i := 1; i <= p.Steps; i++ {
				send(map[string]any{"jsonrpc": "2.0", "method": "notifications/progress",
					"params": map[string]any{"progressToken": p.Meta.ProgressToken, "progress": i}})
			}
			result(m.ID, map[string]any{"steps": p.Steps})
		case "notify":
			send(map[string]any{"jsonrpc": "2.0", "method": "notifications/message", "params": map[string]any{"level": "info", "data": "hello"}})
			result(m.ID, map[string]any{})
		case "sample":
			ch := make(chan json.RawMessage, 1)
			mu.Lock()
			waiting[`"srv-1"`] = ch
			mu.Unlock()
			send(map[string]any{"jsonrpc": "2.0", "id": "srv-1", "method": "sampling/createMessage", "params": map[string]any{}})
			go func(id json.RawMessage) { result(id, map[string]any{"sampled": <-ch}) }(m.ID)
		case "hang":
		case "crash":
			os.Exit(3)
		case "deaf":
			time.Sleep(time.Hour) // select{} would be a deadlock the runtime kills

		case "notifications/cancelled":
			mu.Lock()
			cancelled = append(cancelled, p.RequestID)
			mu.Unlock()
		case "cancelled":
			mu.Lock()
			ids := append([]json.RawMessage{}, cancelled...)
			mu.Unlock()
			result(m.ID, map[string]any{"ids": ids})
		default:
			if m.ID != nil {
				send(map[string]any{"jsonrpc": "2.0", "id": m.ID, "error": map[string]any{"code": -32601, "message": "method not found"}})
			}
		}
	}
}
