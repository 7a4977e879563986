package stack_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/mcp-oauth-gateway/gateway/internal/labels"
	"github.com/mcp-oauth-gateway/gateway/internal/localstack"
	"github.com/mcp-oauth-gateway/gateway/internal/localtls"
)

// TestRealTraefik runs the real Traefik v3.6 binary on the stack's own static
// configuration (traefik/traefik.yml, the plugin from this checkout) and dynamic files
// laid out as the container mounts them (base/ and local-tls/ with the certificate
// `just local-tls` makes), plus the configuration the labels decode to. Only what
// cannot exist outside Docker is changed: entry point addresses move to loopback
// ports, the Docker provider is replaced by the file provider carrying the
// label-derived routes, and Let's Encrypt points at a closed port (which the local
// certificate must keep Traefik from asking).
//
// It proves that Traefik accepts every static option, every router, service and
// middleware the labels produce (no error in its API), that the compose healthcheck
// command (`traefik healthcheck --ping`) works with this configuration, and that
// requests are routed as the routing table says, through real TLS.
func TestRealTraefik(t *testing.T) {
	bin := os.Getenv("TRAEFIK_BIN")
	if bin == "" {
		t.Fatal("TRAEFIK_BIN is not set: run `just test-stack` (it builds or reuses Traefik with scripts/build-traefik.sh)")
	}
	st, _ := loadStack(t)
	dir := t.TempDir()

	// One backend per compose service, answering with its own name.
	backends := map[string]string{}
	for _, name := range sortedNames(st.Containers) {
		if !st.Containers[name].Enabled {
			continue
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Backend", name)
			fmt.Fprintf(w, "%s %s", name, r.URL.Path)
		}))
		t.Cleanup(srv.Close)
		backends[name] = srv.URL
	}
	ports := freePorts(t, 5)
	addr := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", ports[i]) }
	web, websecure, internal, ping, api := addr(0), addr(1), addr(2), addr(3), addr(4)

	// Dynamic configuration: the repository's files in base/, the local CA's certificate
	// in local-tls/ (as compose mounts them), the labels' routes.
	dyn := filepath.Join(dir, "dynamic")
	copyTree(t, dir, "traefik/dynamic")
	if err := os.MkdirAll(dyn, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "traefik", "dynamic"), filepath.Join(dyn, "base")); err != nil {
		t.Fatal(err)
	}
	routes, err := st.DynamicConfig(labels.Options{Backends: backends})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dyn, "labels.yaml"), routes)
	pool := localCertificate(t, dir, filepath.Join(dyn, "local-tls"), st)

	// Static configuration.
	static := readYAML(t, "traefik/traefik.yml")
	set := func(v any, path ...string) {
		m := static
		for _, p := range path[:len(path)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[path[len(path)-1]] = v
	}
	set(web, "entryPoints", "web", "address")
	set(websecure, "entryPoints", publicEntryPoint, "address")
	set(internal, "entryPoints", internalEP, "address")
	set(ping, "entryPoints", "ping", "address")
	set(map[string]any{"address": api}, "entryPoints", "traefik")
	set(map[string]any{"insecure": true, "dashboard": false}, "api")
	delete(static["providers"].(map[string]any), "docker")
	set(dyn, "providers", "file", "directory")
	set(filepath.Join(dir, "access.log"), "accessLog", "filePath")
	set("ops@"+testDomain, "certificatesResolvers", "letsencrypt", "acme", "email")
	set(filepath.Join(dir, "acme.json"), "certificatesResolvers", "letsencrypt", "acme", "storage")
	set("http://127.0.0.1:1/directory", "certificatesResolvers", "letsencrypt", "acme", "caServer")
	b, err := yaml.Marshal(static)
	if err != nil {
		t.Fatal(err)
	}
	configFile := filepath.Join(dir, "traefik.yml")
	writeFile(t, configFile, b)
	if err := localstack.CopyPlugin(repoPath(t, "."), dir); err != nil {
		t.Fatal(err)
	}

	proc := startProcess(t, "traefik", dir, os.Environ(), bin, "--configFile="+configFile)

	// The compose healthcheck command, against this configuration.
	waitFor(t, 90*time.Second, "traefik healthcheck --ping", func() error {
		proc.running(t, "it refused the configuration")
		return runCheck(os.Environ(), bin, "healthcheck", "--ping", "--configFile="+configFile)
	})

	// Every label-derived router, service and middleware is enabled, without errors.
	for _, kind := range []string{"routers", "services", "middlewares"} {
		want := map[string]bool{}
		switch kind {
		case "routers":
			for n := range st.HTTP.Routers {
				want[n+"@file"] = true
			}
		case "services":
			for n := range st.HTTP.Services {
				want[n+"@file"] = true
			}
		case "middlewares":
			for n := range st.HTTP.Middlewares {
				want[n+"@file"] = true
			}
			for _, m := range fileMiddlewares {
				want[m] = true
			}
		}
		waitFor(t, 60*time.Second, "Traefik API "+kind, func() error {
			return checkAPI(api, kind, want)
		})
	}

	client := tlsClient(pool, websecure)
	get := func(rawURL string, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, rawURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", rawURL, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return resp, string(body)
	}

	tests := []struct {
		url         string
		wantStatus  int
		wantBackend string // "" when the edge answers itself
		wantBody    string
		wantHeader  [2]string
	}{
		{"https://auth." + testDomain + "/.well-known/oauth-authorization-server", 200, "auth", "", [2]string{}},
		{"https://auth." + testDomain + "/register", 200, "auth", "", [2]string{}},
		{"https://auth." + testDomain + "/health", 200, "auth", "", [2]string{}},
		{"https://auth." + testDomain + "/verify", 404, "", "", [2]string{}},
		{"https://auth." + testDomain + "/internal/revocations", 404, "", "", [2]string{}},
		{"https://everything." + testDomain + "/.well-known/oauth-authorization-server", 200, "auth", "", [2]string{}},
		{"https://everything." + testDomain + "/.well-known/oauth-protected-resource/mcp", 200, "", `"resource":"https://everything.` + testDomain + `/mcp"`, [2]string{}},
		{"https://everything." + testDomain + "/mcp", 401, "", "", [2]string{"WWW-Authenticate", "resource_metadata="}},
		{"https://memory." + testDomain + "/internal/revocations", 401, "", "", [2]string{"WWW-Authenticate", "Bearer"}},
		{"https://time." + testDomain + "/mcp", 401, "", "", [2]string{"WWW-Authenticate", "https://time." + testDomain}},
	}
	for _, tc := range tests {
		t.Run(strings.TrimPrefix(tc.url, "https://"), func(t *testing.T) {
			resp, body := get(tc.url, nil)
			if resp.StatusCode != tc.wantStatus || resp.Header.Get("X-Backend") != tc.wantBackend {
				t.Errorf("status %d from backend %q, want %d from %q; body %q", resp.StatusCode, resp.Header.Get("X-Backend"), tc.wantStatus, tc.wantBackend, tail(body, 300))
			}
			if tc.wantBody != "" && !strings.Contains(body, tc.wantBody) {
				t.Errorf("body %q lacks %q", tail(body, 500), tc.wantBody)
			}
			if h := tc.wantHeader; h[0] != "" && !strings.Contains(resp.Header.Get(h[0]), h[1]) {
				t.Errorf("%s = %q, want it to contain %q", h[0], resp.Header.Get(h[0]), h[1])
			}
			// Entry-point middlewares run on routed requests only (Traefik's own 404s
			// have no router).
			routed := tc.wantBackend != "" || tc.wantStatus != http.StatusNotFound
			if got := resp.Header.Get("Strict-Transport-Security"); routed && !strings.Contains(got, "max-age=31536000") {
				t.Errorf("Strict-Transport-Security = %q: security-headers@file is not applied", got)
			}
		})
	}

	// A host no label routes has no certificate either (the local CA signed only the
	// stack's hosts): the handshake fails before any request.
	if _, err := client.Get("https://unknown." + testDomain + "/mcp"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("https://unknown.%s: %v, want a certificate error", testDomain, err)
	}

	// Plain HTTP only redirects; the internal entry point serves /verify and nothing else.
	plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
	req, _ := http.NewRequest(http.MethodGet, "http://"+web+"/mcp", nil)
	req.Host = "everything." + testDomain
	resp, err := plain.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 != 3 || !strings.HasPrefix(loc, "https://everything."+testDomain) {
		t.Errorf("http://everything/mcp: %d Location %q, want a redirect to https", resp.StatusCode, loc)
	}
	for path, want := range map[string]string{"/verify": "auth", "/register": ""} {
		resp, err := plain.Get("http://" + internal + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Backend"); got != want {
			t.Errorf("internal entry point %s reached %q, want %q", path, got, want)
		}
	}

	// With the local CA's certificate covering every host, Traefik never asked Let's
	// Encrypt (its caServer here is a closed port: any attempt logs an ACME error).
	logs, _ := os.ReadFile(filepath.Join(dir, "traefik.log"))
	for _, line := range strings.Split(string(logs), "\n") {
		if strings.Contains(line, `"level":"error"`) && strings.Contains(strings.ToLower(line), "acme") {
			t.Errorf("Traefik tried Let's Encrypt although the local certificate covers every host: %s", line)
		}
	}
}

// checkAPI compares Traefik's view of kind (routers, services, middlewares) with want.
func checkAPI(api, kind string, want map[string]bool) error {
	resp, err := http.Get("http://" + api + "/api/http/" + kind + "?per_page=1000")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var list []struct {
		Name   string   `json:"name"`
		Status string   `json:"status"`
		Error  []string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return fmt.Errorf("decoding %s: %w", kind, err)
	}
	found := map[string]bool{}
	var problems []string
	for _, e := range list {
		if !want[e.Name] {
			continue
		}
		found[e.Name] = true
		if e.Status != "enabled" || len(e.Error) > 0 {
			problems = append(problems, fmt.Sprintf("%s: status %q, errors %v", e.Name, e.Status, e.Error))
		}
	}
	for n := range want {
		if !found[n] {
			problems = append(problems, n+": missing")
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s:\n  %s", kind, strings.Join(problems, "\n  "))
	}
	return nil
}

// writeCertificate writes a self-signed certificate for domain and *.domain, declares
// it in the dynamic configuration and returns a pool that trusts it.
// localCertificate makes what `just local-tls` makes, for every host the labels route,
// with its Traefik configuration at mounted, and returns a pool trusting its CA.
func localCertificate(t *testing.T, dir, mounted string, st *labels.Stack) *x509.CertPool {
	t.Helper()
	hosts := []string{testDomain}
	for _, name := range sortedNames(st.Containers) {
		if st.Containers[name].Enabled {
			hosts = append(hosts, name+"."+testDomain)
		}
	}
	tlsDir := filepath.Join(dir, "local-tls")
	if _, err := localtls.Make(localtls.Options{Dir: tlsDir, Hosts: slices.Compact(hosts), MountedAt: mounted}); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(tlsDir, localtls.TraefikDir), mounted); err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(filepath.Join(tlsDir, localtls.CACert))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return pool
}

// tlsClient connects every https://<host>:443 to the websecure entry point, with SNI
// and certificate checks for <host>.
func tlsClient(pool *x509.CertPool, websecure string) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second}
	return &http.Client{
		Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, websecure)
			},
		},
	}
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// waitFor retries check until it passes or the deadline passes (Traefik loads its
// providers and plugins asynchronously; two busy cores make that slow).
func waitFor(t *testing.T, limit time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var err error
	for time.Now().Before(deadline) {
		if err = check(); err == nil {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s did not succeed within %v: %v", what, limit, err)
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
