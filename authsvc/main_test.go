package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/metrics"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/keys"
	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/redistest"
	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/syncbuf"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func testEnv(t *testing.T) map[string]string {
	return map[string]string{
		"LISTEN_ADDR":          "127.0.0.1:0",
		"AUTH_ISSUER_URL":      "http://127.0.0.1:8000",
		"REDIS_URL":            redistest.URL(t),
		"GITHUB_CLIENT_ID":     "id",
		"GITHUB_CLIENT_SECRET": "secret",
		"ALLOWED_GITHUB_USERS": "*",
	}
}

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestServe starts the real program in-process on :0, checks /health and stops it.
func TestServe(t *testing.T) {
	addr, stop := serve(t, testEnv(t))
	defer stop()
	resp, err := http.Get("http://" + addr + "/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("health: %d %s", resp.StatusCode, body)
	}
	// Header sizes are bounded by the real server: 431, not a crash.
	req, _ := http.NewRequest("GET", "http://"+addr+"/health", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 100<<10))
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Errorf("oversized header: %v", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("oversized header: %d, want 431", resp.StatusCode)
		}
	}
}

// serve runs the real program in-process with env and returns its address and a
// function that stops it (and checks it stopped cleanly).
func serve(t *testing.T, env map[string]string) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncbuf.Buffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, getenv(env), out) }()

	addrRE := regexp.MustCompile(`"msg":"authsvc listening","addr":"(127\.0\.0\.1:\d+)"`)
	var addr string
	for deadline := time.Now().Add(20 * time.Second); addr == ""; {
		if m := addrRE.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("run returned early: %v\n%s", err, out)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no listening line after 20s:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr, func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run after cancel: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("run did not stop after its context ended")
		}
	}
}

// TestRedisDownKeepsPublicEndpoints: with Redis gone, the liveness check (the container
// healthcheck, which decides whether Traefik routes to authsvc at all) still passes,
// readiness says Redis is down, the metadata and the last known JWKS are still served,
// and an endpoint that needs Redis answers a JSON 503 temporarily_unavailable.
func TestRedisDownKeepsPublicEndpoints(t *testing.T) {
	redisAddr, stopRedis, err := redistest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer stopRedis()
	env := testEnv(t)
	env["REDIS_URL"] = "redis://" + redisAddr + "/0"
	addr, stop := serve(t, env)
	defer stop()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/.well-known/jwks.json"); code != 200 || !strings.Contains(body, `"kid"`) {
		t.Fatalf("JWKS with Redis up: %d %s", code, body)
	}
	healthcheck := func(args ...string) error {
		e := map[string]string{"LISTEN_ADDR": addr}
		return run(context.Background(), append([]string{"healthcheck"}, args...), getenv(e), io.Discard)
	}
	if err := healthcheck("-ready"); err != nil {
		t.Fatalf("readiness with Redis up: %v", err)
	}

	stopRedis()
	if err := healthcheck(); err != nil {
		t.Errorf("liveness with Redis down: %v", err)
	}
	if err := healthcheck("-ready"); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("readiness with Redis down: %v, want a 503", err)
	}
	if code, body := get("/.well-known/oauth-authorization-server"); code != 200 || !strings.Contains(body, `"issuer"`) {
		t.Errorf("metadata with Redis down: %d %s", code, body)
	}
	if code, body := get("/.well-known/jwks.json"); code != 200 || !strings.Contains(body, `"kid"`) {
		t.Errorf("JWKS with Redis down: %d %s", code, body)
	}
	redisErrors := testutil.ToFloat64(metrics.RedisErrors)
	resp, err := http.Post("http://"+addr+"/register", "application/json",
		strings.NewReader(`{"redirect_uris":["http://127.0.0.1:9/cb"]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), `"temporarily_unavailable"`) ||
		resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("register with Redis down: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	if d := testutil.ToFloat64(metrics.RedisErrors) - redisErrors; d != 1 {
		t.Errorf("authsvc_redis_errors_total moved by %v for the refused registration, want 1", d)
	}
}

// TestServeWithSentinel: with REDIS_SENTINELS the real program finds the master through
// the sentinels, and after the master is killed it follows them to the promoted
// replica by itself (readiness comes back without a restart).
func TestServeWithSentinel(t *testing.T) {
	sn := redistest.StartSentinel(t)
	env := testEnv(t)
	env["REDIS_URL"] = "redis://sentinel/0"
	env["REDIS_SENTINELS"] = strings.Join(sn.Sentinels, ",")
	env["REDIS_MASTER_NAME"] = sn.MasterName
	env["REDIS_WAIT_REPLICAS"] = "1"
	addr, stop := serve(t, env)
	defer stop()
	ready := func() error {
		return run(context.Background(), []string{"healthcheck", "-ready"}, getenv(map[string]string{"LISTEN_ADDR": addr}), io.Discard)
	}
	if err := ready(); err != nil {
		t.Fatalf("readiness through the sentinels: %v", err)
	}
	sn.KillMaster(t)
	deadline := time.Now().Add(60 * time.Second)
	for ready() != nil {
		if time.Now().After(deadline) {
			t.Fatal("authsvc did not follow the failover within 60 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestMetricsEndpoint: with METRICS_LISTEN_ADDR the real program serves Prometheus
// metrics on that second listener only, and a registration and a refused token
// request move their counters.
func TestMetricsEndpoint(t *testing.T) {
	env := testEnv(t)
	env["METRICS_LISTEN_ADDR"] = "127.0.0.1:0"
	out := &syncbuf.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, getenv(env), out) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("run did not stop")
		}
	}()
	re := regexp.MustCompile(`"msg":"metrics listening","addr":"(127\.0\.0\.1:\d+)"[^\n]*\n[^\n]*"msg":"authsvc listening","addr":"(127\.0\.0\.1:\d+)"`)
	var m []string
	for deadline := time.Now().Add(20 * time.Second); m == nil; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("run returned: %v\n%s", err, out)
		default:
		}
		if m = re.FindStringSubmatch(out.String()); m == nil && time.Now().After(deadline) {
			t.Fatalf("no listening lines:\n%s", out)
		}
	}
	metricsAddr, addr := m[1], m[2]
	get := func(u string) (int, string) {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// The collectors are the process's: other tests of this package count too, so
	// each series is compared with its value before this test's requests.
	value := func(body, series string) float64 {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
		if m == nil {
			return 0
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	code, before := get("http://" + metricsAddr + "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	resp, err := http.Post("http://"+addr+"/register", "application/json", strings.NewReader(`{"redirect_uris":["http://127.0.0.1:9/cb"],"token_endpoint_auth_method":"none"}`))
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("register: %v %v", err, resp)
	}
	resp.Body.Close()
	resp, err = http.PostForm("http://"+addr+"/token", map[string][]string{"grant_type": {"password"}, "client_id": {"nobody"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, after := get("http://" + metricsAddr + "/metrics")
	for _, series := range []string{
		`authsvc_http_requests_total{code="201",method="POST",route="/register"}`,
		`authsvc_http_requests_total{code="401",method="POST",route="/token"}`,
		`authsvc_oauth_errors_total{error="invalid_client"}`,
		`authsvc_http_request_duration_seconds_count{route="/register"}`,
	} {
		if d := value(after, series) - value(before, series); d != 1 {
			t.Errorf("%s moved by %v, want 1", series, d)
		}
	}
	for _, want := range []string{"go_goroutines ", "process_resident_memory_bytes "} {
		if !strings.Contains(after, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// Not on the public listener.
	if code, _ := get("http://" + addr + "/metrics"); code != 404 {
		t.Errorf("/metrics on the public listener: %d, want 404", code)
	}
}

func TestCommands(t *testing.T) {
	ctx := context.Background()
	t.Run("config errors name the variables", func(t *testing.T) {
		err := run(ctx, []string{"serve"}, getenv(map[string]string{"AUTH_ISSUER_URL": "http://evil.example"}), io.Discard)
		for _, v := range []string{"AUTH_ISSUER_URL", "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET", "ALLOWED_GITHUB_USERS"} {
			if err == nil || !strings.Contains(err.Error(), v) {
				t.Errorf("err = %v, want it to name %s", err, v)
			}
		}
	})
	t.Run("unknown command", func(t *testing.T) {
		var out bytes.Buffer
		err := run(ctx, []string{"frobnicate"}, getenv(nil), &out)
		if err == nil || !strings.Contains(err.Error(), "frobnicate") || !strings.Contains(out.String(), "rotate-keys") {
			t.Errorf("err = %v, usage = %q", err, out.String())
		}
	})
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run("generate-keys "+alg, func(t *testing.T) {
			var out bytes.Buffer
			if err := run(ctx, []string{"generate-keys", "-alg", alg}, getenv(nil), &out); err != nil {
				t.Fatal(err)
			}
			if _, err := keys.ParsePEM(out.String(), alg); err != nil {
				t.Errorf("output is not a %s key: %v\n%s", alg, err, out.String())
			}
		})
	}
	t.Run("rotate-keys", func(t *testing.T) {
		env := testEnv(t)
		delete(env, "GITHUB_CLIENT_ID") // admin commands need no GitHub credentials
		var first, second bytes.Buffer
		if err := run(ctx, []string{"rotate-keys"}, getenv(env), &first); err != nil {
			t.Fatal(err)
		}
		if err := run(ctx, []string{"rotate-keys"}, getenv(env), &second); err != nil {
			t.Fatal(err)
		}
		kid := regexp.MustCompile(`kid=(\S+)`)
		a, b := kid.FindStringSubmatch(first.String()), kid.FindStringSubmatch(second.String())
		if a == nil || b == nil || a[1] == b[1] {
			t.Errorf("rotate-keys output %q then %q, want two different kids", first.String(), second.String())
		}
	})
	t.Run("rotate-keys refuses HS256", func(t *testing.T) {
		env := testEnv(t)
		env["JWT_ALGORITHM"] = "HS256"
		env["GATEWAY_JWT_SECRET"] = strings.Repeat("s", 32)
		if err := run(ctx, []string{"rotate-keys"}, getenv(env), io.Discard); err == nil || !strings.Contains(err.Error(), "GATEWAY_JWT_SECRET") {
			t.Errorf("err = %v", err)
		}
	})
}
