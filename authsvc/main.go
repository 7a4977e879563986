// Command authsvc is the OAuth 2.1 authorization server of mcp-oauth-gateway.
//
//	authsvc [serve]        run the HTTP server (the default)
//	authsvc generate-keys  print a new PEM private key for JWT_PRIVATE_KEY
//	authsvc rotate-keys    make a new signing key current; the old one stays published
//	authsvc healthcheck    exit 0 when the local server answers /health/live (containers)
//	authsvc help           list the commands
//
// Configuration comes from the environment (see docs/authsvc.md). main stays thin:
// every behaviour lives in internal packages; run is what tests call.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/config"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/httpapi"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/keys"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/metrics"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/store"
	"github.com/mcp-oauth-gateway/gateway/internal/contract"
	"github.com/mcp-oauth-gateway/gateway/internal/telemetry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "authsvc:", err)
		os.Exit(1)
	}
}

// env is what a command gets: its arguments, the environment, and (depending on
// command.needs) the loaded configuration, store and key manager.
type env struct {
	args   []string
	getenv func(string) string
	stdout io.Writer
	cfg    *config.Config
	store  *store.Store
	keys   *keys.Manager
	log    *slog.Logger
}

// Needs says what a command needs built before it runs.
type needs int

const (
	needNothing needs = iota // pure commands (generate-keys)
	needAdmin                // config (no GitHub), Redis, keys
	needServe                // everything
)

// command is one subcommand. To add one, append to commands (core, below) or to
// adminCommands (admin.go).
type command struct {
	name  string
	usage string
	needs needs
	run   func(ctx context.Context, e *env) error
}

// coreCommands are the server and key commands. Admin commands live in admin.go.
var coreCommands = []command{
	{"serve", "run the HTTP server (default)", needServe, cmdServe},
	{"generate-keys", "print a new PEM private key for JWT_PRIVATE_KEY (-alg RS256|ES256)", needNothing, cmdGenerateKeys},
	{"rotate-keys", "make a new signing key current; the previous one stays in the JWKS until its tokens expired", needAdmin, cmdRotateKeys},
	{"healthcheck", "exit 0 when the server on LISTEN_ADDR answers " + contract.PathHealthLive + " (-ready: " + contract.PathHealth + ", which needs Redis)", needNothing, cmdHealthcheck},
}

func commands() []command {
	return append(append([]command{}, coreCommands...), adminCommands...)
}

// run is main without the process: tests call it with their own args, environment
// and output, and cancel ctx to stop the server.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	name := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if name == "help" || name == "-h" || name == "--help" {
		return usage(stdout)
	}
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		e := &env{args: args, getenv: getenv, stdout: stdout}
		if c.needs != needNothing {
			mode := config.Admin
			if c.needs == needServe {
				mode = config.Serve
			}
			cleanup, err := e.build(mode)
			if err != nil {
				return err
			}
			defer cleanup()
		}
		return c.run(ctx, e)
	}
	_ = usage(stdout)
	return fmt.Errorf("unknown command %q", name)
}

func usage(w io.Writer) error {
	cmds := commands()
	sort.SliceStable(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	fmt.Fprintln(w, "usage: authsvc [command] [flags]\n\ncommands:")
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.usage)
	}
	return nil
}

// build loads the configuration and opens Redis and the key manager.
func (e *env) build(mode config.Mode) (func(), error) {
	cfg, err := config.Load(e.getenv, mode, keys.CheckPEM)
	if err != nil {
		return nil, err
	}
	e.cfg = cfg
	e.log = newLogger(cfg, e.stdout)
	st, err := store.Connect(store.Conn{
		URL: cfg.RedisURL, Password: cfg.RedisPassword,
		Sentinels: cfg.RedisSentinels, MasterName: cfg.RedisMasterName, SentinelPassword: cfg.RedisSentinelPassword,
	}, &store.Options{WaitReplicas: cfg.RedisWaitReplicas, WaitTimeout: cfg.RedisWaitTimeout, Logger: e.log})
	if err != nil {
		return nil, err
	}
	e.store = st
	var backend keys.Backend
	switch {
	case cfg.JWTAlgorithm == config.HS256:
	case cfg.JWTKeyDir != "":
		if backend, err = keys.NewDirBackend(cfg.JWTKeyDir); err != nil {
			st.Close()
			return nil, err
		}
	default:
		backend = keys.NewRedisBackend(st.Redis())
	}
	e.keys, err = keys.New(backend, keys.Options{
		Algorithm:           cfg.JWTAlgorithm,
		Secret:              cfg.GatewayJWTSecret,
		PrivateKeyPEM:       cfg.JWTPrivateKeyPEM,
		AccessTokenLifetime: cfg.AccessTokenLifetime,
		Logger:              e.log,
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	return func() { st.Close() }, nil
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func cmdServe(ctx context.Context, e *env) error {
	if len(e.args) > 0 {
		return fmt.Errorf("serve takes no arguments, got %q", e.args)
	}
	if err := e.keys.Ensure(ctx); err != nil {
		// Redis may still be starting: serve anyway; /health and the JWKS say 503
		// until it answers, and the key set is created on first use.
		e.log.Warn("signing keys not loaded yet", "error", err)
	}
	h, err := httpapi.New(httpapi.Deps{Config: e.cfg, Store: e.store, Keys: e.keys, Logger: e.log})
	if err != nil {
		return err
	}
	h, stopTracing, err := telemetry.Wrap(ctx, "authsvc", e.getenv, h, e.log)
	if err != nil {
		return err
	}
	defer stopTracing()
	ln, err := net.Listen("tcp", e.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("LISTEN_ADDR: %w", err)
	}
	if e.cfg.MetricsListenAddr != "" {
		stopMetrics, err := telemetry.ServeMetrics(e.cfg.MetricsListenAddr, metrics.Handler(), e.log)
		if err != nil {
			ln.Close()
			return fmt.Errorf("METRICS_LISTEN_ADDR: %w", err)
		}
		defer stopMetrics()
	}
	e.log.Info("authsvc listening", "addr", ln.Addr().String(), "issuer", e.cfg.IssuerURL, "alg", e.cfg.JWTAlgorithm)
	err = httpapi.Serve(ctx, ln, h, e.log)
	e.log.Info("authsvc stopped")
	return err
}

func cmdGenerateKeys(ctx context.Context, e *env) error {
	fs := flag.NewFlagSet("generate-keys", flag.ContinueOnError)
	fs.SetOutput(e.stdout)
	def := strings.ToUpper(e.getenv("JWT_ALGORITHM"))
	if def == "" || def == keys.HS256 {
		def = keys.RS256
	}
	alg := fs.String("alg", def, "key algorithm: RS256 or ES256")
	if err := fs.Parse(e.args); err != nil {
		return err
	}
	p, err := keys.GeneratePEM(strings.ToUpper(*alg))
	if err != nil {
		return err
	}
	_, err = io.WriteString(e.stdout, p)
	return err
}

func cmdRotateKeys(ctx context.Context, e *env) error {
	k, err := e.keys.Rotate(ctx)
	if errors.Is(err, keys.ErrStaticKey) {
		return err
	}
	if err != nil {
		return fmt.Errorf("rotate-keys: %w", err)
	}
	fmt.Fprintf(e.stdout, "new signing key: kid=%s alg=%s\nprevious keys stay published for ACCESS_TOKEN_LIFETIME (%s) + %s\n",
		k.ID, k.Alg, e.cfg.AccessTokenLifetime, keys.Skew)
	return nil
}

// cmdHealthcheck is the container healthcheck: the image has no shell or wget. It asks
// the server on LISTEN_ADDR (on loopback when the address has no host) for its
// liveness, or with -ready for its readiness (Redis answers).
func cmdHealthcheck(ctx context.Context, e *env) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(e.stdout)
	ready := fs.Bool("ready", false, "check readiness ("+contract.PathHealth+": Redis answers) instead of liveness")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if err := fs.Parse(e.args); err != nil {
		return err
	}
	addr := e.getenv("LISTEN_ADDR")
	if addr == "" {
		addr = ":8000"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("healthcheck: LISTEN_ADDR %q: %w", addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	path := contract.PathHealthLive
	if *ready {
		path = contract.PathHealth
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	u := "http://" + net.JoinHostPort(host, port) + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s: %s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(e.stdout, "%s %s", u, body)
	return nil
}
