// Package bench measures the mcpauth plugin inside a real Traefik with wrk, side by
// side in one run: no middleware, mcpauth with one repeated token (the verified-token
// cache), mcpauth with never-seen RS256 tokens (full verification under Yaegi each
// time) and ForwardAuth to authsvc's /verify. It is a Go benchmark so that it runs
// only when asked for: `just bench-plugin`.
package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/jwtvectors"
	"github.com/mcp-oauth-gateway/gateway/tests/internal/traefiktest"
)

const (
	issuer   = "https://auth.bench.test"
	resource = "https://mcp.bench.test/mcp"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// BenchmarkPluginWrk prints one table; b.N is ignored (run with -benchtime 1x).
func BenchmarkPluginWrk(b *testing.B) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Fatal("wrk not found: run `just deps-wrk` (or `just bench-plugin`, which installs it)")
	}
	duration := env("BENCH_DURATION", "5s")
	conns := env("BENCH_CONNECTIONS", "32")
	nTokens, _ := strconv.Atoi(env("BENCH_TOKENS", "50000"))
	dir := b.TempDir()

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))

	backend := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})}
	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = backend.Serve(bl) }()
	defer backend.Close()

	// authsvc (for its JWKS, its revocation feed and ForwardAuth /verify) with its
	// own Redis, when AUTHSVC_BIN is given.
	var authURL, kid string
	var redisAddr string
	if bin := os.Getenv("AUTHSVC_BIN"); bin != "" {
		redisAddr = startRedis(b, dir)
		authURL = startAuthsvc(b, bin, redisAddr, pemKey)
		kid = authsvcKid(b, authURL, &key.PublicKey)
	} else {
		b.Log("AUTHSVC_BIN not set: no ForwardAuth row; the plugin gets an inline JWKS")
		kid = "bench"
	}

	sign := func(sub string) (string, string) {
		c := jwtvectors.Claims(time.Now(), sub)
		c["iss"], c["aud"] = issuer, []any{resource}
		return jwtvectors.Sign("RS256", key, map[string]any{"typ": "at+jwt", "kid": kid}, c), c["jti"].(string)
	}
	b.Logf("minting %d RS256 tokens…", nTokens)
	tokens := make([]string, nTokens)
	jtis := make([]string, nTokens)
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < nTokens; i += 2 {
				tokens[i], jtis[i] = sign(fmt.Sprintf("u%d", i))
			}
		}(w)
	}
	wg.Wait()
	cached, cachedJTI := sign("cached")
	if redisAddr != "" {
		// authsvc's /verify checks that the token's record is live (oauth:token:{jti}).
		setKeys(b, redisAddr, append([]string{cachedJTI}, jtis...))
	}
	tokFile := filepath.Join(dir, "tokens.txt")
	if err := os.WriteFile(tokFile, []byte(strings.Join(tokens, "\n")+"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	lua := filepath.Join(dir, "never-seen.lua")
	if err := os.WriteFile(lua, []byte(neverSeenLua), 0o644); err != nil {
		b.Fatal(err)
	}

	plugin := map[string]any{"issuer": issuer, "resource": resource}
	if authURL != "" {
		plugin["jwksURL"] = authURL + "/.well-known/jwks.json"
		plugin["revocationURL"] = authURL + "/internal/revocations"
		plugin["revocationToken"] = "bench-feed-token-0123456789abcdef0123"
	} else {
		plugin["jwks"] = inlineJWKS(kid, &key.PublicKey)
	}
	routers := map[string]any{
		"plain":   map[string]any{"rule": "Host(`plain.bench.test`)", "service": "backend"},
		"mcpauth": map[string]any{"rule": "Host(`mcp.bench.test`)", "service": "backend", "middlewares": []any{"mcpauth"}},
	}
	middlewares := map[string]any{"mcpauth": map[string]any{"plugin": map[string]any{"mcpauth": plugin}}}
	if authURL != "" {
		routers["forwardauth"] = map[string]any{"rule": "Host(`fa.bench.test`)", "service": "backend", "middlewares": []any{"forwardauth"}}
		middlewares["forwardauth"] = map[string]any{"forwardAuth": map[string]any{
			"address":             authURL + "/verify?resource=" + resource,
			"authResponseHeaders": []any{"X-User-Id", "X-User-Login", "X-User-Name", "X-Auth-Client-Id", "X-Auth-Scopes"},
		}}
	}
	// BENCH_PROFILE=<dir> writes a CPU profile of Traefik per scenario (first round)
	// through its pprof handlers (api.debug, routed on the web entry point).
	profDir := os.Getenv("BENCH_PROFILE")
	var static string
	if profDir != "" {
		static = "api:\n  debug: true\n"
		routers["debug"] = map[string]any{"rule": "Host(`debug.bench.test`)", "service": "api@internal"}
	}
	dyn, _ := yaml.Marshal(map[string]any{"http": map[string]any{
		"routers":     routers,
		"middlewares": middlewares,
		"services":    map[string]any{"backend": map[string]any{"loadBalancer": map[string]any{"servers": []any{map[string]any{"url": "http://" + bl.Addr().String()}}}}},
	}})
	// BENCH_TRAEFIK_GOGC sets Traefik's GOGC (its garbage collector's heap growth
	// before a cycle; Go's default is 100), and only Traefik's.
	var traefikEnv []string
	gogc := os.Getenv("BENCH_TRAEFIK_GOGC")
	if gogc != "" {
		traefikEnv = []string{"GOGC=" + gogc}
	}
	tr := traefiktest.Start(b, traefiktest.Options{
		Env:         traefikEnv,
		Static:      static,
		LocalPlugin: true,
		Dynamic:     string(dyn),
		LogLevel:    "ERROR",
		ReadyHost:   "mcp.bench.test",
		ReadyPath:   "/.well-known/oauth-protected-resource",
		ReadyStatus: 200,
	})
	// Every scenario must answer 200 before it is measured.
	check := func(host, token string) {
		resp, body, err := traefiktest.RawRequest(tr.Addr, "GET", "/mcp", host, http.Header{"Authorization": {"Bearer " + token}})
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("%s: %v %v %s", host, err, resp, body)
		}
	}
	check("plain.bench.test", "")
	check("mcp.bench.test", cached)
	check("mcp.bench.test", tokens[len(tokens)-1])
	if authURL != "" {
		check("fa.bench.test", cached)
	}

	type row struct {
		name string
		res  wrkResult
	}
	profSeconds := 1
	if d, err := time.ParseDuration(duration); err == nil && d > 2*time.Second {
		profSeconds = int(d/time.Second) - 1
	}
	run := func(name, host string, profile string, extra ...string) (row, string) {
		args := []string{"-t2", "-c" + conns, "-d" + duration, "--latency", "-H", "Host: " + host}
		var scriptArgs []string
		for i, e := range extra {
			if e == "--" {
				extra, scriptArgs = extra[:i], extra[i:]
				break
			}
		}
		args = append(append(append(args, extra...), tr.URL+"/mcp"), scriptArgs...)
		var prof sync.WaitGroup
		if profile != "" {
			prof.Add(1)
			go func() {
				defer prof.Done()
				saveProfile(b, tr.URL, profSeconds, profile)
			}()
		}
		cpu0 := procCPU(tr.PID())
		out, err := exec.Command(wrk, args...).CombinedOutput()
		if err != nil {
			b.Fatalf("wrk %v: %v\n%s", args, err, out)
		}
		prof.Wait()
		res := parseWrk(string(out))
		if res.requests > 0 {
			res.traefikCPU = (procCPU(tr.PID()) - cpu0) / time.Duration(res.requests)
		}
		if res.non2xx > 0 || res.rps == 0 {
			b.Fatalf("%s: %d non-2xx responses or no throughput:\n%s", name, res.non2xx, out)
		}
		return row{name, res}, string(out)
	}
	// Scenarios are interleaved over several rounds and the median kept: on a shared
	// machine the background load changes from one run to the next. Each mcpauth
	// scenario has a control: the same requests (same Authorization header, same wrk
	// Lua script) to a route without the middleware, so that what the ratio measures
	// is the middleware alone, not the cost of a bigger request or of wrk's scripting.
	rounds, _ := strconv.Atoi(env("BENCH_ROUNDS", "3"))
	type scenario struct {
		name, host string
		extra      []string
		control    int  // index of the same-requests scenario without middleware; -1: none
		neverSeen  bool // the token stride continues where the previous round stopped
	}
	cachedHeader := []string{"-H", "Authorization: Bearer " + cached}
	neverSeenScript := []string{"-s", lua, "--", tokFile}
	scenarios := []scenario{
		{"no middleware", "plain.bench.test", nil, -1, false},
		{"no middleware, cached's requests", "plain.bench.test", cachedHeader, -1, false},
		{"mcpauth, repeated token (cached)", "mcp.bench.test", cachedHeader, 1, false},
		{"no middleware, never-seen's requests", "plain.bench.test", neverSeenScript, -1, false},
		{"mcpauth, never-seen RS256 tokens", "mcp.bench.test", neverSeenScript, 3, true},
	}
	if authURL != "" {
		scenarios = append(scenarios, scenario{"ForwardAuth to authsvc /verify", "fa.bench.test", cachedHeader, 1, false})
	}
	results := make([][]row, len(scenarios))
	// The never-seen stride runs on across rounds: a token comes back only after
	// every other token was sent (nTokens requests later), long after the plugin's
	// 10,000-entry first-in-first-out cache dropped it. So every request of that
	// scenario is a full verification.
	offset := 0
	for round := 0; round < rounds; round++ {
		for i, sc := range scenarios {
			extra := sc.extra
			if sc.neverSeen {
				extra = append(append([]string(nil), extra...), strconv.Itoa(offset))
			}
			profile := ""
			if profDir != "" && round == 0 {
				profile = filepath.Join(profDir, slug(sc.name)+".pprof")
			}
			r, out := run(sc.name, sc.host, profile, extra...)
			if sc.neverSeen {
				m := reNext.FindStringSubmatch(out)
				if m == nil {
					b.Fatalf("never-seen script printed no next offset:\n%s", out)
				}
				offset, _ = strconv.Atoi(m[1])
			}
			results[i] = append(results[i], r)
		}
	}
	rows := make([]row, len(scenarios))
	for i := range scenarios {
		rs := append([]row(nil), results[i]...) // a copy: ratio needs results in round order
		sort.Slice(rs, func(a, b int) bool { return rs[a].res.rps < rs[b].res.rps })
		rows[i] = rs[len(rs)/2]
	}
	if offset > nTokens {
		b.Logf("note: the never-seen stride wrapped around (%d requests, %d tokens); each token came back only after %d others, beyond the plugin's cache", offset, nTokens, nTokens-1)
	}
	// Ratios are taken within a round (the scenario and its control ran seconds
	// apart, under the same background load), then the median over rounds is kept.
	ratio := func(i, j int) float64 {
		var rs []float64
		for round := range results[i] {
			rs = append(rs, results[i][round].res.rps/results[j][round].res.rps)
		}
		sort.Float64s(rs)
		return rs[len(rs)/2]
	}
	var sb strings.Builder
	if gogc == "" {
		gogc = "default (100)"
	}
	fmt.Fprintf(&sb, "\nwrk -t2 -c%s -d%s on loopback, Traefik v3.6.12 (GOGC %s), %d CPUs shared by wrk, Traefik and the backend; median of %d interleaved rounds\n", conns, duration, gogc, cpus(), rounds)
	fmt.Fprintf(&sb, "%-38s %9s %9s %9s %9s %7s %9s %15s\n", "scenario", "req/s", "p50", "p99", "requests", "× none", "× control", "Traefik CPU/req")
	for i, r := range rows {
		control := "-"
		if c := scenarios[i].control; c >= 0 {
			control = fmt.Sprintf("%.2f", ratio(i, c))
		}
		fmt.Fprintf(&sb, "%-38s %9.0f %9s %9s %9d %7.2f %9s %15s\n", r.name, r.res.rps, r.res.p50, r.res.p99, r.res.requests, ratio(i, 0), control, r.res.traefikCPU.Round(time.Microsecond))
	}
	fmt.Fprintf(&sb, "(× control: against the same requests sent to a route without middleware, in the same round)\n")
	if len(rows) == 6 {
		fmt.Fprintf(&sb, "cached mcpauth vs ForwardAuth: %.2f×; never-seen vs ForwardAuth: %.2f×\n", ratio(2, 5), ratio(4, 5))
	}
	fmt.Fprintf(&sb, "Traefik's peak resident memory over the run: %s\n", peakRSS(tr.PID()))
	fmt.Print(sb.String())
}

// slug turns a scenario name into a file name.
func slug(name string) string {
	return strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(name), "-"), "-")
}

// saveProfile writes a CPU profile of Traefik (its api.debug pprof handler) taken
// over the next seconds.
func saveProfile(b *testing.B, base string, seconds int, file string) {
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, seconds), nil)
	req.Host = "debug.bench.test"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Errorf("profile %s: %v", file, err)
		return
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		b.Errorf("profile %s: %v %d %.200s", file, err, resp.StatusCode, data)
		return
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		b.Error(err)
	}
}

// neverSeenLua gives each wrk thread (two: -t2) its own stride through the token
// file, starting at the offset given after the file name, so no token is sent twice
// while there are tokens left; at the end it prints where the next run should start.
const neverSeenLua = `
local tokens = {}
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  counter = tid + (tonumber(args[2]) or 0)
end
function request()
  local t = tokens[(counter % #tokens) + 1]
  counter = counter + 2
  return wrk.format(nil, nil, {["Authorization"] = "Bearer " .. t})
end
function done(summary, latency, requests)
  local next = 0
  for _, thread in ipairs(threads) do
    local c = thread:get("counter")
    if c > next then next = c end
  end
  io.write(string.format("next-offset: %d\n", next))
end
`

type wrkResult struct {
	traefikCPU time.Duration // Traefik's CPU time per request
	rps        float64
	p50, p99   string
	requests   int64
	non2xx     int64
}

var (
	reRPS   = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	reP50   = regexp.MustCompile(`\s50%\s+(\S+)`)
	reP99   = regexp.MustCompile(`\s99%\s+(\S+)`)
	reReqs  = regexp.MustCompile(`(\d+) requests in`)
	reNon2x = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	reNext  = regexp.MustCompile(`next-offset: (\d+)`)
)

func parseWrk(out string) wrkResult {
	var r wrkResult
	if m := reRPS.FindStringSubmatch(out); m != nil {
		r.rps, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := reP50.FindStringSubmatch(out); m != nil {
		r.p50 = m[1]
	}
	if m := reP99.FindStringSubmatch(out); m != nil {
		r.p99 = m[1]
	}
	if m := reReqs.FindStringSubmatch(out); m != nil {
		r.requests, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := reNon2x.FindStringSubmatch(out); m != nil {
		r.non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return r
}

// peakRSS is a process's peak resident set size (VmHWM in /proc/<pid>/status).
func peakRSS(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
			kb, _ := strconv.Atoi(f[1])
			return fmt.Sprintf("%d MiB", kb/1024)
		}
	}
	return "unknown"
}

// procCPU is the user+system CPU time a process has used, from /proc/<pid>/stat.
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may contain spaces) start after ")".
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // clock ticks (USER_HZ = 100)
}

func cpus() int {
	out, err := exec.Command("nproc").Output()
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

func inlineJWKS(kid string, pub *rsa.PublicKey) string {
	b, _ := json.Marshal(map[string]any{"keys": []any{map[string]any{
		"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes()),
	}}})
	return string(b)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func startRedis(b *testing.B, dir string) string {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		b.Fatal("redis-server not found: run `just deps-redis`")
	}
	port := traefiktest.FreePort(b)
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	waitTCP(b, addr)
	return addr
}

// setKeys marks access-token records live the way authsvc stores them
// (oauth:token:{jti}), so ForwardAuth's /verify accepts the pre-minted tokens.
func setKeys(b *testing.B, addr string, jtis []string) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	w := bufio.NewWriter(conn)
	for _, j := range jtis {
		key := "oauth:token:" + j
		fmt.Fprintf(w, "*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\n1\r\n$2\r\nEX\r\n$4\r\n3600\r\n", len(key), key)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	r := bufio.NewReader(conn)
	for range jtis {
		line, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "+OK") {
			b.Fatalf("redis SET: %q %v", line, err)
		}
	}
}

func startAuthsvc(b *testing.B, bin, redisAddr, pemKey string) string {
	port := traefiktest.FreePort(b)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"LISTEN_ADDR=127.0.0.1:"+strconv.Itoa(port),
		"AUTH_ISSUER_URL="+issuer,
		"BASE_DOMAIN=bench.test",
		"REDIS_URL=redis://"+redisAddr+"/0",
		"GITHUB_CLIENT_ID=bench",
		"GITHUB_CLIENT_SECRET=bench-secret",
		"ALLOWED_GITHUB_USERS=*",
		"JWT_ALGORITHM=RS256",
		"JWT_PRIVATE_KEY="+pemKey,
		"DEFAULT_AUDIENCE="+resource,
		"REVOCATION_FEED_TOKEN=bench-feed-token-0123456789abcdef0123",
		"LOG_LEVEL=error",
	)
	logf, _ := os.Create(filepath.Join(b.TempDir(), "authsvc.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	u := "http://127.0.0.1:" + strconv.Itoa(port)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		resp, err := http.Get(u + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return u
			}
		}
		select {
		case <-ctx.Done():
			out, _ := os.ReadFile(logf.Name())
			b.Fatalf("authsvc not healthy within 30s:\n%s", out)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// authsvcKid finds the kid authsvc publishes for pub (an RFC 7638 thumbprint).
func authsvcKid(b *testing.B, authURL string, pub *rsa.PublicKey) string {
	resp, err := http.Get(authURL + "/.well-known/jwks.json")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		b.Fatal(err)
	}
	for _, k := range doc.Keys {
		if k["n"] == b64(pub.N.Bytes()) {
			return k["kid"].(string)
		}
	}
	b.Fatalf("authsvc's JWKS does not list the configured key: %v", doc.Keys)
	return ""
}

func waitTCP(b *testing.B, addr string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatalf("%s not listening within 10s", addr)
}
