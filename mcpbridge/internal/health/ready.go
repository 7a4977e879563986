// Package health checks that the wrapped MCP server really works: a readiness probe that
// performs an initialize handshake with a fresh child process, and the client side of
// `mcpbridge healthcheck`, which performs one through a running bridge over HTTP.
package health

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/child"
	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/jsonrpc"
)

// ErrHandshake is wrapped by every handshake failure.
var ErrHandshake = errors.New("initialize handshake failed")

// ProbeOptions configure a [Probe]. Command and Versions are required.
type ProbeOptions struct {
	Command  []string
	Env      []string
	Versions []string      // accepted protocol versions, the first is offered
	Timeout  time.Duration // for one handshake; default 15s
	CacheFor time.Duration // how long a result is reused; default 10s
	Logger   *slog.Logger
}

// Probe answers readiness by spawning the server and initializing it. Results are cached
// briefly, so a probe every few seconds costs one process start per CacheFor.
type Probe struct {
	opts     ProbeOptions
	draining atomic.Bool

	mu      sync.Mutex
	checked time.Time
	last    error
}

// NewProbe validates opts.
func NewProbe(opts ProbeOptions) (*Probe, error) {
	if len(opts.Command) == 0 || len(opts.Versions) == 0 {
		return nil, errors.New("health: command and protocol versions are required")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 15 * time.Second
	}
	if opts.CacheFor <= 0 {
		opts.CacheFor = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Probe{opts: opts}, nil
}

// Check returns the cached or a fresh handshake result. Concurrent callers share one
// handshake.
func (p *Probe) Check(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.checked.IsZero() && time.Since(p.checked) < p.opts.CacheFor {
		return p.last
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	p.last = p.handshake(ctx)
	p.checked = time.Now()
	if p.last != nil {
		p.opts.Logger.Warn("readiness handshake failed", "error", p.last)
	}
	return p.last
}

func (p *Probe) handshake(ctx context.Context) error {
	got := make(chan *jsonrpc.Message, 1)
	exited := make(chan error, 1)
	proc, err := child.Start(child.Options{
		Command: p.opts.Command,
		Env:     p.opts.Env,
		Logger:  p.opts.Logger.With("probe", "ready"),
		OnMessage: func(line []byte) {
			// line is the reader's buffer: parse a copy that outlives the callback.
			if m, err := jsonrpc.Parse(bytes.Clone(line)); err == nil && m.Kind == jsonrpc.KindResponse && string(m.ID) == "1" {
				select {
				case got <- m:
				default:
				}
			}
		},
		OnExit: func(err error) { exited <- err },
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	defer proc.Stop(context.Background())
	if err := proc.Send(InitializeRequest(p.opts.Versions[0], 1)); err != nil {
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	select {
	case m := <-got:
		return checkResult(m, p.opts.Versions)
	case err := <-exited:
		return fmt.Errorf("%w: the server exited before answering (%v)", ErrHandshake, err)
	case <-ctx.Done():
		return fmt.Errorf("%w: no answer: %w", ErrHandshake, ctx.Err())
	}
}

func checkResult(m *jsonrpc.Message, versions []string) error {
	if m.IsError() {
		return fmt.Errorf("%w: the server answered with an error: %s", ErrHandshake, m.Raw)
	}
	if v := m.ResultProtocolVersion(); !slices.Contains(versions, v) {
		return fmt.Errorf("%w: the server chose protocol version %q, not one of %v", ErrHandshake, v, versions)
	}
	return nil
}

// InitializeRequest encodes the initialize request the health checks send.
func InitializeRequest(version string, id int) []byte {
	out, _ := json.Marshal(map[string]any{
		"jsonrpc": "2.0", "id": id, "method": "initialize",
		"params": map[string]any{
			"protocolVersion": version,
			"capabilities":    map[string]any{},
			"clientInfo":      map[string]any{"name": "mcpbridge-health", "version": "1"},
		},
	})
	return out
}

// ReadyHandler answers 200 when the probe passes and 503 with the reason otherwise.
func ReadyHandler(p *Probe) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if p.draining.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready: shutting down")
			return
		}
		if err := p.Check(r.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
		fmt.Fprintln(w, "ready")
	})
}

// Drain makes readiness fail from now on (the bridge is shutting down and serves only
// until its load balancer has stopped sending it requests).
func (p *Probe) Drain() { p.draining.Store(true) }

// LiveHandler answers 200 while the process serves HTTP.
func LiveHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
}
