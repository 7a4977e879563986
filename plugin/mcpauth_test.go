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

	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/jwtvectors"
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
	cfg, err := decodeConfig(m)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func decodeConfig(m map[string]interface{}) (*mcpauth.Config, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	cfg := mcpauth.CreateConfig()
	return cfg, json.Unmarshal(b, cfg)
}

// nativeDoer builds one plugin instance per mode (with change applied to the config
// map) and runs requests through it.
func nativeDoer(t testing.TB, jwksURL string, change func(map[string]interface{})) jwtvectors.Doer {
	k := testKeys(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return jwtvectors.HandlerDoer(func(mode jwtvectors.Mode, next http.Handler) (http.Handler, error) {
		m := k.ConfigMap(mode, jwksURL)
		if change != nil {
			change(m)
		}
		cfg, err := decodeConfig(m)
		if err != nil {
			return nil, err
		}
		return mcpauth.New(ctx, next, cfg, "test-"+string(mode))
	})
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

// TestSignatureMatchesContract: the plugin's copy of the identity signature is what the
// bridge's verifier (internal/contract) accepts.
func TestSignatureMatchesContract(t *testing.T) {
	signed := nativeDoer(t, "", func(m map[string]interface{}) { m["identitySecret"] = jwtvectors.IdentitySecret })
	jwtvectors.CheckIdentitySignature(t, testKeys(t), signed)
	jwtvectors.CheckClientSignatureDropped(t, testKeys(t), nativeDoer(t, "", nil))
}

func TestMain(m *testing.M) {
	os.Exit(m.Run())
}
