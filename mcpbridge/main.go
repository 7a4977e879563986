// Command mcpbridge serves one stdio MCP server as a Streamable HTTP endpoint at /mcp,
// one child process per session:
//
//	mcpbridge [flags] -- <command> [args...]
//	mcpbridge healthcheck [--url http://127.0.0.1:3000/mcp]
//
// See docs/bridge.md for the flags and their environment variables.
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
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/mcp-oauth-gateway/gateway/internal/contract"
	"github.com/mcp-oauth-gateway/gateway/internal/telemetry"
	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/config"
	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/health"
	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/identity"
	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/metrics"
	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/replica"
	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/session"
	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/streamable"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "mcpbridge:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "healthcheck" {
		return healthcheck(ctx, args[1:], getenv, stdout)
	}
	cfg, err := config.Parse(args, getenv, stdout)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stdout)
	if cfg.GoMaxProcs > 0 {
		// Set here, not through the GOMAXPROCS variable, which the children (a Go
		// server among them) would inherit.
		runtime.GOMAXPROCS(cfg.GoMaxProcs)
	}
	env := childEnv(os.Environ())
	peers, err := newPeers(cfg, log)
	if err != nil {
		return err
	}
	regOpts := session.Options{
		Command: cfg.Command, Env: env, MaxSessions: cfg.MaxSessions, MaxPerUser: cfg.MaxPerUser,
		IdleTimeout: cfg.IdleTimeout, RequestTimeout: cfg.RequestTimeout,
		MaxMessage: max(cfg.MaxMessageBytes, minChildMessage), Logger: log,
		PoolSize: cfg.PoolSize, PoolIdle: cfg.PoolIdle, Spares: cfg.Spares,
		ModernVersions: cfg.ModernVersions, LegacyVersion: cfg.ProtocolVersions[0],
	}
	var replicas streamable.Replicas
	if peers != nil {
		regOpts.NewID, regOpts.StateKey, replicas = peers.NewID, peers.StateKey(), peers
		switch {
		case cfg.PeersName != "":
			go peers.Discover(ctx, cfg.PeersName, 5*time.Second)
		case len(cfg.PeerURLs) > 0:
			peers.SetPeers(cfg.PeerURLs)
		}
	}
	reg, err := session.NewRegistry(regOpts)
	if err != nil {
		return err
	}
	mcp, err := streamable.New(reg, streamable.Options{
		AllowedOrigins: cfg.AllowedOrigins, ProtocolVersions: cfg.ProtocolVersions,
		ModernVersions: cfg.ModernVersions, MaxMessage: int64(cfg.MaxMessageBytes), Policy: cfg.ToolPolicy,
		Replicas: replicas, Logger: log,
	})
	if err != nil {
		return err
	}
	probe, err := health.NewProbe(health.ProbeOptions{
		Command: cfg.Command, Env: env, Versions: cfg.ProtocolVersions,
		CacheFor: cfg.ReadyCache, Logger: log,
	})
	if err != nil {
		return err
	}
	var endpoint http.Handler = mcp
	if cfg.IdentitySecret != nil {
		endpoint = identity.Require(cfg.IdentitySecret, mcp, log, nil)
	} else if host, _, _ := net.SplitHostPort(cfg.Listen); !contract.IsLoopbackHost(host) {
		log.Warn("identity headers are trusted unsigned on a non-loopback address: anyone who reaches "+cfg.Listen+
			" can name any user; set MCPBRIDGE_IDENTITY_SECRET (the mcpauth plugin's identitySecret)", "listen", cfg.Listen)
	}
	endpoint, stopTracing, err := telemetry.Wrap(ctx, "mcpbridge", getenv, endpoint, log)
	if err != nil {
		return err
	}
	defer stopTracing()
	mux := http.NewServeMux()
	mux.Handle("/mcp", endpoint)
	mux.Handle("GET /health", health.LiveHandler())
	mux.Handle("GET /ready", health.ReadyHandler(probe))

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if cfg.MetricsListen != "" {
		stopMetrics, err := telemetry.ServeMetrics(cfg.MetricsListen, metrics.Handler(metrics.Registry(reg.Counts)), log)
		if err != nil {
			ln.Close()
			return fmt.Errorf("metrics listen: %w", err)
		}
		defer stopMetrics()
	}
	// No read or write timeout: GET streams and long tool calls stay open for minutes.
	// Headers must arrive promptly and idle keep-alive connections are closed.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	reapCtx, stopReaper := context.WithCancel(context.Background())
	defer stopReaper()
	go reg.Reap(reapCtx, reapInterval(min(cfg.IdleTimeout, cfg.PoolIdle)))
	go reg.Refill()

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("mcpbridge listening", "addr", ln.Addr().String(), "command", cfg.Command[0])

	select {
	case err := <-serveErr:
		reg.CloseAll(context.Background())
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	if cfg.ShutdownDelay > 0 {
		// Replicas behind a load balancer: it learns of the stop after a moment (a
		// provider refresh, a failed readiness probe). Until then requests still come,
		// and they are served rather than refused.
		probe.Drain()
		log.Info("draining: still serving before shutting down, so that the load balancer stops sending requests first",
			"delay", cfg.ShutdownDelay)
		select {
		case <-time.After(cfg.ShutdownDelay):
		case err := <-serveErr:
			reg.CloseAll(context.Background())
			return fmt.Errorf("serve: %w", err)
		}
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	// Stop accepting first, then end the sessions: their streams close, which lets the
	// in-flight requests finish, and every child process is gone before we return.
	shutdownDone := make(chan error, 1)
	go func() { shutdownDone <- srv.Shutdown(shutCtx) }()
	reg.CloseAll(shutCtx)
	if err := <-shutdownDone; err != nil {
		_ = srv.Close()
	}
	log.Info("stopped")
	return nil
}

// newPeers returns the replica forwarding of cfg, or nil for a single bridge.
func newPeers(cfg *config.Config, log *slog.Logger) (*replica.Peers, error) {
	if cfg.ReplicaURL == "" {
		return nil, nil
	}
	u := cfg.ReplicaURL
	if u == "auto" {
		var err error
		if u, err = replica.AutoURL(cfg.Listen); err != nil {
			return nil, err
		}
	}
	p, err := replica.New(u, cfg.IdentitySecret, log)
	if err != nil {
		return nil, err
	}
	log.Info("serving as one replica of several: requests for another replica's session are forwarded to it", "replica_url", p.Self())
	return p, nil
}

// minChildMessage is the smallest limit on one message from a child: servers answer
// with whole files and images, far larger than what clients send.
const minChildMessage = 64 << 20

func reapInterval(idle time.Duration) time.Duration {
	if idle <= 0 {
		return time.Hour
	}
	return min(max(idle/4, 100*time.Millisecond), time.Minute)
}

func newLogger(cfg *config.Config, out io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(out, opts))
	}
	return slog.New(slog.NewTextHandler(out, opts))
}

func healthcheck(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("mcpbridge healthcheck", flag.ContinueOnError)
	fs.SetOutput(stdout)
	url := fs.String("url", config.HealthcheckURL(getenv), "the bridge's /mcp endpoint")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// The check speaks the 2025 handshake, with the first 2025-era version configured.
	cfgArgs := []string{"--allow-unsigned-identity", "true", "--", "x"}
	if v := getenv("MCPBRIDGE_PROTOCOL_VERSIONS"); v != "" {
		cfgArgs = append([]string{"--protocol-versions", v}, cfgArgs...)
	}
	c, err := config.Parse(cfgArgs, func(string) string { return "" }, io.Discard)
	if err != nil {
		return err
	}
	versions := c.ProtocolVersions
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	client := http.DefaultClient
	key := getenv("MCPBRIDGE_IDENTITY_SECRET")
	if file := getenv("MCPBRIDGE_IDENTITY_SECRET_FILE"); key == "" && file != "" {
		if key, err = contract.ReadSecretFile(file); err != nil {
			return fmt.Errorf("identity secret file: %w", err)
		}
	}
	if key != "" {
		// The bridge checks the edge's signature: sign the check's (empty) identity.
		client = &http.Client{Transport: signing{key: []byte(key), next: http.DefaultTransport}}
	}
	if err := health.CheckBridge(ctx, client, *url, versions); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "healthy:", *url)
	return nil
}

// signing is a transport that signs each request's identity headers as the edge would.
type signing struct {
	key  []byte
	next http.RoundTripper
}

func (s signing) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	identity.Sign(s.key, r, time.Now())
	return s.next.RoundTrip(r)
}

// childEnv is the bridge's environment without the identity secret or the name of its
// file: a wrapped server (and any tool of it that prints its environment) never sees
// them.
func childEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "MCPBRIDGE_IDENTITY_SECRET=") && !strings.HasPrefix(kv, "MCPBRIDGE_IDENTITY_SECRET_FILE=") {
			out = append(out, kv)
		}
	}
	return out
}
