// Package e2e drives the whole gateway end to end, hermetically, on loopback: a real
// redis-server, authsvc, mcpbridge wrapping the official npm MCP servers, and a real
// Traefik v3.6.12 running the mcpauth plugin with the same routes as the compose
// labels (tests/e2e/routes proves that). The only stand-in is the GitHub one
// (internal/githubstub). The stack is started by internal/localstack, exactly as
// `just run` starts it.
//
// Run with `just test-e2e`, which installs and builds what is missing and sets
// TRAEFIK_BIN and MCPGW_NPM_SERVERS.
package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/internal/githubstub"
	"github.com/mcp-oauth-gateway/gateway/internal/localstack"
	"github.com/mcp-oauth-gateway/gateway/tests/internal/mcpservers"
)

// The GitHub accounts of the stand-in. alice, bob and carol are allowed; mallory is
// not. carol is only for the test that revokes every token of a user.
var (
	alice   = githubstub.User{ID: 1001, Login: "alice", Name: "Alice Example"}
	bob     = githubstub.User{ID: 1002, Login: "bob", Name: "Bob Example"}
	carol   = githubstub.User{ID: 1003, Login: "carol", Name: "Carol Example"}
	mallory = githubstub.User{ID: 1666, Login: "mallory", Name: "Mallory"}
)

// conformanceServer is the e2e stack's extra MCP server: the Go SDK conformance fixture.
const conformanceServer = "conformance"

// retryWindow is the stack's TOKEN_RETRY_WINDOW: a spent refresh token presented again
// within it gets the same answer; after it, it is a replay.
const retryWindow = 2 * time.Second

// revocationWait bounds how long a revoked token may keep working at the edge: the
// plugin's default revocation interval (5s) plus generous slack for a busy machine.
const revocationWait = 20 * time.Second

var (
	stack  *localstack.Stack
	github *githubstub.Server
	repo   string
	// clientBin is the mcp-client binary (`just mcp-client-token`).
	clientBin string
	// stackLogDir holds one log per process of the stack, and Traefik's access log.
	stackLogDir string
	// runBin is the mcpgw-run binary (`just run`).
	runBin string
	// authsvcBin is the authsvc binary the stack runs (its admin commands too).
	authsvcBin string
	// traces receives the stack's spans (TestTracing).
	traces *otlpReceiver
)

func TestMain(m *testing.M) {
	// Invoked as `xdg-open URL` by mcp-client (TestMCPClientTokenCLI): be the browser.
	if filepath.Base(os.Args[0]) == "xdg-open" {
		os.Exit(actAsBrowser(os.Args[1:]))
	}
	code, err := runMain(m)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func runMain(m *testing.M) (int, error) {
	var err error
	repo, err = filepath.Abs("../..")
	if err != nil {
		return 0, err
	}
	traefik, err := requireTraefik()
	if err != nil {
		return 0, err
	}
	os.Setenv("TRAEFIK_BIN", traefik) // for tests/internal/traefiktest
	npmDir, err := requireNPMServers()
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	work, err := os.MkdirTemp("", "mcpgw-e2e-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(work)
	bins, err := localstack.Build(ctx, repo, filepath.Join(work, "bin"))
	if err != nil {
		return 0, err
	}
	bins.Traefik = traefik
	authsvcBin = bins.Authsvc
	clientBin = filepath.Join(work, "bin", "mcp-client")
	runBin = filepath.Join(work, "bin", "mcpgw-run")
	for bin, pkg := range map[string]string{clientBin: "./cmd/mcp-client", runBin: "./cmd/mcpgw-run"} {
		build := exec.CommandContext(ctx, "go", localstack.BuildArgs("-o", bin, pkg)...)
		build.Dir = repo
		if out, err := build.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("build %s: %w\n%s", pkg, err, out)
		}
	}
	if b := os.Getenv("E2E_BRIDGE_BIN"); b != "" {
		bins.Bridge = b // to try another build of the bridge
	}
	servers, err := localstack.NPMServers(npmDir, filepath.Join(work, "data"), localstack.DefaultServerNames)
	if err != nil {
		return 0, err
	}
	// The Go SDK's conformance fixture (a 2026-07-28 server on stdio), for the
	// conformance suite through the whole gateway.
	goEverything, err := mcpservers.BuildGoEverything()
	if err != nil {
		return 0, err
	}
	servers = append(servers, localstack.MCPServer{Name: conformanceServer, Command: []string{goEverything}})

	github = githubstub.New(&githubstub.Options{Users: []githubstub.User{alice, bob, carol, mallory}})
	defer github.Close()

	logDir := os.Getenv("E2E_LOG_DIR")
	if logDir == "" {
		logDir = filepath.Join(repo, "logs", "e2e")
	}
	stackLogDir = logDir
	_ = os.RemoveAll(logDir)
	// A local OTLP collector: Traefik, authsvc and the bridges send it their spans.
	traces, err = startOTLPReceiver()
	if err != nil {
		return 0, err
	}
	defer traces.close()
	cfg := localstack.Config{
		TracesEndpoint: traces.URL,
		RepoDir:        repo,
		StateDir:       filepath.Join(work, "state"),
		LogDir:         logDir,
		Servers:        servers,
		Bin:            bins,
		GitHub: localstack.GitHub{
			URL: github.URL, APIURL: github.URL,
			ClientID: github.ClientID(), ClientSecret: github.ClientSecret(),
		},
		AllowedUsers: "alice,bob,carol",
		ReadyTimeout: 3 * time.Minute,
		// A short retry window, so that the replay tests can step past it.
		AuthEnv: []string{"TOKEN_RETRY_WINDOW=" + strconv.Itoa(int(retryWindow/time.Second))},
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	// Free ports are picked before they are bound; on a machine where other test
	// binaries grab ports too, one may be taken in between. One more try, on fresh
	// ports, tells that apart from a real failure.
	for attempt := 1; ; attempt++ {
		stack, err = localstack.Start(ctx, cfg)
		if err == nil {
			break
		}
		if attempt == 2 {
			return 0, fmt.Errorf("start the local gateway: %w (logs in %s)", err, logDir)
		}
		fmt.Fprintf(os.Stderr, "e2e: starting the gateway failed, retrying once on other ports: %v\n", err)
	}
	defer stack.Stop()
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "e2e: logs of every process are in %s\n", logDir)
	}
	return code, nil
}

// requireTraefik finds the Traefik binary the recipes build; a missing one fails the
// run with the recipe that provides it.
func requireTraefik() (string, error) {
	bin := os.Getenv("TRAEFIK_BIN")
	if bin == "" {
		bin = filepath.Join(cacheDir(), "traefik-v3.6.12", "traefik")
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("Traefik binary %s missing: run `just test-e2e` (it builds Traefik with scripts/build-traefik.sh) or set TRAEFIK_BIN: %w", bin, err)
	}
	return bin, nil
}

// requireNPMServers finds the official MCP servers `just deps-mcp-servers`
// (scripts/install-mcp-npm.sh servers) installs.
func requireNPMServers() (string, error) {
	dir := os.Getenv("MCPGW_NPM_SERVERS")
	if dir == "" {
		dir = filepath.Join(cacheDir(), "npm", "servers")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".bin", "mcp-server-everything")); err != nil {
		return "", fmt.Errorf("official npm MCP servers missing in %s: run `just test-e2e` (it runs scripts/install-mcp-npm.sh servers) or set MCPGW_NPM_SERVERS: %w", dir, err)
	}
	return dir, nil
}

// cacheDir is where the scripts cache Traefik and the npm servers ($MCPGW_CACHE).
func cacheDir() string {
	if c := os.Getenv("MCPGW_CACHE"); c != "" {
		return c
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "mcp-oauth-gateway")
}
