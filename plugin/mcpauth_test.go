package mcpauth_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	"github.com/mcp-oauth-gateway/gateway/internal/jwtvectors"
	mcpauth "github.com/mcp-oauth-gateway/gateway/plugin"
)

var (
	keysOnce sync.Once
	keys     *jwtvectors.Keys
)

func testKeys(t testing.TB) *jwtvectors.Keys {
	keysOnce.Do(func() {
		var err error
		if keys, err = jwtvectors.NewKeys(); err != nil {
			panic(err)
		}
	})
	return keys
}

// configFrom turns a Traefik-style config map into a Config through the json tags,
// whose names are the keys Traefik users write.
func configFrom(t testing.TB, m map[string]interface{}) *mcpauth.Config {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	cfg := mcpauth.CreateConfig()
	if err := json.Unmarshal(b, cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// backend records what reached it.
type backend struct {
	mu      sync.Mutex
	reached bool
	header  http.Header
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.reached = true
	b.header = r.Header.Clone()
	b.mu.Unlock()
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "backend")
}

// nativeDoer builds one plugin instance per mode (with change applied to the config
// map) and runs requests through it with a recorder.
func nativeDoer(t testing.TB, jwksURL string, change func(map[string]interface{})) jwtvectors.Doer {
	k := testKeys(t)
	type inst struct {
		h  http.Handler
		be *backend
	}
	var mu sync.Mutex
	insts := map[jwtvectors.Mode]*inst{}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return func(t *testing.T, mode jwtvectors.Mode, req *http.Request) jwtvectors.Result {
		mu.Lock()
		in := insts[mode]
		if in == nil {
			m := k.ConfigMap(mode, jwksURL)
			if change != nil {
				change(m)
			}
			be := &backend{}
			h, err := mcpauth.New(ctx, be, configFrom(t, m), "test-"+string(mode))
			if err != nil {
				mu.Unlock()
				t.Fatalf("New: %v", err)
			}
			in = &inst{h: h, be: be}
			insts[mode] = in
		}
		mu.Unlock()
		in.be.mu.Lock()
		in.be.reached, in.be.header = false, nil
		in.be.mu.Unlock()
		rec := httptest.NewRecorder()
		in.h.ServeHTTP(rec, req)
		in.be.mu.Lock()
		defer in.be.mu.Unlock()
		return jwtvectors.Result{
			Status:  rec.Code,
			Header:  rec.Header(),
			Body:    rec.Body.String(),
			Reached: in.be.reached,
			Backend: in.be.header,
		}
	}
}

func jwksServer(t *testing.T) *httptest.Server {
	k := testKeys(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, k.JWKS())
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestTokenTableInlineJWKS(t *testing.T) {
	jwtvectors.CheckTokenTable(t, testKeys(t), nativeDoer(t, "", nil), nil)
}

func TestTokenTableJWKSURL(t *testing.T) {
	srv := jwksServer(t)
	jwtvectors.CheckTokenTable(t, testKeys(t), nativeDoer(t, srv.URL+"/.well-known/jwks.json", nil), nil)
}

func TestRequests(t *testing.T) {
	jwtvectors.CheckRequests(t, testKeys(t), nativeDoer(t, "", nil))
}

func TestIdentityHeaders(t *testing.T) {
	jwtvectors.CheckIdentityHeaders(t, testKeys(t), nativeDoer(t, "", nil))
}

func TestMain(m *testing.M) {
	os.Exit(m.Run())
}
