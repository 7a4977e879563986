// Package docker runs the compose stack for real: `just up` on a Docker engine, a real
// MCP client through Traefik with the whole OAuth flow, and the failures a team would
// meet (spoofed identity, a bridge called directly, Redis restarted or gone, the stack
// taken down and up again). `just test-docker` starts the engine and the base images
// first (scripts/docker-engine.sh, scripts/docker-base-images.sh) and sets
// MCPGW_TEST_DOCKER=1; without it the package does nothing.
//
// The one stand-in is GitHub: the test runs internal/githubstub on the Docker host with
// https (a certificate of the test's local CA) and authsvc reaches it through
// GITHUB_URL/GITHUB_API_URL, as GitHub Enterprise users configure them. The Python
// bridges (fetch, time) are not started: PyPI cannot be reached here.
package docker

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"

	"github.com/mcp-oauth-gateway/gateway/internal/githubstub"
	"github.com/mcp-oauth-gateway/gateway/internal/localstack"
	"github.com/mcp-oauth-gateway/gateway/internal/localtls"
	"github.com/mcp-oauth-gateway/gateway/tests/internal/formbrowser"
)

const (
	project     = "mcpgw-dockertest"
	domain      = "localhost"
	redirectURI = "http://127.0.0.1:9/callback"
	// Services started: the npm bridges (the Python ones need PyPI).
	services = "traefik everything memory filesystem"
)

// bridges are the MCP services started, each with a tool every user may call.
var bridges = []string{"everything", "memory", "filesystem"}

// stack is the running stack and how to reach it.
type stack struct {
	root    string       // repository root
	env     []string     // environment of every just/docker command
	envFile string       // the stack's env file
	client  *http.Client // talks to *.localhost through the published port, trusts the CA
	github  *githubstub.Server
	user    githubstub.User
}

var (
	st      *stack
	stErr   error
	stOnce  sync.Once
	timings = map[string]time.Duration{}
)

func TestMain(m *testing.M) {
	if os.Getenv("MCPGW_TEST_DOCKER") != "1" {
		fmt.Println("tests/docker: not run: `just test-docker` runs it (it starts a Docker engine first)")
		os.Exit(0)
	}
	code := m.Run()
	if st != nil {
		if os.Getenv("MCPGW_TEST_DOCKER_KEEP") == "" {
			_, _ = st.just(context.Background(), "down", "-v", "--remove-orphans")
		}
		st.github.Close()
	}
	for k, v := range timings {
		fmt.Printf("tests/docker: %s took %s\n", k, v.Round(time.Second))
	}
	os.Exit(code)
}

// up brings the stack up once for the whole package, the way a user does: an env file
// with BASE_DOMAIN=localhost, then `just up` (which makes the local certificates).
func up(t *testing.T) *stack {
	t.Helper()
	stOnce.Do(func() { st, stErr = start() })
	if stErr != nil {
		t.Fatalf("the stack did not come up: %v", stErr)
	}
	return st
}

func start() (*stack, error) {
	root, err := filepath.Abs("../..")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mcpgw-dockertest-")
	if err != nil {
		return nil, err
	}
	tlsDir := filepath.Join(dir, "tls")

	// The GitHub stand-in: https on the Docker bridge's gateway address, which the
	// containers reach as host-gateway, with a certificate of the test's CA.
	gw, err := output(context.Background(), nil, "docker", "network", "inspect", "bridge", "-f", "{{(index .IPAM.Config 0).Gateway}}")
	if err != nil {
		return nil, fmt.Errorf("docker bridge gateway: %w", err)
	}
	gw = strings.TrimSpace(gw)
	if _, err := localtls.Make(localtls.Options{Dir: tlsDir, Hosts: []string{"github.localhost"}, MountedAt: "/unused"}); err != nil {
		return nil, err
	}
	ghCert, err := tls.LoadX509KeyPair(filepath.Join(tlsDir, localtls.TraefikDir, localtls.ServerCert), filepath.Join(tlsDir, localtls.TraefikDir, localtls.ServerKey))
	if err != nil {
		return nil, err
	}
	// Only the CA stays: the stack's certificates are `just up`'s to make.
	if err := os.RemoveAll(filepath.Join(tlsDir, localtls.TraefikDir)); err != nil {
		return nil, err
	}
	user := githubstub.User{ID: 4242, Login: "dockeruser", Name: "Docker User"}
	gh := githubstub.New(&githubstub.Options{
		Users: []githubstub.User{user}, Listen: net.JoinHostPort(gw, "0"),
		TLS: &tls.Config{Certificates: []tls.Certificate{ghCert}}, PublicHost: "github.localhost",
	})

	httpsPort, err := freePort()
	if err != nil {
		return nil, err
	}
	secret := func() string { return fmt.Sprintf("%x", randomBytes(24)) }
	envFile := filepath.Join(dir, "stack.env")
	lines := []string{
		"BASE_DOMAIN=" + domain,
		"ACME_EMAIL=ops@example.com",
		"REDIS_PASSWORD=" + secret(),
		"REVOCATION_FEED_TOKEN=" + secret(),
		"SESSION_SECRET=" + secret(),
		"IDENTITY_SECRET=" + secret(),
		"GITHUB_CLIENT_ID=" + gh.ClientID(),
		"GITHUB_CLIENT_SECRET=" + gh.ClientSecret(),
		"GITHUB_URL=" + gh.URL,
		"GITHUB_API_URL=" + gh.URL + "/api/v3",
		"ALLOWED_GITHUB_USERS=" + user.Login,
		"HTTPS_PORT=127.0.0.1:" + httpsPort,
		"HTTP_PORT=127.0.0.1:0",
		"LOG_LEVEL=debug",
	}
	if err := os.WriteFile(envFile, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	s := &stack{root: root, envFile: envFile, github: gh, user: user}
	s.env = append(os.Environ(),
		"STACK_ENV_FILE="+envFile,
		"COMPOSE_PROJECT_NAME="+project,
		"COMPOSE_FILE=compose/compose.yaml:tests/docker/testdata/github-standin.yaml",
		"LOCAL_TLS_DIR="+tlsDir,
	)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	// A previous run killed half-way leaves its containers and volumes: start clean.
	_, _ = s.just(ctx, "down", "-v", "--remove-orphans")
	t0 := time.Now()
	out, err := s.just(ctx, append([]string{"up"}, strings.Fields(services)...)...)
	if log := filepath.Join(root, "logs", "docker"); os.MkdirAll(log, 0o755) == nil {
		_ = os.WriteFile(filepath.Join(log, "just-up.log"), []byte(out), 0o644)
	}
	if err != nil {
		return nil, fmt.Errorf("just up: %v\n%s", err, tail(out, 60))
	}
	timings["just up (build, start, every healthcheck green)"] = time.Since(t0)
	// BASE_DOMAIN=localhost and no certificate yet: `just up` made them (keeping the CA
	// that signed the GitHub stand-in's certificate).
	if !strings.Contains(out, "making a local CA and certificates first") {
		return nil, fmt.Errorf("just up did not make the local certificates itself:\n%s", tail(out, 30))
	}
	caPEM, err := os.ReadFile(filepath.Join(tlsDir, localtls.CACert))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	s.client = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		Proxy:           nil,
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, _ := net.SplitHostPort(addr)
			switch {
			case host == "github.localhost":
				addr = net.JoinHostPort(gw, port)
			case strings.HasSuffix(host, "."+domain) && port == "443":
				addr = net.JoinHostPort("127.0.0.1", httpsPort)
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}}
	return s, nil
}

// just runs a recipe in the repository root with the stack's environment and returns
// its combined output. The env file is also just's dotenv file, so that a developer's
// own .env cannot leak into the test's stack.
func (s *stack) just(ctx context.Context, args ...string) (string, error) {
	return output(ctx, s, "just", append([]string{"--dotenv-path", s.envFile}, args...)...)
}

// compose runs docker compose on the test's project.
func (s *stack) compose(ctx context.Context, args ...string) (string, error) {
	return output(ctx, s, "docker", append([]string{"compose", "--env-file", s.envFile}, args...)...)
}

func output(ctx context.Context, s *stack, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if s != nil {
		cmd.Dir, cmd.Env = s.root, s.env
	}
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}

func (s *stack) mcpURL(svc string) string { return "https://" + svc + "." + domain + "/mcp" }

// oauthClient is the official Go SDK's OAuth client, with the form browser as the human
// who logs in at the GitHub stand-in and approves the consent page.
func (s *stack) oauthClient(t *testing.T) *auth.AuthorizationCodeHandler {
	t.Helper()
	h, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		DynamicClientRegistrationConfig: &auth.DynamicClientRegistrationConfig{
			Metadata: &oauthex.ClientRegistrationMetadata{
				ClientName: "docker test client", RedirectURIs: []string{redirectURI},
				GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
				TokenEndpointAuthMethod: "none",
			},
		},
		AuthorizationCodeFetcher: func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
			return formbrowser.New(s.client.Transport).SDKCode(ctx, args.URL, redirectURI)
		},
		RequestRefreshToken: true,
		Client:              s.client,
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// connect connects the SDK client to one bridge through Traefik.
func (s *stack) connect(t *testing.T, ctx context.Context, svc string, h *auth.AuthorizationCodeHandler) *mcp.ClientSession {
	t.Helper()
	tr := &mcp.StreamableClientTransport{Endpoint: s.mcpURL(svc), HTTPClient: s.client, OAuthHandler: h}
	c := mcp.NewClient(&mcp.Implementation{Name: "mcp-oauth-gateway-docker-test", Version: "1.0.0"}, nil)
	cs, err := c.Connect(ctx, tr, nil)
	if err != nil {
		t.Fatalf("connect to %s: %v", s.mcpURL(svc), err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func token(t *testing.T, h *auth.AuthorizationCodeHandler) *oauth2.Token {
	t.Helper()
	ts, err := h.TokenSource(context.Background())
	if err != nil || ts == nil {
		t.Fatalf("no token source: %v", err)
	}
	tok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// post sends one raw request through Traefik.
func (s *stack) post(t *testing.T, ctx context.Context, u, body string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, string(b)
}

func (s *stack) get(t *testing.T, ctx context.Context, u string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

func listTools(t *testing.T, ctx context.Context, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
	}
	return names
}

func eventually(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last: %s", what, within, last)
		}
		time.Sleep(time.Second)
	}
}

func freePort() (string, error) {
	p, err := localstack.FreePort()
	return strconv.Itoa(p), err
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return b
}

func tail(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func jsonField(body, field string) string {
	var m map[string]any
	if json.Unmarshal([]byte(body), &m) != nil {
		return ""
	}
	v, _ := m[field].(string)
	return v
}
