// Command bench-bridge measures mcpbridge against talking stdio to the same MCP server
// directly and against supergateway 4.x (--stateful), side by side in one run: the
// round-trip latency (p50/p99) of a cheap tool call, throughput with several sessions
// at once and the CPU each process spends per call, the time to a new client's first
// result, small calls' latency beside another client's large messages (with the default
// threads and --gomaxprocs 1), and the bridge's own memory per session at 100 and 500
// sessions. Beside them,
// references: the HTTP round trip alone (in this process and in another), a minimal
// relay (relay.go), and direct stdio paced at the bridge's added latency.
//
//	go run ./cmd/bench-bridge -bridge ../bin/mcpbridge   (from tests/; `just bench-bridge`)
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mcp-oauth-gateway/gateway/internal/localstack"
	"github.com/mcp-oauth-gateway/gateway/tests/internal/mcpservers"
	"github.com/mcp-oauth-gateway/gateway/tests/internal/proccpu"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-bridge:", err)
		os.Exit(1)
	}
}

// client makes one tool call and waits for its answer.
type client interface {
	call(ctx context.Context) error
	close()
}

type options struct {
	bridge      string
	calls       int
	warmup      int
	workers     int
	duration    time.Duration
	memSessions []int
	// firstClients, memUsers, memClients: see modern.go.
	firstClients, memUsers, memClients int
	// largeSize, largeCalls: see large.go.
	largeSize, largeCalls int
}

func run() error {
	var o options
	var sessions string
	flag.StringVar(&o.bridge, "bridge", "", "mcpbridge binary (required)")
	flag.IntVar(&o.calls, "calls", 2000, "sequential calls for the latency figures")
	flag.IntVar(&o.warmup, "warmup", 200, "calls before measuring")
	flag.IntVar(&o.workers, "workers", 8, "concurrent sessions for the throughput figure, one caller each")
	flag.DurationVar(&o.duration, "duration", 8*time.Second, "length of the throughput run of each path")
	flag.StringVar(&sessions, "mem-sessions", "100,500", "session counts for the memory figures")
	flag.IntVar(&o.firstClients, "first-clients", 15, "new clients for the time-to-first-result figures")
	flag.IntVar(&o.memUsers, "mem-users", 20, "users for the children's memory figure")
	flag.IntVar(&o.memClients, "mem-clients", 10, "clients per user for the children's memory figure")
	flag.IntVar(&o.largeSize, "large-size", 3<<20, "bytes of the large messages echoed beside small calls (the bridge takes POST bodies up to 4 MiB by default)")
	flag.IntVar(&o.largeCalls, "large-calls", 1000, "small calls timed beside the large messages")
	serveFloor := flag.String("serve-floor", "", "only serve the HTTP round trip's floor at this address (the benchmark starts itself so)")
	serveRelayAt := flag.String("serve-relay", "", "only serve the minimal relay at this address for the stdio server given as arguments (the benchmark starts itself so)")
	flag.Parse()
	if *serveFloor != "" {
		return http.ListenAndServe(*serveFloor, floorHandler())
	}
	if *serveRelayAt != "" {
		return serveRelay(*serveRelayAt, flag.Args())
	}
	if o.bridge == "" {
		return errors.New("-bridge is required")
	}
	for _, s := range strings.Split(sessions, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("-mem-sessions: %w", err)
		}
		o.memSessions = append(o.memSessions, n)
	}
	everything, err := mcpservers.NPMBin("servers", "mcp-server-everything", mcpservers.Installer)
	if err != nil {
		return err
	}
	sgw, err := mcpservers.NPMBin("supergateway", "supergateway", "just deps-supergateway")
	if err != nil {
		return err
	}
	goServer, err := mcpservers.BuildGoEverything()
	if err != nil {
		return err
	}
	servers := []struct {
		name string
		argv []string
		tool string
	}{
		{"server-everything (npm, tool echo)", []string{everything, "stdio"}, `{"name":"echo","arguments":{"message":"hi"}}`},
		{"Go SDK everything-server (tool test_simple_text)", []string{goServer}, `{"name":"test_simple_text","arguments":{}}`},
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("# bench-bridge %s, %d cores, load average at start %s\n\n", time.Now().UTC().Format(time.RFC3339), numCPU(),
		strings.Join(strings.Fields(string(load))[:3], " "))
	for _, srv := range servers {
		fmt.Printf("## %s\n\n", srv.name)
		fmt.Printf("latency: %d sequential calls per path after %d warm-up, one session each, the paths taking turns; "+
			"throughput: %d sessions per path, one caller each, %s per path in 1 s turns\n\n", o.calls, o.warmup, o.workers, o.duration)
		if err := benchServer(o, sgw, srv.argv, srv.tool); err != nil {
			return err
		}
		fmt.Println()
		if err := firstResults(o, srv.argv, srv.tool); err != nil {
			return err
		}
	}
	if err := largeMessages(o, servers[0].argv); err != nil {
		return err
	}
	if err := childMemory(o, goServer); err != nil {
		return err
	}
	return memory(o, goServer)
}

// floorName and floorProcName label the HTTP round trip alone: a net/http server
// answering at once, no MCP server behind it, in this process and in a process of its
// own (this program run with -serve-floor). relayName labels the minimal relay, and
// bridgeName the bridge's 2025 sessions, whose added latency paces direct stdio.
const (
	floorName     = "HTTP round trip alone (in-process net/http, no MCP server)"
	floorProcName = "HTTP round trip alone (net/http in another process, no MCP server)"
	relayName     = "minimal relay (HTTP → one child per session, nothing else)"
	bridgeName    = "mcpbridge (2025-11-25 sessions)"
)

// floorHandler answers every MCP POST at once: an empty result for a request, 202 for
// a notification.
func floorHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			ID json.RawMessage `json:"id"`
		}
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &m)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Mcp-Session-Id", "floor")
		if m.ID == nil {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{}}`, m.ID)
	})
}

// path is one way of reaching the server.
type path struct {
	name      string
	newClient func() (client, error)
	// server is the pid of the process that serves the path over HTTP (0 for direct
	// stdio; this process for the HTTP round trip alone); its descendants are the
	// path's MCP server processes.
	server int
}

// benchServer measures the paths to one server and the references beside them.
// Latency calls are interleaved (one call on each path in turn), so load from anything
// else on the machine affects every path alike; throughput runs the paths in turns.
func benchServer(o options, sgw string, argv []string, tool string) error {
	b, err := startBridge(o.bridge, argv)
	if err != nil {
		return err
	}
	defer b.stop()
	// The same bridge with --gomaxprocs 1: no idle thread to wake when a child's
	// answer is handed to the request's goroutine (the children keep Go's default).
	b1, err := startBridge(o.bridge, argv, "--gomaxprocs", "1")
	if err != nil {
		return err
	}
	defer b1.stop()
	sg, err := startOnFreePort(sgw, func(_, port string) []string {
		return []string{"--stdio", shellJoin(argv), "--outputTransport", "streamableHttp", "--stateful", "--port", port, "--logLevel", "none"}
	})
	if err != nil {
		return err
	}
	defer sg.stop()
	// The floor: an HTTP server that answers every POST at once, as the bridge's HTTP
	// exchange does, with no MCP server behind it: what any HTTP wrapper pays before
	// doing anything. Once in this process, and once in a process of its own, which,
	// like a wrapper, has to be woken up for every call.
	floor := httptest.NewServer(floorHandler())
	defer floor.Close()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	floorProc, err := startOnFreePort(self, func(addr, _ string) []string { return []string{"-serve-floor", addr} })
	if err != nil {
		return err
	}
	defer floorProc.stop()
	relay, err := startOnFreePort(self, func(addr, _ string) []string {
		return append([]string{"-serve-relay", addr, "--"}, argv...)
	})
	if err != nil {
		return err
	}
	defer relay.stop()
	paths := []path{
		{"direct stdio", func() (client, error) { return newStdio(argv, tool) }, 0},
		{floorName, func() (client, error) { return newHTTPClient(floor.URL, tool) }, os.Getpid()},
		{floorProcName, func() (client, error) { return newHTTPClient(floorProc.url, tool) }, floorProc.pid()},
		{relayName, func() (client, error) { return newHTTPClient(relay.url, tool) }, relay.pid()},
		{bridgeName, func() (client, error) { return newHTTPClient(b.url, tool) }, b.pid()},
		{"mcpbridge (2026-07-28, one user each)", func() (client, error) { return newModernClient(b.url, newUser(), tool) }, b.pid()},
		{"mcpbridge --gomaxprocs 1 (2025-11-25 sessions)", func() (client, error) { return newHTTPClient(b1.url, tool) }, b1.pid()},
		{"supergateway 4.0.0 --stateful", func() (client, error) { return newHTTPClient(sg.url, tool) }, sg.pid()},
	}
	lat, err := latencies(o, paths)
	if err != nil {
		return err
	}
	// The same direct stdio with each caller pausing, between calls, for as long as the
	// bridge adds: the pace at which the children get calls through the bridge. What a
	// child costs per call depends on that pace (it sleeps and is woken up for each).
	bridged := slices.IndexFunc(paths, func(p path) bool { return p.name == bridgeName })
	pause := lat[bridged][len(lat[bridged])/2] - lat[0][len(lat[0])/2]
	pacedName := fmt.Sprintf("direct stdio, callers pausing %s between calls", ms(pause))
	tpaths := append(paths, path{pacedName, func() (client, error) {
		c, err := newStdio(argv, tool)
		if err != nil {
			return nil, err
		}
		return &pacedStdio{c.(*stdioClient), pause}, nil
	}, 0})
	tputs, cpu, err := throughputs(o, tpaths)
	if err != nil {
		return err
	}
	// A wrapper's own cost: what it adds to direct stdio beyond the HTTP round trip to
	// another process, which any wrapper pays.
	floorProcIdx := slices.IndexFunc(paths, func(p path) bool { return p.name == floorProcName })
	p50 := func(i int) time.Duration { return lat[i][len(lat[i])/2] }
	fmt.Println("| path | p50 | p99 | added p50 vs direct | own cost: added minus the round trip to another process | throughput (calls/s) |")
	fmt.Println("|---|---|---|---|---|---|")
	for i, p := range paths {
		tput := tputs[i]
		added, own := "—", "—"
		if i > 0 && p.name != floorName && p.name != floorProcName {
			added = ms(p50(i) - p50(0))
			own = ms(p50(i) - p50(0) - p50(floorProcIdx))
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %.0f |\n", p.name, ms(p50(i)), ms(lat[i][len(lat[i])*99/100]), added, own, tput)
	}
	fmt.Println()
	fmt.Println("CPU per call in the throughput run, µs (clients: this process, with the HTTP round trip's server):")
	fmt.Println()
	fmt.Println("| path | calls/s | clients | HTTP server process | MCP server processes | total |")
	fmt.Println("|---|---|---|---|---|---|")
	for i, p := range tpaths {
		c := cpu[i]
		fmt.Printf("| %s | %.0f | %s | %s | %s | %s |\n", p.name, tputs[i], us(c.clients), us(c.server), us(c.children), us(c.total()))
	}
	// With the callers keeping both cores busy, throughput is the inverse of the CPU a
	// call takes. Any HTTP wrapper adds at least the round trip's CPU (clients and
	// server) to direct stdio's, even doing nothing else and with the MCP servers no
	// dearer per call: that bounds its throughput.
	direct, rt := cpu[0].total(), cpu[floorProcIdx].total()
	fmt.Printf("\nceiling for any HTTP wrapper while CPU is what limits: direct stdio's %s µs a call "+
		"plus the round trip to another process's %s µs: %.2f× direct stdio's throughput\n",
		us(direct), us(rt), float64(direct)/float64(direct+rt))
	return nil
}

// latencies makes o.calls sequential calls on one session of each path, in turn.
func latencies(o options, paths []path) ([][]time.Duration, error) {
	ctx := context.Background()
	clients := make([]client, len(paths))
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.close()
			}
		}
	}()
	for i, p := range paths {
		c, err := p.newClient()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		clients[i] = c
		for range o.warmup {
			if err := c.call(ctx); err != nil {
				return nil, fmt.Errorf("%s: warm-up: %w", p.name, err)
			}
		}
	}
	lat := make([][]time.Duration, len(paths))
	for range o.calls {
		for i, c := range clients {
			start := time.Now()
			if err := c.call(ctx); err != nil {
				return nil, fmt.Errorf("%s: call: %w", paths[i].name, err)
			}
			lat[i] = append(lat[i], time.Since(start))
		}
	}
	for _, l := range lat {
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	}
	return lat, nil
}

// throughputs runs o.workers sessions per path, one caller each. The paths take turns
// in rounds of one second until each ran for o.duration, so load from anything else on
// the machine is spread over all of them. It also returns the CPU time each part of a
// path used per call.
func throughputs(o options, paths []path) ([]float64, []cpuParts, error) {
	ctx := context.Background()
	clients := make([][]client, len(paths))
	defer func() {
		for _, cs := range clients {
			for _, c := range cs {
				c.close()
			}
		}
	}()
	for i, p := range paths {
		for j := range o.workers {
			c, err := p.newClient()
			if err != nil {
				return nil, nil, fmt.Errorf("%s: session %d: %w", p.name, j, err)
			}
			clients[i] = append(clients[i], c)
			for range 20 {
				_ = c.call(ctx)
			}
		}
	}
	calls := make([]int64, len(paths))
	elapsed := make([]time.Duration, len(paths))
	used := make([]cpuParts, len(paths))
	for elapsed[len(paths)-1] < o.duration {
		for i, p := range paths {
			before := sampleCPU(p, clients[i])
			n, d, err := round(ctx, clients[i], time.Second)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: throughput: %w", p.name, err)
			}
			used[i] = used[i].add(sampleCPU(p, clients[i]).sub(before))
			calls[i] += n
			elapsed[i] += d
		}
	}
	out := make([]float64, len(paths))
	perCall := make([]cpuParts, len(paths))
	for i := range paths {
		out[i] = float64(calls[i]) / elapsed[i].Seconds()
		perCall[i] = used[i].per(calls[i])
	}
	return out, perCall, nil
}

// cpuParts is the CPU time used by the benchmark's clients (this process, which also
// runs the HTTP round trip's server), the process serving HTTP (the bridge or
// supergateway), and the MCP server processes.
type cpuParts struct{ clients, server, children time.Duration }

// sampleCPU reads the CPU time used so far by each part of path p.
func sampleCPU(p path, cs []client) cpuParts {
	parts := cpuParts{clients: proccpu.Self()}
	switch p.server {
	case 0: // direct stdio: the servers are this process's children, one per client
		var pids []int
		for _, c := range cs {
			if s, ok := c.(interface{ pid() int }); ok {
				pids = append(pids, s.pid())
			}
		}
		parts.children = proccpu.Of(append(pids, proccpu.Descendants(pids...)...)...)
	case os.Getpid(): // in-process: counted with the clients
	default:
		parts.server = proccpu.Of(p.server)
		parts.children = proccpu.Of(proccpu.Descendants(p.server)...)
	}
	return parts
}

func (a cpuParts) sub(b cpuParts) cpuParts {
	return cpuParts{a.clients - b.clients, a.server - b.server, a.children - b.children}
}

func (a cpuParts) add(b cpuParts) cpuParts {
	return cpuParts{a.clients + b.clients, a.server + b.server, a.children + b.children}
}

func (a cpuParts) per(calls int64) cpuParts {
	if calls == 0 {
		return cpuParts{}
	}
	n := time.Duration(calls)
	return cpuParts{a.clients / n, a.server / n, a.children / n}
}

func (a cpuParts) total() time.Duration { return a.clients + a.server + a.children }

func us(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) }

// round has every client call in a loop for d and returns the calls made and the time
// taken.
func round(ctx context.Context, clients []client, d time.Duration) (int64, time.Duration, error) {
	var done atomic.Int64
	var firstErr atomic.Value
	tctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tctx.Err() == nil {
				if err := c.call(ctx); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, 0, err
	}
	return done.Load(), time.Since(start), nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d.Microseconds())/1000) }

// memory starts a bridge wrapping the Go server and reports its resident memory as
// sessions are added (the children's memory is theirs, not counted).
func memory(o options, goServer string) error {
	fmt.Println("## mcpbridge memory per session (RSS of the bridge process only, Go SDK everything-server children)")
	fmt.Println()
	b, err := startBridge(o.bridge, []string{goServer})
	if err != nil {
		return err
	}
	defer b.stop()
	// One session created and ended first, so lazily built state (TLS-free HTTP, pools)
	// is in the baseline rather than charged to the sessions.
	c, err := newHTTPClient(b.url, `{"name":"test_simple_text","arguments":{}}`)
	if err != nil {
		return err
	}
	c.close()
	time.Sleep(500 * time.Millisecond)
	base, err := rss(b.cmd.Process.Pid)
	if err != nil {
		return err
	}
	fmt.Printf("baseline RSS %.1f MiB\n\n| sessions | bridge RSS | per session |\n|---|---|---|\n", mib(base))
	var open []client
	defer func() {
		for _, c := range open {
			c.close()
		}
	}()
	for _, n := range o.memSessions {
		for len(open) < n {
			c, err := newHTTPClient(b.url, `{"name":"test_simple_text","arguments":{}}`)
			if err != nil {
				return fmt.Errorf("session %d: %w", len(open)+1, err)
			}
			if err := c.call(context.Background()); err != nil {
				return err
			}
			open = append(open, c)
		}
		time.Sleep(time.Second)
		r, err := rss(b.cmd.Process.Pid)
		if err != nil {
			return err
		}
		fmt.Printf("| %d | %.1f MiB | %.3f MiB |\n", n, mib(r), mib(r-base)/float64(n))
	}
	fmt.Println()
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func rss(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS")
}

func numCPU() int {
	data, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(data), "processor\t:")
}

// --- direct stdio ---

type stdioClient struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	tool json.RawMessage
	id   int
}

func newStdio(argv []string, tool string) (client, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	// Pdeathsig: the minimal relay's children end with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &stdioClient{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20), tool: json.RawMessage(tool)}
	if _, err := c.roundTrip("initialize", json.RawMessage(`{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}`)); err != nil {
		c.close()
		return nil, err
	}
	if _, err := io.WriteString(in, `{"jsonrpc":"2.0","method":"notifications/initialized"}`+"\n"); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *stdioClient) roundTrip(method string, params json.RawMessage) ([]byte, error) {
	c.id++
	req, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": c.id, "method": method, "params": params})
	return c.exchange(req, json.RawMessage(strconv.Itoa(c.id)))
}

// exchange writes one message and returns the server's answer to id, skipping anything
// else the server writes.
func (c *stdioClient) exchange(msg []byte, id json.RawMessage) ([]byte, error) {
	if _, err := c.in.Write(append(bytes.TrimSpace(msg), '\n')); err != nil {
		return nil, err
	}
	want := append([]byte(`"id":`), id...)
	for {
		line, err := c.out.ReadBytes('\n')
		if err != nil {
			return nil, err
		}
		if bytes.Contains(line, want) && !bytes.Contains(line, []byte(`"method"`)) {
			return line, nil
		}
	}
}

func (c *stdioClient) call(context.Context) error {
	_, err := c.roundTrip("tools/call", c.tool)
	return err
}

func (c *stdioClient) pid() int { return c.cmd.Process.Pid }

// pacedStdio is a stdio client that pauses after each call.
type pacedStdio struct {
	*stdioClient
	pause time.Duration
}

func (c *pacedStdio) call(ctx context.Context) error {
	err := c.stdioClient.call(ctx)
	time.Sleep(c.pause)
	return err
}

func (c *stdioClient) close() {
	_ = c.in.Close()
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	_ = c.cmd.Wait()
}

// --- Streamable HTTP (mcpbridge or supergateway) ---

var httpClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, MaxConnsPerHost: 1024}}

type httpMCPClient struct {
	url, sid string
	user     string
	tool     json.RawMessage
	id       int
}

func newHTTPClient(url, tool string) (client, error) { return newHTTPClientAs(url, tool, "") }

// newHTTPClientAs is newHTTPClient for a user (X-User-Id, as the plugin sets it).
func newHTTPClientAs(url, tool, user string) (client, error) {
	c := &httpMCPClient{url: url, tool: json.RawMessage(tool), user: user}
	resp, err := c.post(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`, "0")
	if err != nil {
		return nil, fmt.Errorf("initialize: %w", err)
	}
	c.sid = resp
	if _, err := c.post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`, ""); err != nil {
		return nil, fmt.Errorf("initialized: %w", err)
	}
	return c, nil
}

// post sends one message; for a request (wantID set) it reads the answer, JSON or SSE,
// and returns the session id header.
func (c *httpMCPClient) post(body, wantID string) (string, error) {
	req, err := http.NewRequest("POST", c.url, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if c.user != "" {
		req.Header.Set("X-User-Id", c.user)
	}
	if c.sid != "" {
		req.Header.Set("Mcp-Session-Id", c.sid)
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("HTTP %d: %s", resp.StatusCode, data)
	}
	if wantID != "" && !bytes.Contains(data, []byte(`"id":`+wantID)) {
		return "", fmt.Errorf("no response with id %s in %s", wantID, data)
	}
	return resp.Header.Get("Mcp-Session-Id"), nil
}

func (c *httpMCPClient) call(context.Context) error {
	c.id++
	id := strconv.Itoa(c.id)
	_, err := c.post(`{"jsonrpc":"2.0","id":`+id+`,"method":"tools/call","params":`+string(c.tool)+`}`, id)
	return err
}

func (c *httpMCPClient) close() {
	req, _ := http.NewRequest("DELETE", c.url, nil)
	if c.user != "" {
		req.Header.Set("X-User-Id", c.user)
	}
	req.Header.Set("Mcp-Session-Id", c.sid)
	req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	if resp, err := httpClient.Do(req); err == nil {
		resp.Body.Close()
	}
}

// --- processes ---

type proc struct {
	cmd *exec.Cmd
	url string
}

// startBridge starts mcpbridge wrapping argv, logging errors only (a log line per
// request would be part of what is measured otherwise).
func startBridge(bin string, argv []string, flags ...string) (*proc, error) {
	return startOnFreePort(bin, func(addr, _ string) []string {
		// Unsigned identity: the benchmark measures the relay (compose deployments add
		// one HMAC check per request, see docs/bridge.md).
		args := append([]string{"--listen", addr, "--log-level", "error", "--max-sessions", "1000", "--max-sessions-per-user", "0", "--allow-unsigned-identity", "true"}, flags...)
		return append(append(args, "--"), argv...)
	})
}

// startOnFreePort starts a server process on a free loopback port; args gets its
// address (host:port) and port.
func startOnFreePort(bin string, args func(addr, port string) []string) (*proc, error) {
	port, err := localstack.FreePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	return startHTTP(bin, args(addr, strconv.Itoa(port)), "http://"+addr+"/mcp")
}

// startHTTP starts a server process and waits until it accepts connections at url.
func startHTTP(bin string, args []string, url string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, url: url}
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(p.url, "http://"), "/mcp"))
		if err == nil {
			conn.Close()
			return p, nil
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s did not start listening: %w", bin, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) stop() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

func shellJoin(argv []string) string {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(quoted, " ")
}
