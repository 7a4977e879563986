package yaegi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/jwtvectors"
)

var (
	loaded  *plugin
	keys    *jwtvectors.Keys
	loadErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mcpauth-yaegi-")
	if err != nil {
		panic(err)
	}
	loaded, loadErr = loadPlugin(dir)
	if keys, err = jwtvectors.NewKeys(); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func interpreted(t *testing.T) *plugin {
	t.Helper()
	if loadErr != nil {
		t.Fatalf("loading the plugin under Yaegi the way Traefik does: %v", loadErr)
	}
	return loaded
}

// yaegiDoer builds interpreted instances from the suite's config map, passed through
// the file provider's decoder and mapstructure as Traefik does.
func yaegiDoer(t *testing.T, jwksURL string, change func(map[string]any)) jwtvectors.Doer {
	p := interpreted(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return jwtvectors.HandlerDoer(func(mode jwtvectors.Mode, next http.Handler) (http.Handler, error) {
		m := keys.ConfigMap(mode, jwksURL)
		if change != nil {
			change(m)
		}
		conf, err := viaFileProvider(m)
		if err != nil {
			return nil, err
		}
		return p.newHandler(ctx, next, conf, "yaegi-"+string(mode))
	})
}

func TestManifestTestData(t *testing.T) {
	p := interpreted(t)
	// The catalog calls New with testData and no network, under a 10 s limit.
	start := time.Now()
	h, err := p.newHandler(context.Background(), http.NotFoundHandler(), p.manifest.TestData, "testdata")
	if err != nil {
		t.Fatalf("New(testData): %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("New(testData) took %v", d)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/mcp", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("testData instance without token: %d, want 401", rec.Code)
	}
}

func TestConfigDecoding(t *testing.T) {
	p := interpreted(t)
	// Traefik users write lists as YAML lists or comma strings, bools as strings.
	m := keys.ConfigMap(jwtvectors.ModeJWKS, "")
	m["requiredScopes"] = "mcp:tools,mcp:resources"
	m["forwardAuthorization"] = "true"
	m["headers"] = map[string]any{"userId": "X-Remote-User"}
	conf, err := viaFileProvider(m)
	if err != nil {
		t.Fatal(err)
	}
	be := &recorder{}
	h, err := p.newHandler(context.Background(), be, conf, "decode")
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	token := keys.Valid(time.Now(), "9")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, jwtvectors.Bearer("POST", "/mcp", token))
	if rec.Code != 200 || be.header.Get("X-Remote-User") != "9" || be.header.Get("Authorization") == "" {
		t.Fatalf("status %d, X-Remote-User %q, Authorization %q: config not applied", rec.Code, be.header.Get("X-Remote-User"), be.header.Get("Authorization"))
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/mcp", nil))
	if got := rec.Header().Get("WWW-Authenticate"); !strings.Contains(got, `scope="mcp:tools mcp:resources"`) {
		t.Errorf("WWW-Authenticate = %q, want both required scopes", got)
	}
	// A bad config fails New with the plugin's error, not a panic.
	m["clockSkew"] = "5m"
	conf, _ = viaFileProvider(m)
	if _, err := p.newHandler(context.Background(), be, conf, "bad"); err == nil || !strings.Contains(err.Error(), "clockSkew") {
		t.Errorf("New with clockSkew 5m: %v, want an error naming clockSkew", err)
	}
}

func TestTokenTableInlineJWKS(t *testing.T) {
	jwtvectors.CheckTokenTable(t, keys, yaegiDoer(t, "", nil), nil)
}

func TestTokenTableJWKSURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, keys.JWKS())
	}))
	defer srv.Close()
	jwtvectors.CheckTokenTable(t, keys, yaegiDoer(t, srv.URL, nil), nil)
}

func TestRequests(t *testing.T) {
	jwtvectors.CheckRequests(t, keys, yaegiDoer(t, "", nil))
}

func TestIdentityHeaders(t *testing.T) {
	jwtvectors.CheckIdentityHeaders(t, keys, yaegiDoer(t, "", nil))
}

// TestIdentitySignature: under Yaegi too, the plugin's signature is what the bridge
// verifies, and a client's own is dropped.
func TestIdentitySignature(t *testing.T) {
	signed := yaegiDoer(t, "", func(m map[string]any) { m["identitySecret"] = jwtvectors.IdentitySecret })
	jwtvectors.CheckIdentitySignature(t, keys, signed)
	// The secret from a file (identitySecretFile: a Docker or Swarm secret), as the
	// Swarm stack passes it.
	file := filepath.Join(t.TempDir(), "identity_secret")
	if err := os.WriteFile(file, []byte(jwtvectors.IdentitySecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	jwtvectors.CheckIdentitySignature(t, keys, yaegiDoer(t, "", func(m map[string]any) { m["identitySecretFile"] = file }))
	jwtvectors.CheckClientSignatureDropped(t, keys, yaegiDoer(t, "", nil))
}

func TestRevocation(t *testing.T) {
	var mu sync.Mutex
	var revokedJTI string
	// The feed's token comes from a file (revocationTokenFile): the feed answers only
	// with it.
	tokenFile := filepath.Join(t.TempDir(), "revocation_token")
	if err := os.WriteFile(tokenFile, []byte("feed-token-from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer feed-token-from-a-file" {
			http.Error(w, "wrong token", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		tokens := []any{}
		if revokedJTI != "" {
			tokens = append(tokens, map[string]any{"jti": revokedJTI, "exp": time.Now().Add(time.Hour).Unix()})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"cursor": "1", "reset": true, "tokens": tokens, "users": []any{}, "clients": []any{}})
	}))
	defer srv.Close()
	do := yaegiDoer(t, "", func(m map[string]any) {
		m["revocationURL"] = srv.URL
		m["revocationInterval"] = "200ms"
		m["revocationTokenFile"] = tokenFile
	})
	c := jwtvectors.Claims(time.Now(), "55")
	token := jwtvectors.Sign("RS256", keys.RSA, map[string]any{"typ": "at+jwt", "kid": jwtvectors.RSAKid}, c)
	if res := do(t, jwtvectors.ModeJWKS, jwtvectors.Bearer("POST", "/mcp", token)); !res.Reached {
		t.Fatalf("fresh token refused: %d %s", res.Status, res.Body)
	}
	mu.Lock()
	revokedJTI = c["jti"].(string)
	mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for do(t, jwtvectors.ModeJWKS, jwtvectors.Bearer("POST", "/mcp", token)).Reached {
		if time.Now().After(deadline) {
			t.Fatal("revoked token still accepted after 10s with a 200ms interval")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRevocationFeedEntries: each feed entry is read on its own. A user entry
// without "before" revokes nothing, even after one that revokes everything (under
// Yaegi a comma-ok form repeated in a loop keeps its previous value when it fails),
// and an entry with a non-string id is skipped.
func TestRevocationFeedEntries(t *testing.T) {
	later := time.Now().Add(time.Hour).Unix()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"cursor": "1", "reset": true, "tokens": []any{},
			"users":   []any{map[string]any{"sub": "61", "before": later}, map[string]any{"sub": "62"}, map[string]any{"sub": 63, "before": later}},
			"clients": []any{}})
	}))
	defer srv.Close()
	do := yaegiDoer(t, "", func(m map[string]any) {
		m["revocationURL"] = srv.URL
		m["revocationInterval"] = "1h"
	})
	send := func(sub string) jwtvectors.Result {
		return do(t, jwtvectors.ModeJWKS, jwtvectors.Bearer("POST", "/mcp", keys.Valid(time.Now(), sub)))
	}
	// The first poll runs in the background: wait until user 61 is refused.
	for deadline := time.Now().Add(10 * time.Second); send("61").Reached; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("user 61 still accepted 10 s after the feed revoked it")
		}
	}
	for _, sub := range []string{"62", "63"} {
		if res := send(sub); !res.Reached {
			t.Errorf("user %s refused (status %d %s): the feed does not revoke it", sub, res.Status, res.Body)
		}
	}
}

// recorder keeps the headers of the last request that reached it.
type recorder struct {
	mu     sync.Mutex
	header http.Header
}

func (b *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.header = r.Header.Clone()
	b.mu.Unlock()
}
