package traefik

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/jwtvectors"
	"github.com/mcp-oauth-gateway/gateway/tests/internal/traefiktest"
)

// streamBackend answers every POST as an MCP server answers a tool call with progress:
// it reads the whole request, opens an event stream at once, and ends it a moment
// later with the last event.
func streamBackend(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "data: progress\n\n")
		w.(http.Flusher).Flush()
		time.Sleep(5 * time.Millisecond)
		_, _ = io.WriteString(w, "data: result\n\n")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestStreamedAnswersArriveWhole sends many POSTs whose answers are event streams
// opened at once (as an MCP tool call with progress is answered) through Traefik, and
// checks every stream behind the mcpauth plugin arrives whole. Go's HTTP/1 proxying,
// which Traefik uses, can cut such a stream when the backend answers before the
// transport's final read of the request body (golang/go#40747); the plugin's
// declaredBody closes that window. The plain router without the plugin shows the race
// is provoked here (its count is logged, not asserted: it depends on timing); without
// declaredBody the plugin's router cut 10 and 16 of 2400 streams in two runs.
func TestStreamedAnswersArriveWhole(t *testing.T) {
	bin := traefiktest.Bin(t)
	k, err := jwtvectors.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	backend := streamBackend(t)
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, k.JWKS())
	}))
	defer jwks.Close()
	router := func(host, mw string) map[string]any {
		r := map[string]any{"rule": "Host(`" + host + "`)", "service": "stream", "entryPoints": []any{"web"}}
		if mw != "" {
			r["middlewares"] = []any{mw}
		}
		return r
	}
	doc := map[string]any{"http": map[string]any{
		"routers": map[string]any{
			"auth":  router(mcpHost, "auth-jwks"),
			"plain": router("plain.test.example", ""),
		},
		"services": map[string]any{"stream": map[string]any{"loadBalancer": map[string]any{
			"servers": []any{map[string]any{"url": backend.URL}},
		}}},
		"middlewares": map[string]any{
			"auth-jwks": map[string]any{"plugin": map[string]any{"mcpauth": k.ConfigMap(jwtvectors.ModeJWKS, jwks.URL+"/.well-known/jwks.json")}},
		},
	}}
	dyn, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	tr := traefiktest.Start(t, traefiktest.Options{
		Bin:         bin,
		LocalPlugin: true,
		Dynamic:     string(dyn),
		ReadyHost:   mcpHost,
		ReadyPath:   "/.well-known/oauth-protected-resource/mcp",
		ReadyStatus: http.StatusOK,
	})
	token := k.Valid(time.Now(), "u1")
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"pad":"` + strings.Repeat("p", 200) + `"}}}`
	for _, host := range []string{"plain.test.example", mcpHost} {
		var cut, other atomic.Int64
		var firstErr atomic.Value
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
		var wg sync.WaitGroup
		const workers, each = 16, 150
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					req, _ := http.NewRequest(http.MethodPost, "http://"+tr.Addr+"/mcp", strings.NewReader(body))
					req.Host = host
					req.Header.Set("Authorization", "Bearer "+token)
					req.Header.Set("Content-Type", "application/json")
					resp, err := client.Do(req)
					if err != nil {
						other.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
						continue
					}
					got, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil || !strings.Contains(string(got), "result") {
						cut.Add(1)
						firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d body %q err %v", resp.StatusCode, got, err))
					}
				}
			}()
		}
		wg.Wait()
		t.Logf("%s: %d of %d streams cut, %d other errors (first: %v)", host, cut.Load(), workers*each, other.Load(), firstErr.Load())
		if host == mcpHost && cut.Load()+other.Load() > 0 {
			t.Errorf("behind mcpauth: %d of %d event streams cut, %d requests failed; every stream must arrive whole", cut.Load(), workers*each, other.Load())
		}
	}
}
