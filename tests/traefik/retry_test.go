package traefik

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"go.yaml.in/yaml/v4"

	"github.com/mcp-oauth-gateway/gateway/tests/internal/traefiktest"
)

// TestRetryUnreachable puts the stack's retry-unreachable middleware
// (traefik/dynamic/middlewares.yml, on every public entry point) in front of a load
// balancer whose first replica is gone, as after a replica is killed: every request
// must reach the live one, whole. A backend that received a request and then dropped
// the connection must see it once: a request that reached a backend is never sent
// again (a tool call must not run twice).
func TestRetryUnreachable(t *testing.T) {
	bin := traefiktest.Bin(t)
	var live atomic.Int64
	liveSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		live.Add(1)
		_, _ = io.WriteString(w, strconv.Itoa(len(body)))
	}))
	defer liveSrv.Close()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String()
	dead.Close() // connections are refused from now on
	var dropped atomic.Int64
	dropSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		dropped.Add(1)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close() // the request arrived; no answer
		}
	}))
	defer dropSrv.Close()

	var file struct {
		HTTP struct {
			Middlewares map[string]any `yaml:"middlewares"`
		} `yaml:"http"`
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "traefik", "dynamic", "middlewares.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	retry := "retry-unreachable"
	if file.HTTP.Middlewares[retry] == nil {
		t.Fatalf("traefik/dynamic/middlewares.yml defines no %s", retry)
	}
	lb := func(urls ...string) map[string]any {
		servers := []any{}
		for _, u := range urls {
			servers = append(servers, map[string]any{"url": u})
		}
		return map[string]any{"loadBalancer": map[string]any{"servers": servers}}
	}
	router := func(host, service string, mw ...string) map[string]any {
		r := map[string]any{"rule": "Host(`" + host + "`)", "service": service, "entryPoints": []any{"web"}}
		if len(mw) > 0 {
			r["middlewares"] = mw
		}
		return r
	}
	doc := map[string]any{"http": map[string]any{
		"routers": map[string]any{
			"replicas":         router("replicas.test", "replicas", retry),
			"replicas-noretry": router("noretry.test", "replicas"),
			"drop":             router("drop.test", "drop", retry),
		},
		"services": map[string]any{
			"replicas": lb(deadURL, liveSrv.URL),
			"drop":     lb(dropSrv.URL),
		},
		"middlewares": file.HTTP.Middlewares,
	}}
	dyn, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	tr := traefiktest.Start(t, traefiktest.Options{
		Bin: bin, Dynamic: string(dyn),
		ReadyHost: "replicas.test", ReadyPath: "/mcp", ReadyStatus: http.StatusOK,
	})
	post := func(host string) (int, string) {
		t.Helper()
		body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}`
		req, _ := http.NewRequest(http.MethodPost, tr.URL+"/mcp", strings.NewReader(body))
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", host, err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(got)
	}
	const n = 40
	want := strconv.Itoa(len(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}`))
	before := live.Load()
	for range n {
		if status, body := post("replicas.test"); status != http.StatusOK || body != want {
			t.Fatalf("with one replica gone: status %d body %q, want 200 and the whole request (%s bytes) at the live one", status, body, want)
		}
	}
	if got := live.Load() - before; got != n {
		t.Errorf("the live replica got %d requests for %d sent", got, n)
	}
	failed := 0
	for range n {
		if status, _ := post("noretry.test"); status != http.StatusOK {
			failed++
		}
	}
	if failed == 0 {
		t.Errorf("without retry-unreachable no request failed: the gone replica was never chosen, so the test proves nothing")
	}
	t.Logf("one of two replicas gone: %d of %d requests failed without retry-unreachable, none with it", failed, n)

	if status, _ := post("drop.test"); status < 500 {
		t.Errorf("a backend that dropped the connection: status %d, want a 5xx", status)
	}
	if got := dropped.Load(); got != 1 {
		t.Errorf("a request that reached a backend was sent %d times, want once", got)
	}
}
