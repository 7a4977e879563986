// Package mcpauth is a Traefik middleware plugin that authenticates requests to MCP
// services with OAuth 2.1 JWT access tokens (RFC 9068) issued by authsvc.
//
// It runs inside Traefik under the Yaegi interpreter, so it uses the standard library
// only and keeps the per-request path short: tokens are verified once (alg allow-list,
// kid from the configured JWKS, signature, typ, iss, aud, exp/nbf/iat) and then served
// from a bounded cache, with the revocation feed consulted on every request. It strips
// every client-sent spelling of the identity headers before injecting its own, and
// serves the RFC 9728 protected-resource metadata for its resource.
package mcpauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// maxCachedTokens bounds the verified-token cache. Only tokens that passed every
// check enter it, so its size is bounded by real traffic, not by attackers.
const maxCachedTokens = 10000

// Middleware is the http.Handler New returns.
type Middleware struct {
	next    http.Handler
	name    string
	s       *settings
	keys    keyLookup    // nil in HMAC mode
	rev     *revocations // nil without revocationURL
	headers *identityHeaders
	log     *slog.Logger
	// ctx is New's context: Traefik cancels it when it rebuilds its middlewares, so
	// it is the lifetime of this instance and bounds the fetches it starts on behalf
	// of all requests (a request's own context would let one client abort them).
	ctx context.Context

	mu    sync.Mutex
	cache map[string]*identity
}

// New validates and parses cfg once and returns the middleware. It never touches the
// network synchronously: the JWKS and the revocation feed are fetched in the
// background and lazily, so New neither blocks nor fails when authsvc is down.
func New(ctx context.Context, next http.Handler, cfg *Config, name string) (http.Handler, error) {
	s, err := parseConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("mcpauth %q: %w", name, err)
	}
	m := &Middleware{
		next:    next,
		name:    name,
		s:       s,
		headers: newIdentityHeaders(s.headerNames),
		log:     slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("plugin", "mcpauth", "middleware", name),
		ctx:     ctx,
		cache:   map[string]*identity{},
	}
	switch {
	case s.jwksURL != "":
		rk := sharedKeys(s.jwksURL)
		m.keys = rk
		go rk.prefetch(ctx)
	case s.inlineKeys != nil:
		m.keys = &staticKeys{keys: s.inlineKeys}
	}
	if s.revURL != "" {
		m.rev = sharedRevocations(s.revURL, s.revToken)
		m.rev.startPoll(ctx, m.log, time.Now().UnixNano(), s.revInterval)
	}
	return m, nil
}

// ServeHTTP authenticates one request. Order matters: metadata and preflights need no
// token; query tokens and duplicate Authorization headers are refused before any
// token is looked at; identity headers are replaced only after the token passed.
func (m *Middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := m.s
	path := r.URL.Path
	if path == s.prmPaths[0] || path == s.prmPaths[1] {
		m.serveMetadata(w, r)
		return
	}
	origin := ""
	if s.corsAll || len(s.corsOrigins) > 0 {
		origin = m.corsOrigin(w, r)
	}
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		m.servePreflight(w, origin)
		return
	}
	if r.URL.RawQuery != "" && strings.Contains(r.URL.RawQuery, "access") && queryHasToken(r.URL.RawQuery) {
		m.fail(w, http.StatusBadRequest, "invalid_request", "access tokens are not accepted in the query string")
		return
	}
	auth := r.Header["Authorization"]
	if len(auth) == 0 {
		m.challenge(w)
		return
	}
	if len(auth) > 1 {
		m.fail(w, http.StatusBadRequest, "invalid_request", "more than one Authorization header")
		return
	}
	token, ok := bearerToken(auth[0])
	if !ok {
		m.challenge(w)
		return
	}
	now := time.Now().UnixNano()
	id, err := m.authenticate(token, now/int64(time.Second))
	if err == nil && m.rev != nil && m.rev.check(m.ctx, m.log, id, now, s.revInterval) {
		err = errRevoked
	}
	if err != nil {
		if errors.Is(err, errKeysUnavailable) {
			m.log.Error("cannot verify tokens: signing keys unavailable", "error", err.Error())
			m.fail(w, http.StatusServiceUnavailable, "temporarily_unavailable", "signing keys unavailable")
			return
		}
		m.fail(w, http.StatusUnauthorized, "invalid_token", err.Error())
		return
	}
	if id.denied != "" {
		m.fail(w, http.StatusForbidden, "insufficient_scope", id.denied)
		return
	}
	m.headers.strip(r.Header)
	m.headers.set(r.Header, id)
	if !s.forwardAuth {
		delete(r.Header, "Authorization")
	}
	m.next.ServeHTTP(w, r)
}

// authenticate returns the identity of token from the cache or by verifying it.
func (m *Middleware) authenticate(token string, now int64) (*identity, error) {
	m.mu.Lock()
	id := m.cache[token]
	m.mu.Unlock()
	if id != nil && now < id.exp+m.s.skew {
		return id, nil
	}
	id, err := m.s.verify(m.ctx, m.keys, token, now)
	if err != nil {
		if err == errExpired {
			m.mu.Lock()
			delete(m.cache, token)
			m.mu.Unlock()
		}
		return nil, err
	}
	m.mu.Lock()
	if len(m.cache) >= maxCachedTokens {
		m.evictLocked(now)
	}
	m.cache[token] = id
	m.mu.Unlock()
	return id, nil
}

// evictLocked drops expired entries, then arbitrary ones until a quarter is free.
func (m *Middleware) evictLocked(now int64) {
	for k, v := range m.cache {
		if now >= v.exp+m.s.skew {
			delete(m.cache, k)
		}
	}
	for k := range m.cache {
		if len(m.cache) <= maxCachedTokens*3/4 {
			break
		}
		delete(m.cache, k)
	}
}

// bearerToken extracts the token of an RFC 6750 "Bearer" credential; the scheme is
// case-insensitive.
// A "Bearer" credential without a token is a bad token, not a missing one (HTTP
// servers trim the trailing space of "Bearer ").
func bearerToken(v string) (string, bool) {
	if len(v) < 6 || !strings.EqualFold(v[:6], "bearer") {
		return "", false
	}
	if len(v) == 6 {
		return "", true
	}
	if v[6] != ' ' && v[6] != '\t' {
		return "", false
	}
	return strings.TrimSpace(v[7:]), true
}

// queryHasToken reports whether the query carries an access_token parameter in any
// encoding (RFC 6750 §2.3 is not supported: URLs end up in logs).
func queryHasToken(raw string) bool {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return strings.Contains(raw, "access_token") // unparseable: refuse if it may carry one
	}
	_, ok := q["access_token"]
	return ok
}

// staticKeys is an inline JWKS.
type staticKeys struct {
	keys map[string]*publicKey
}

func (s *staticKeys) key(_ context.Context, kid string) (*publicKey, error) {
	k := s.keys[kid]
	if k == nil {
		return nil, errUnknownKey
	}
	return k, nil
}
