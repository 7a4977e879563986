package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/mcp-oauth-gateway/gateway/internal/contract"
	"github.com/mcp-oauth-gateway/gateway/tests/internal/mcpservers"
	"github.com/mcp-oauth-gateway/gateway/tests/internal/traefiktest"
)

// BenchmarkBridgeReplicas measures 2026-07-28 tool calls (server-everything's echo)
// through a real Traefik to 1, 2 and 3 replicas of one bridge, each count with every
// replica serving every user and with the users shared (--peers), side by side in one
// run: the same workers, users and duration each time, the identity signed as the
// mcpauth plugin signs it (the plugin itself is left out: BenchmarkPluginWrk measures
// it). On one machine the replicas share its cores, so the figure to read is the
// ratio to one replica: what replicas cost. b.N is ignored (run with -benchtime 1x);
// it prints a table. `just bench-bridge-replicas`; BENCH_DURATION (default 8s) and
// BENCH_POOL_SIZE (each replica's --pool-size, default 2) tune it.
func BenchmarkBridgeReplicas(b *testing.B) {
	bin := os.Getenv("MCPBRIDGE_BIN")
	if bin == "" {
		b.Fatal("MCPBRIDGE_BIN is not set: run `just bench-bridge-replicas`, which builds mcpbridge")
	}
	duration, err := time.ParseDuration(env("BENCH_DURATION", "8s"))
	if err != nil {
		b.Fatal(err)
	}
	workers := 16
	secret := []byte("bench-identity-secret-" + strings.Repeat("b", 16))
	server := mcpservers.Everything(b)

	type row struct {
		replicas      int
		shared        bool // --peers: each user's requests served by one replica
		calls, errors int64
		p50, p99      time.Duration
		cpu           cpuSplit // used during the measured window
	}
	var rows []row
	for _, setup := range []struct {
		n      int
		shared bool
	}{{1, false}, {2, false}, {2, true}, {3, false}, {3, true}} {
		n := setup.n
		addrs := make([]string, n)
		for i := range addrs {
			addrs[i] = fmt.Sprintf("127.0.0.1:%d", traefiktest.FreePort(b))
		}
		var peers []string
		if setup.shared {
			for _, a := range addrs {
				peers = append(peers, "http://"+a)
			}
		}
		var servers []any
		var stops []func()
		var pids []int
		for _, addr := range addrs {
			stop, pid := startReplica(b, bin, secret, addr, n > 1, peers, server)
			stops, pids = append(stops, stop), append(pids, pid)
			servers = append(servers, map[string]any{"url": "http://" + addr})
		}
		dyn, _ := yaml.Marshal(map[string]any{"http": map[string]any{
			"routers": map[string]any{"mcp": map[string]any{"rule": "PathPrefix(`/mcp`)", "service": "bridge"}},
			"services": map[string]any{"bridge": map[string]any{"loadBalancer": map[string]any{
				"servers": servers, "healthCheck": map[string]any{"path": "/health", "interval": "1s"},
			}}},
		}})
		tr := traefiktest.Start(b, traefiktest.Options{Dynamic: string(dyn), ReadyPath: "/mcp", ReadyStatus: http.StatusForbidden})
		host := tr.Addr
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers, DisableCompression: true}, Timeout: 30 * time.Second}
		call := func(user string, id int) error {
			body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"message":"m"},`+
				`"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`, id)
			req, _ := http.NewRequest("POST", "http://"+host+"/mcp", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
			req.Header.Set("Mcp-Method", "tools/call")
			req.Header.Set("Mcp-Name", "echo")
			req.Header.Set(contract.HeaderUserID, user)
			req.Header.Set(contract.HeaderIdentitySignature,
				contract.SignIdentity(secret, time.Now().Unix(), "POST", host, "/mcp", contract.IdentityValues(req.Header)))
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(resp.Body)
			if resp.StatusCode != http.StatusOK || !strings.Contains(buf.String(), "Echo: m") {
				return fmt.Errorf("%d %.200s", resp.StatusCode, buf.String())
			}
			return nil
		}
		// Warm-up: every user's pool on every replica started.
		for i := range 20 * n {
			if err := call(fmt.Sprintf("user-%d", i%4), i); err != nil {
				b.Fatalf("warm-up call through %d replicas: %v", n, err)
			}
		}
		var calls, errs atomic.Int64
		before := sampleCPU(tr.PID(), pids)
		var mu sync.Mutex
		var lat []time.Duration
		ctx, cancel := context.WithTimeout(context.Background(), duration)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []time.Duration
				for i := 0; ctx.Err() == nil; i++ {
					t0 := time.Now()
					if err := call(fmt.Sprintf("user-%d", w%4), i); err != nil {
						errs.Add(1)
						continue
					}
					mine = append(mine, time.Since(t0))
					calls.Add(1)
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		cancel()
		used := sampleCPU(tr.PID(), pids).sub(before)
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		r := row{replicas: n, shared: setup.shared, calls: calls.Load(), errors: errs.Load(), cpu: used}
		if len(lat) > 0 {
			r.p50, r.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
		}
		rows = append(rows, r)
		for _, stop := range stops {
			stop()
		}
	}
	fmt.Printf("\n2026-07-28 tools/call (echo) through Traefik, %d workers, 4 users, %s each, on this machine's %d cores\n\n", workers, duration, runtime.NumCPU())
	fmt.Println("| bridge replicas | users | calls/s | vs 1 replica | p50 | p99 | errors |")
	fmt.Println("|---|---|---|---|---|---|---|")
	base := float64(rows[0].calls)
	// users names how a row's replicas share the users, long or short.
	users := func(r row, long bool) string {
		switch {
		case r.replicas == 1:
			return "—"
		case r.shared && long:
			return "shared (--peers): one replica per user"
		case r.shared:
			return "shared"
		case long:
			return "every replica serves every user"
		}
		return "every replica"
	}
	for _, r := range rows {
		fmt.Printf("| %d | %s | %.0f | %.2f× | %s | %s | %d |\n", r.replicas, users(r, true), float64(r.calls)/duration.Seconds(), float64(r.calls)/base,
			r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond), r.errors)
	}
	// Where the machine's time went: CPU per call of each part (the 2 cores give
	// 2 s of CPU a second, so calls/s ≈ 2 s / the total, when the cores are busy).
	fmt.Println()
	fmt.Println("CPU per call (µs): Traefik, the bridges, their children (the MCP servers), the benchmark's clients")
	fmt.Println()
	fmt.Println("| bridge replicas | users | Traefik | bridges | children | clients | total | CPU busy |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		per := func(d time.Duration) string {
			if r.calls == 0 {
				return "—"
			}
			return fmt.Sprintf("%.0f", float64(d.Microseconds())/float64(r.calls))
		}
		total := r.cpu.edge + r.cpu.bridges + r.cpu.children + r.cpu.clients
		fmt.Printf("| %d | %s | %s | %s | %s | %s | %s | %.0f%% |\n", r.replicas, users(r, false), per(r.cpu.edge), per(r.cpu.bridges),
			per(r.cpu.children), per(r.cpu.clients), per(total), 100*total.Seconds()/(duration.Seconds()*float64(runtime.NumCPU())))
	}
}

// startReplica runs one mcpbridge replica on addr (with peers, sharing the users with
// them) and waits until it answers /health; it returns a function that ends it, and
// its pid.
func startReplica(b *testing.B, bin string, secret []byte, addr string, forward bool, peers []string, server []string) (func(), int) {
	b.Helper()
	args := []string{"--listen", addr, "--log-level", "warn", "--spares", "1", "--pool-size", env("BENCH_POOL_SIZE", "2")}
	if forward {
		args = append(args, "--replica-url", "http://"+addr)
	}
	if len(peers) > 0 {
		args = append(args, "--peers", strings.Join(peers, ","))
	}
	cmd := exec.Command(bin, append(append(args, "--"), server...)...)
	cmd.Env = append(os.Environ(), "MCPBRIDGE_IDENTITY_SECRET="+string(secret))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stop := func() { _ = cmd.Process.Signal(os.Interrupt); _, _ = cmd.Process.Wait() }
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/health")
		if err == nil {
			resp.Body.Close()
			return stop, cmd.Process.Pid
		}
		if time.Now().After(deadline) {
			stop()
			b.Fatalf("mcpbridge on %s did not start: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
