// Package oauthflow wires the OAuth 2.1 flow — authorize, GitHub login,
// consent, token, refresh, revoke, introspect, verify and the revocation feed — from
// the configuration, the store and the signing keys, so that the server (and tests)
// add it with one call: [New], then [Flow.Register] on the router and
// [Flow.OnClientDelete] as the registration handler's delete hook.
package oauthflow

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/accesstoken"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/authorize"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/cimd"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/config"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/github"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/session"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/store"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/token"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/verify"
	"github.com/mcp-oauth-gateway/gateway/internal/contract"
)

// Deps are what the flow is built from.
type Deps struct {
	Config *config.Config
	Store  *store.Store
	Keys   accesstoken.Keys
	// HTTPClient calls GitHub; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now. Tests inject one to test expiry.
	Now func() time.Time
	Log *slog.Logger
	// CIMDTransport is the base transport for fetching client metadata documents (TLS
	// settings); nil means the default.
	CIMDTransport *http.Transport
}

// Flow holds the flow's handlers.
type Flow struct {
	Authorize *authorize.Handler
	Token     *token.Handler
	Verify    *verify.Handler
	store     *store.Store
}

// New builds the flow. It does not touch Redis, so authsvc can start before Redis.
func New(d Deps) (*Flow, error) {
	cfg := d.Config
	if cfg == nil || d.Store == nil || d.Keys == nil {
		return nil, errors.New("oauthflow: config, store and keys are required")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	secret := cfg.SessionSecret
	if len(secret) == 0 {
		secret = DeriveSessionSecret(cfg.GitHubClientSecret)
	}
	iss, err := url.Parse(cfg.IssuerURL)
	if err != nil {
		return nil, fmt.Errorf("oauthflow: issuer: %w", err)
	}
	cookies, err := session.New(secret, iss.Scheme == "https")
	if err != nil {
		return nil, err
	}
	gh, err := github.New(github.Options{
		ClientID: cfg.GitHubClientID, ClientSecret: cfg.GitHubClientSecret,
		BaseURL: cfg.GitHubURL, APIURL: cfg.GitHubAPIURL,
		RedirectURL: cfg.IssuerURL + contract.PathCallback, HTTPClient: d.HTTPClient,
	})
	if err != nil {
		return nil, err
	}
	codec, err := accesstoken.New(cfg.IssuerURL, d.Keys, d.Now)
	if err != nil {
		return nil, err
	}
	// Client lookups of the flow resolve metadata document URLs (cimd) as well as
	// registered ids.
	cl := clients{Store: d.Store, r: cimd.New(d.Store, cimd.Options{AllowPrivate: cfg.CIMDAllowPrivate,
		Transport: d.CIMDTransport, Now: d.Now, Log: d.Log})}
	az, err := authorize.New(cl, gh, authorize.Options{
		Issuer: cfg.IssuerURL, AllowedUsers: cfg.AllowedGitHubUsers,
		SessionLifetime: cfg.SessionLifetime, CodeLifetime: cfg.AuthCodeLifetime,
		Cookies: cookies, Now: d.Now, Log: d.Log,
	})
	if err != nil {
		return nil, err
	}
	tk, err := token.New(cl, codec, token.Options{
		AccessLifetime: cfg.AccessTokenLifetime, RefreshLifetime: cfg.RefreshTokenLifetime,
		CodeLifetime: cfg.AuthCodeLifetime, DefaultAudience: cfg.DefaultAudience, RetryWindow: cfg.TokenRetryWindow,
		Now: d.Now, Log: d.Log,
	})
	if err != nil {
		return nil, err
	}
	vf, err := verify.New(d.Store, codec, verify.Options{
		FeedToken: cfg.RevocationFeedToken, AccessLifetime: cfg.AccessTokenLifetime, Now: d.Now, Log: d.Log,
	})
	if err != nil {
		return nil, err
	}
	return &Flow{Authorize: az, Token: tk, Verify: vf, store: d.Store}, nil
}

// Route is how the flow adds a route: a path, its handler and the methods it
// answers.
type Route func(path string, h http.HandlerFunc, methods ...string)

// Register adds every route of the flow.
func (f *Flow) Register(handle Route) {
	f.Authorize.Register(handle)
	f.Token.Register(handle)
	f.Verify.Register(handle)
}

// OnClientDelete is the registration handler's delete hook: every token of the
// client dies (and is published on the revocation feed), and its consents are
// forgotten. Codes die with the client record, which the token endpoint requires.
func (f *Flow) OnClientDelete(ctx context.Context, clientID string) error {
	_, err := f.store.RevokeClient(ctx, clientID)
	return err
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
