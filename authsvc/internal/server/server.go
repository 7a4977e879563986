// Package server builds authsvc's HTTP router: every route in one table, the
// middleware around them, and the listener with graceful shutdown.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/config"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/httpx"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/keys"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/metadata"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/oauth"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/register"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/store"
	"github.com/mcp-oauth-gateway/gateway/internal/contract"
)

// Deps are the built dependencies every handler may use.
type Deps struct {
	Config *config.Config
	Store  *store.Store
	Keys   *keys.Manager
	Logger *slog.Logger
	// Now is the clock handed to handlers; default time.Now. Tests inject one.
	Now func() time.Time
	// CIMDTransport is the base transport for client metadata documents (tests
	// trust their TLS document server through it); nil: the default.
	CIMDTransport *http.Transport
}

// Route is one entry of the routing table.
type Route struct {
	Method  string // GET, POST, …
	Path    string // gorilla/mux path template, e.g. /register/{client_id}
	Handler http.Handler
	// CORS allows cross-origin calls without credentials (and answers preflights).
	CORS bool
}

// New builds the router with every route and the middleware chain.
func New(d Deps) (http.Handler, error) {
	if d.Config == nil || d.Store == nil || d.Keys == nil {
		return nil, errors.New("server: Config, Store and Keys are required")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	cfg := d.Config

	// The OAuth flow plugs in here; see flow.go.
	flow, err := buildFlow(d)
	if err != nil {
		return nil, fmt.Errorf("server: flow: %w", err)
	}

	reg, err := register.New(d.Store, register.Options{
		Issuer:         cfg.IssuerURL,
		ClientLifetime: cfg.ClientLifetime,
		RateLimit:      cfg.RegistrationRateLimit,
		TrustedProxies: cfg.TrustedProxies,
		MaxBodyBytes:   cfg.MaxBodyBytes,
		OnDelete:       flow.OnClientDelete,
		Now:            d.Now,
		Logger:         d.Logger,
	})
	if err != nil {
		return nil, err
	}
	meta := metadata.NewHandler(cfg.IssuerURL)
	jwks := metadata.NewJWKSHandler(d.Keys, d.Logger)

	routes := []Route{
		{Method: http.MethodGet, Path: contract.PathHealth, Handler: health(d.Store)},
		{Method: http.MethodGet, Path: contract.PathHealthLive, Handler: live},
		{Method: http.MethodGet, Path: contract.PathMetadata, Handler: meta, CORS: true},
		{Method: http.MethodGet, Path: contract.PathOpenIDConfig, Handler: meta, CORS: true},
		{Method: http.MethodGet, Path: contract.PathJWKS, Handler: jwks, CORS: true},
		{Method: http.MethodPost, Path: contract.PathRegister, Handler: http.HandlerFunc(reg.Create), CORS: true},
		{Method: http.MethodGet, Path: contract.PathRegister + "/{client_id}", Handler: http.HandlerFunc(reg.Read), CORS: true},
		{Method: http.MethodPut, Path: contract.PathRegister + "/{client_id}", Handler: http.HandlerFunc(reg.Update), CORS: true},
		{Method: http.MethodDelete, Path: contract.PathRegister + "/{client_id}", Handler: http.HandlerFunc(reg.Delete), CORS: true},
	}
	routes = append(routes, flow.Routes...)

	r := mux.NewRouter()
	for _, rt := range routes {
		h := httpx.Route(rt.Path, rt.Handler)
		methods := []string{rt.Method}
		if rt.CORS {
			h = httpx.CORS(h)
			methods = append(methods, http.MethodOptions)
		}
		if rt.Method == http.MethodGet {
			methods = append(methods, http.MethodHead)
		}
		r.Handle(rt.Path, h).Methods(methods...)
	}
	r.NotFoundHandler = errorHandler(d.Logger, auth.ErrEndpointNotFound.WithDescription("no such endpoint"))
	r.MethodNotAllowedHandler = errorHandler(d.Logger, auth.ErrMethodNotAllowed)

	return httpx.Chain(r,
		httpx.Logging(d.Logger),
		httpx.Recover(d.Logger),
		httpx.SecurityHeaders,
		httpx.LimitBody(cfg.MaxBodyBytes),
	), nil
}

func errorHandler(log *slog.Logger, e *auth.Error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		oauth.WriteError(w, r, log, e)
	})
}

// Pinger is what /health needs.
type Pinger interface {
	Ping(ctx context.Context) error
}

// health answers 200 only when Redis answers PING within two seconds.
func health(p Pinger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := p.Ping(ctx); err != nil {
			oauth.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "redis": "down"})
			return
		}
		oauth.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "redis": "ok"})
	})
}

// live answers 200 whenever the process serves HTTP, Redis or not: while Redis is down
// authsvc still serves its metadata and the last known JWKS, and answers the rest with
// 503 temporarily_unavailable, so a container healthcheck (which takes an unhealthy
// container off Traefik's routes) must not depend on Redis. /health says whether it does.
var live = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	oauth.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
})

// Serve runs h on ln until ctx ends, then shuts down gracefully, giving in-flight
// requests up to ten seconds.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	<-errc // Serve returns ErrServerClosed once Shutdown starts
	return err
}
