package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// --- 2026-07-28 (stateless) ---

var users atomic.Int64

// newUser names a fresh user (X-User-Id), so that each client gets its own pool.
func newUser() string { return "bench-" + strconv.FormatInt(users.Add(1), 10) }

const modernMeta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`

// modernClient makes 2026-07-28 tool calls: no session, every request on its own.
type modernClient struct {
	url, user, name string
	tool            string // the params object without its closing brace
	id              int
}

func newModernClient(url, user, tool string) (client, error) {
	var t struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal([]byte(tool), &t); err != nil {
		return nil, err
	}
	return &modernClient{url: url, user: user, name: t.Name, tool: strings.TrimSuffix(strings.TrimSpace(tool), "}")}, nil
}

func (c *modernClient) call(context.Context) error {
	c.id++
	id := strconv.Itoa(c.id)
	req, err := http.NewRequest("POST", c.url, strings.NewReader(
		`{"jsonrpc":"2.0","id":`+id+`,"method":"tools/call","params":`+c.tool+`,`+modernMeta+`}}`))
	if err != nil {
		return err
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json, text/event-stream")
	h.Set("MCP-Protocol-Version", "2026-07-28")
	h.Set("Mcp-Method", "tools/call")
	h.Set("Mcp-Name", c.name)
	h.Set("X-User-Id", c.user)
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(data), `"id":`+id+`,`) && !strings.Contains(string(data), `"id":`+id+`}`) {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, data)
	}
	return nil
}

func (c *modernClient) close() {}

// firstResults measures what a new client waits for its first tool result: a 2025
// client (initialize, initialized, the call) and a 2026-07-28 client (the call, as a
// new user, so a pooled child must be found), with spares and without. New clients
// come one at a time, 1.5 s apart, so the spares are back between them (with spares,
// a burst faster than a runtime boots waits for boots again).
func firstResults(o options, argv []string, tool string) error {
	fmt.Printf("time to the first tool result of a new client (%d clients each, 1.5 s apart):\n\n", o.firstClients)
	fmt.Println("| bridge | 2025-11-25 p50 | 2025-11-25 max | 2026-07-28 p50 | 2026-07-28 max |")
	fmt.Println("|---|---|---|---|---|")
	for _, spares := range []string{"2", "0"} {
		b, err := startBridge(o.bridge, argv, "--spares", spares)
		if err != nil {
			return err
		}
		time.Sleep(3 * time.Second) // spares booted
		var legacy, modern []time.Duration
		for range o.firstClients {
			start := time.Now()
			c, err := newHTTPClient(b.url, tool)
			if err == nil {
				err = c.call(context.Background())
			}
			if err != nil {
				b.stop()
				return fmt.Errorf("first result (2025): %w", err)
			}
			legacy = append(legacy, time.Since(start))
			c.close()
			time.Sleep(1500 * time.Millisecond)
			start = time.Now()
			m, _ := newModernClient(b.url, newUser(), tool)
			if err := m.call(context.Background()); err != nil {
				b.stop()
				return fmt.Errorf("first result (2026-07-28): %w", err)
			}
			modern = append(modern, time.Since(start))
			time.Sleep(1500 * time.Millisecond)
		}
		b.stop()
		for _, l := range [][]time.Duration{legacy, modern} {
			sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
		}
		fmt.Printf("| --spares %s | %s | %s | %s | %s |\n", spares, ms(legacy[len(legacy)/2]), ms(legacy[len(legacy)-1]),
			ms(modern[len(modern)/2]), ms(modern[len(modern)-1]))
	}
	fmt.Println()
	return nil
}

// childMemory compares the children a bridge runs for memUsers users with memClients
// clients each (clients that never end their sessions, as most do not): as 2025
// sessions (a child each) and as 2026-07-28 clients (the users' pools).
func childMemory(o options, goServer string) error {
	fmt.Printf("## children for %d users × %d clients (Go SDK everything-server, one call per client, no DELETE)\n\n", o.memUsers, o.memClients)
	fmt.Println("| clients | children | children's RSS |")
	fmt.Println("|---|---|---|")
	tool := `{"name":"test_simple_text","arguments":{}}`
	for _, era := range []string{"2025-11-25 sessions", "2026-07-28"} {
		b, err := startBridge(o.bridge, []string{goServer}, "--spares", "0")
		if err != nil {
			return err
		}
		for u := range o.memUsers {
			user := newUser()
			for range o.memClients {
				var c client
				if era == "2026-07-28" {
					c, err = newModernClient(b.url, user, tool)
				} else {
					c, err = newHTTPClientAs(b.url, tool, user)
				}
				if err == nil {
					err = c.call(context.Background())
				}
				if err != nil {
					b.stop()
					return fmt.Errorf("user %d (%s): %w", u, era, err)
				}
			}
		}
		time.Sleep(time.Second)
		n, total := childrenRSS(b.cmd.Process.Pid)
		b.stop()
		fmt.Printf("| %s | %d | %.0f MiB |\n", era, n, mib(total))
	}
	fmt.Println()
	return nil
}

// childrenRSS counts the child processes of pid and adds up their resident memory.
func childrenRSS(pid int) (int, int64) {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	n, total := 0, int64(0)
	for _, t := range tasks {
		data, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(data)) {
			child, err := strconv.Atoi(f)
			if err != nil {
				continue
			}
			if r, err := rss(child); err == nil {
				n++
				total += r
			}
		}
	}
	return n, total
}
