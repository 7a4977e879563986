// server.go builds every handler and the router: every route in one table, the
// middleware around them, and the listener with graceful shutdown.

package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/gorilla/mux"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/cimd"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/config"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/github"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/keys"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/metrics"
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
	Methods []string // GET, POST, …
	Path    string   // gorilla/mux path template, e.g. /register/{client_id}
	Handler http.Handler
	// CORS allows cross-origin calls without credentials (and answers preflights).
	CORS bool
}

// New builds every handler and the router with every route and the middleware chain.
// It does not touch Redis, so authsvc can start before Redis.
func New(d Deps) (http.Handler, error) {
	if d.Config == nil || d.Store == nil || d.Keys == nil {
		return nil, errors.New("httpapi: Config, Store and Keys are required")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	e, err := newEndpoints(d)
	if err != nil {
		return nil, err
	}
	r := mux.NewRouter()
	for _, rt := range e.routes() {
		h := namedRoute(rt.Path, rt.Handler)
		methods := rt.Methods
		if rt.CORS {
			h = CORS(h)
			methods = append(methods, http.MethodOptions)
		}
		if slices.Contains(methods, http.MethodGet) {
			methods = append(methods, http.MethodHead)
		}
		r.Handle(rt.Path, h).Methods(methods...)
	}
	r.NotFoundHandler = errorHandler(d.Logger, auth.ErrEndpointNotFound.WithDescription("no such endpoint"))
	r.MethodNotAllowedHandler = errorHandler(d.Logger, auth.ErrMethodNotAllowed)

	return Chain(r,
		Logging(d.Logger),
		Recover(d.Logger),
		SecurityHeaders,
		LimitBody(d.Config.MaxBodyBytes),
	), nil
}

// endpoints are the handlers the routes serve.
type endpoints struct {
	health, meta, jwks http.Handler
	reg                *registerHandler
	az                 *authorizeHandler
	tk                 *tokenHandler
	vf                 *verifyHandler
}

// newEndpoints builds every handler from the configuration, the store and the keys.
func newEndpoints(d Deps) (*endpoints, error) {
	cfg := d.Config
	secret := cfg.SessionSecret
	if len(secret) == 0 {
		secret = DeriveSessionSecret(cfg.GitHubClientSecret)
	}
	iss, err := url.Parse(cfg.IssuerURL)
	if err != nil {
		return nil, fmt.Errorf("httpapi: issuer: %w", err)
	}
	cookies, err := newCookies(secret, iss.Scheme == "https")
	if err != nil {
		return nil, err
	}
	gh, err := github.New(github.Options{
		ClientID: cfg.GitHubClientID, ClientSecret: cfg.GitHubClientSecret,
		BaseURL: cfg.GitHubURL, APIURL: cfg.GitHubAPIURL,
		RedirectURL: cfg.IssuerURL + contract.PathCallback,
	})
	if err != nil {
		return nil, err
	}
	codec, err := keys.NewCodec(cfg.IssuerURL, d.Keys, d.Now)
	if err != nil {
		return nil, err
	}
	// Client lookups of the flow resolve metadata document URLs (cimd) as well as
	// registered ids.
	cl := clients{Store: d.Store, r: cimd.New(d.Store, cimd.Options{AllowPrivate: cfg.CIMDAllowPrivate,
		Transport: d.CIMDTransport, Now: d.Now, Log: d.Logger})}
	e := &endpoints{health: health(d.Store), meta: NewMetadataHandler(cfg.IssuerURL), jwks: NewJWKSHandler(d.Keys, d.Logger)}
	if e.az, err = newAuthorize(cl, gh, authorizeOptions{
		Issuer: cfg.IssuerURL, AllowedUsers: cfg.AllowedGitHubUsers,
		SessionLifetime: cfg.SessionLifetime, CodeLifetime: cfg.AuthCodeLifetime,
		Cookies: cookies, Now: d.Now, Log: d.Logger,
	}); err != nil {
		return nil, err
	}
	grants, err := auth.NewGrants(d.Store, codec, auth.GrantOptions{
		AccessLifetime: cfg.AccessTokenLifetime, RefreshLifetime: cfg.RefreshTokenLifetime,
		CodeLifetime: cfg.AuthCodeLifetime, DefaultAudience: cfg.DefaultAudience, RetryWindow: cfg.TokenRetryWindow,
		Now: d.Now, Log: d.Logger, OnRefreshReuse: metrics.RefreshReuse.Inc,
		OnRevoke: func(reason string) { metrics.Revocations.WithLabelValues(reason).Inc() },
	})
	if err != nil {
		return nil, err
	}
	if e.tk, err = newToken(cl, grants, codec, d.Now, d.Logger); err != nil {
		return nil, err
	}
	if e.vf, err = newVerify(d.Store, codec, verifyOptions{
		FeedToken: cfg.RevocationFeedToken, AccessLifetime: cfg.AccessTokenLifetime, Now: d.Now, Log: d.Logger,
	}); err != nil {
		return nil, err
	}
	if e.reg, err = newRegister(d.Store, registerOptions{
		Issuer:         cfg.IssuerURL,
		ClientLifetime: cfg.ClientLifetime,
		RateLimit:      cfg.RegistrationRateLimit,
		TrustedProxies: cfg.TrustedProxies,
		MaxBodyBytes:   cfg.MaxBodyBytes,
		Now:            d.Now,
		Logger:         d.Logger,
	}); err != nil {
		return nil, err
	}
	return e, nil
}

// routes is every route authsvc serves. The router adds HEAD to each GET route, and
// OPTIONS (the CORS preflight) to each CORS route. CORS routes are what a browser-based
// client calls cross-origin, without credentials; /authorize, /callback and /consent
// are navigations and /verify and the revocation feed server-to-server, so they send
// no CORS headers.
func (e *endpoints) routes() []Route {
	get, post := http.MethodGet, http.MethodPost
	return []Route{
		{Methods: []string{get}, Path: contract.PathHealth, Handler: e.health},
		{Methods: []string{get}, Path: contract.PathHealthLive, Handler: live},
		{Methods: []string{get}, Path: contract.PathMetadata, Handler: e.meta, CORS: true},
		{Methods: []string{get}, Path: contract.PathOpenIDConfig, Handler: e.meta, CORS: true},
		{Methods: []string{get}, Path: contract.PathJWKS, Handler: e.jwks, CORS: true},
		{Methods: []string{post}, Path: contract.PathRegister, Handler: http.HandlerFunc(e.reg.Create), CORS: true},
		{Methods: []string{get}, Path: contract.PathRegister + "/{client_id}", Handler: http.HandlerFunc(e.reg.Read), CORS: true},
		{Methods: []string{http.MethodPut}, Path: contract.PathRegister + "/{client_id}", Handler: http.HandlerFunc(e.reg.Update), CORS: true},
		{Methods: []string{http.MethodDelete}, Path: contract.PathRegister + "/{client_id}", Handler: http.HandlerFunc(e.reg.Delete), CORS: true},
		{Methods: []string{get}, Path: contract.PathAuthorize, Handler: http.HandlerFunc(e.az.Authorize)},
		{Methods: []string{get}, Path: contract.PathCallback, Handler: http.HandlerFunc(e.az.Callback)},
		{Methods: []string{post}, Path: contract.PathConsent, Handler: http.HandlerFunc(e.az.ConsentDecision)},
		{Methods: []string{post}, Path: contract.PathToken, Handler: http.HandlerFunc(e.tk.Token), CORS: true},
		{Methods: []string{post}, Path: contract.PathRevoke, Handler: http.HandlerFunc(e.tk.Revoke), CORS: true},
		{Methods: []string{post}, Path: contract.PathIntrospect, Handler: http.HandlerFunc(e.tk.Introspect), CORS: true},
		// ForwardAuth sends the method of the request it checks.
		{Methods: []string{get, post, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions}, Path: contract.PathVerify, Handler: http.HandlerFunc(e.vf.Verify)},
		{Methods: []string{get}, Path: contract.PathRevocationFeed, Handler: http.HandlerFunc(e.vf.Feed)},
	}
}

// DeriveSessionSecret is the cookie-signing key when SESSION_SECRET is not set:
// HMAC-SHA256 of a fixed label under the GitHub OAuth App secret. Every replica and
// every restart derives the same key without storing one, and rotating the GitHub
// secret also ends every browser session, which is what an operator would expect.
func DeriveSessionSecret(githubSecret string) []byte {
	m := hmac.New(sha256.New, []byte(githubSecret))
	m.Write([]byte("mcp-oauth-gateway session cookies v1"))
	return m.Sum(nil)
}

// clients is the store with client lookups going through the metadata document
// resolver.
type clients struct {
	*store.Store
	r *cimd.Resolver
}

func (c clients) GetClient(ctx context.Context, id string) (*auth.Client, error) {
	return c.r.GetClient(ctx, id)
}

func errorHandler(log *slog.Logger, e *auth.Error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, log, e)
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
			WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "redis": "down"})
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "redis": "ok"})
	})
}

// live answers 200 whenever the process serves HTTP, Redis or not: while Redis is down
// authsvc still serves its metadata and the last known JWKS, and answers the rest with
// 503 temporarily_unavailable, so a container healthcheck (which takes an unhealthy
// container off Traefik's routes) must not depend on Redis. /health says whether it does.
var live = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
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
