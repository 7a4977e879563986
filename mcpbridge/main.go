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
	"syscall"
	"time"

	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/config"
	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/health"
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
	env := os.Environ()
	reg, err := session.NewRegistry(session.Options{
		Command: cfg.Command, Env: env, MaxSessions: cfg.MaxSessions, MaxPerUser: cfg.MaxPerUser,
		IdleTimeout: cfg.IdleTimeout, RequestTimeout: cfg.RequestTimeout,
		MaxMessage: max(cfg.MaxMessageBytes, minChildMessage), Logger: log,
		PoolSize: cfg.PoolSize, PoolIdle: cfg.PoolIdle, Spares: cfg.Spares,
		ModernVersions: cfg.ModernVersions, LegacyVersion: cfg.ProtocolVersions[0],
	})
	if err != nil {
		return err
	}
	mcp, err := streamable.New(reg, streamable.Options{
		AllowedOrigins: cfg.AllowedOrigins, ProtocolVersions: cfg.ProtocolVersions,
		ModernVersions: cfg.ModernVersions, MaxMessage: int64(cfg.MaxMessageBytes), Policy: cfg.ToolPolicy,
		Logger: log,
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
	mux := http.NewServeMux()
	mux.Handle("/mcp", mcp)
	mux.Handle("GET /health", health.LiveHandler())
	mux.Handle("GET /ready", health.ReadyHandler(probe))

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
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
	cfgArgs := []string{"--", "x"}
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
	if err := health.CheckBridge(ctx, http.DefaultClient, *url, versions); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "healthy:", *url)
	return nil
}
