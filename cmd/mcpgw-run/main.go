// Command mcpgw-run runs the whole gateway on this machine without Docker (`just
// run`): redis-server, authsvc, one mcpbridge per MCP server and a real Traefik with
// the mcpauth plugin, on http://localhost:<port>. It installs what is missing,
// prints the URLs, keeps logs in ./logs and stops everything on Ctrl-C.
//
// Without GITHUB_CLIENT_ID/GITHUB_CLIENT_SECRET it starts a local development login
// (the GitHub stand-in) instead of real GitHub, loudly labelled, and only because the
// issuer is a loopback URL.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/mcp-oauth-gateway/gateway/internal/contract"
	"github.com/mcp-oauth-gateway/gateway/internal/githubstub"
	"github.com/mcp-oauth-gateway/gateway/internal/localstack"
	"github.com/mcp-oauth-gateway/gateway/internal/telemetry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mcpgw-run:", err)
		os.Exit(1)
	}
}

// devLogin is the account of the local development login.
var devLogin = githubstub.User{ID: 1000001, Login: "local-dev", Name: "Local Developer (no GitHub)"}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("mcpgw-run", flag.ContinueOnError)
	fs.SetOutput(stdout)
	port := fs.Int("port", envInt(getenv, "RUN_PORT", 8080), "public port of authsvc; MCP servers get the next ports (env RUN_PORT)")
	servers := fs.String("servers", envOr(getenv, "MCP_SERVERS", strings.Join(localstack.DefaultServerNames, ",")), "comma-separated MCP servers to run (env MCP_SERVERS)")
	logDir := fs.String("logs", "logs", "directory for the logs")
	stateDir := fs.String("state", localstack.DefaultStateDir(getenv), "directory for Redis data, built binaries and Traefik's work files")
	repo := fs.String("repo", ".", "repository root")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *port <= 0 || *port > 65535-len(strings.Split(*servers, ",")) {
		return fmt.Errorf("port %d is out of range", *port)
	}
	repoDir, err := filepath.Abs(*repo)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))

	fmt.Fprintln(stdout, "mcp-oauth-gateway: preparing the local gateway")
	prep, err := localstack.Prepare(ctx, repoDir, *stateDir, stdout)
	if err != nil {
		return err
	}
	names := splitList(*servers)
	mcpServers, err := localstack.NPMServers(prep.NPMDir, filepath.Join(*stateDir, "data"), names)
	if err != nil {
		return err
	}
	issuer := fmt.Sprintf("http://localhost:%d", *port)
	gh, allowed, closeGH, err := githubConfig(getenv, issuer, stdout)
	if err != nil {
		return err
	}
	defer closeGH()

	stack, err := localstack.Start(ctx, localstack.Config{
		RepoDir:          repoDir,
		StateDir:         *stateDir,
		LogDir:           *logDir,
		AuthPort:         *port,
		FirstServicePort: *port + 1,
		Servers:          mcpServers,
		Bin:              prep.Bin,
		GitHub:           gh,
		AllowedUsers:     allowed,
		AuthEnv:          passThrough(getenv),
		RedisPersist:     true,
		TracesEndpoint:   telemetry.Endpoint(getenv),
		Logger:           logger,
	})
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stdout, "interrupted while starting; everything started so far is stopped")
			return nil
		}
		return err
	}
	defer stack.Stop()
	printURLs(stdout, stack, *logDir)

	select {
	case <-ctx.Done():
		fmt.Fprintln(stdout, "\nCtrl-C: stopping everything...")
		return nil
	case msg := <-stack.Died():
		return fmt.Errorf("giving up, stopping everything: %s", msg)
	}
}

// githubConfig returns real GitHub (or GHE) when credentials are configured, and
// otherwise starts the local development login on loopback.
func githubConfig(getenv func(string) string, issuer string, out io.Writer) (localstack.GitHub, string, func(), error) {
	id, secret := getenv("GITHUB_CLIENT_ID"), getenv("GITHUB_CLIENT_SECRET")
	if id != "" && secret != "" {
		base := envOr(getenv, "GITHUB_URL", "https://github.com")
		api := envOr(getenv, "GITHUB_API_URL", "https://api.github.com")
		allowed := getenv("ALLOWED_GITHUB_USERS")
		if allowed == "" {
			return localstack.GitHub{}, "", nil, errors.New("ALLOWED_GITHUB_USERS is empty: list the GitHub logins that may sign in (or * for everyone) in .env")
		}
		fmt.Fprintf(out, "GitHub login: %s (OAuth App %s); allowed users: %s\n", base, id, allowed)
		fmt.Fprintf(out, "  the OAuth App's callback URL must be %s/callback\n", issuer)
		return localstack.GitHub{URL: base, APIURL: api, ClientID: id, ClientSecret: secret}, allowed, func() {}, nil
	}
	if id != "" || secret != "" {
		return localstack.GitHub{}, "", nil, errors.New("set both GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET, or neither (local development login)")
	}
	if !contract.IsLoopbackURL(issuer) {
		return localstack.GitHub{}, "", nil, fmt.Errorf("refusing the local development login for the non-loopback issuer %s: configure GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET", issuer)
	}
	stub := githubstub.New(&githubstub.Options{Users: []githubstub.User{devLogin}, LoginPage: true})
	stub.SetRedirectURL(issuer + contract.PathCallback)
	banner := strings.Repeat("!", 78)
	fmt.Fprintf(out, "%s\n!! LOCAL DEVELOPMENT LOGIN: GITHUB_CLIENT_ID/GITHUB_CLIENT_SECRET are not set.\n"+
		"!! Instead of GitHub, a built-in stand-in on %s signs everyone in as\n"+
		"!! %q with one click. Only this machine can reach it (loopback issuer).\n"+
		"!! For real logins put a GitHub OAuth App's id and secret in .env (see docs/run.md).\n%s\n",
		banner, stub.URL, devLogin.Login, banner)
	return localstack.GitHub{URL: stub.URL, APIURL: stub.URL, ClientID: stub.ClientID(), ClientSecret: stub.ClientSecret()},
		devLogin.Login, stub.Close, nil
}

func printURLs(out io.Writer, s *localstack.Stack, logDir string) {
	fmt.Fprintf(out, "\nmcp-oauth-gateway is running (Ctrl-C stops everything)\n\n")
	fmt.Fprintf(out, "  authorization server  %s\n", s.Issuer)
	fmt.Fprintf(out, "    metadata            %s/.well-known/oauth-authorization-server\n", s.Issuer)
	for _, r := range s.Plan.Services {
		fmt.Fprintf(out, "  MCP %-18s %s\n", r.Name, r.MCPURL())
	}
	fmt.Fprintf(out, "\n  logs                  %s/\n", logDir)
	fmt.Fprintf(out, "  connect a client:     just mcp-config   (Claude Code, Claude Desktop, VS Code)\n")
	fmt.Fprintf(out, "  get a token:          just mcp-client-token\n\n")
}

// passThrough forwards authsvc settings from the environment (.env) that the local
// stack does not decide itself.
func passThrough(getenv func(string) string) []string {
	var env []string
	for _, k := range contract.AuthsvcTunables {
		if v := getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func envOr(getenv func(string) string, k, def string) string {
	if v := getenv(k); v != "" {
		return v
	}
	return def
}

func envInt(getenv func(string) string, k string, def int) int {
	if n, err := strconv.Atoi(getenv(k)); err == nil {
		return n
	}
	return def
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
