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
	remote  *remoteKeys  // nil unless jwksURL
	rev     *revocations // nil without revocationURL
	headers *identityHeaders
	log     *slog.Logger
	// ctx is New's context: Traefik cancels it when it rebuilds its middlewares, so
	// it is the lifetime of this instance and bounds the fetches it starts on behalf
	// of all requests (a request's own context would let one client abort them).
	ctx context.Context
	// fast is false when CORS is configured: requests with an Origin then need the
	// per-request work of serveFull.
	fast bool
	// Copies of settings the fast path reads: under Yaegi each selector in a chain
	// such as m.s.prmPaths[0] costs a frame slot on every call.
	prm         map[string]bool // the metadata paths: one lookup, cheaper than two string comparisons
	names       []string
	forwardAuth bool
	revInterval int64
	safe        map[string]bool // m.headers.safe
	epoch       time.Time       // New's wall-clock time, without monotonic reading
	epochNs     int64           // epoch in unix nanoseconds

	// cache maps an Authorization header value ("Bearer <jwt>") to its entry. A
	// plain map under a RWMutex: measured under Yaegi, cheaper per lookup than a
	// sync.Map and the type assertion its interface{} values need.
	cacheMu sync.RWMutex // guards cache, ring and ringPos
	cache   map[string]*cacheEntry
	ring    []string // cache keys in insertion order; the oldest is evicted
	ringPos int
}

// cacheEntry is a verified token with everything the fast path needs precomputed.
type cacheEntry struct {
	id       *identity
	notAfter int64      // exp + skew, unix nanoseconds
	ok       bool       // not denied by requiredScopes or allowedUsers
	values   [][]string // identity header values, in Middleware.names order
	revGen   uint64     // revocation state generation e was last found clean in; guarded by revocations.mu
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
		next:        next,
		name:        name,
		s:           s,
		headers:     newIdentityHeaders(s.headerNames),
		log:         slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("plugin", "mcpauth", "middleware", name),
		ctx:         ctx,
		fast:        !s.corsAll && len(s.corsOrigins) == 0,
		names:       s.headerNames[:],
		forwardAuth: s.forwardAuth,
		revInterval: s.revInterval,
		cache:       map[string]*cacheEntry{},
		prm:         map[string]bool{s.prmPaths[0]: true, s.prmPaths[1]: true},
	}
	m.safe = m.headers.safe
	m.epoch = time.Now().Round(0)
	m.epochNs = m.epoch.UnixNano()
	switch {
	case s.jwksURL != "":
		m.remote = sharedKeys(s.jwksURL)
		go m.remote.prefetch(ctx)
	}
	if s.revURL != "" {
		m.rev = sharedRevocations(s.revURL, s.revToken)
		m.rev.startPoll(ctx, m.log, time.Now().UnixNano(), s.revInterval)
	}
	return m, nil
}

// ServeHTTP authenticates one request. Under Yaegi a function call allocates every
// value slot of the callee, whether its code runs or not, and every statement is
// interpreted: so a request with one Authorization header carrying an already
// verified token takes this deliberately small fast path, and everything else goes
// through serveFull, which applies the checks in their documented order.
func (m *Middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := r.Header
	auth := hdr["Authorization"]
	u := r.URL
	// Anything serveFull treats differently leaves the fast path: duplicate headers,
	// query strings (access_token), OPTIONS (preflights), CORS requests, metadata
	// paths, unknown, expired, refused or revoked tokens.
	if len(auth) == 1 && u.RawQuery == "" && r.Method != "OPTIONS" && (m.fast || hdr["Origin"] == nil) && !m.prm[u.Path] {
		m.cacheMu.RLock()
		e := m.cache[auth[0]]
		m.cacheMu.RUnlock()
		if e == nil {
			m.serveToken(w, r, auth[0], false)
			return
		}
		// Wall-clock unix nanoseconds: m.epoch carries no monotonic reading, so
		// time.Since is time.Now().UnixNano() minus a constant, in one native call.
		now := int64(time.Since(m.epoch)) + m.epochNs
		clean := now < e.notAfter && e.ok
		if rv := m.rev; rv != nil && clean {
			// revocations.check's common case, inlined: nothing changed since e was
			// last found clean and no poll is due.
			rv.mu.Lock()
			quiet := e.revGen == rv.gen && now-rv.lastPoll < m.revInterval
			rv.mu.Unlock()
			clean = quiet || !rv.check(m.ctx, m.log, e, now, m.revInterval)
		}
		if clean {
			safe := m.safe
			for k := range hdr {
				// Most names are settled by one lookup; the rest go through strip's
				// filters. Kept tiny: every expression here is a frame slot that
				// Yaegi allocates on each call.
				if !safe[k] {
					m.headers.stripOne(hdr, k)
				}
			}
			for i := 0; i < 5; i++ {
				hdr[m.names[i]] = e.values[i]
			}
			if !m.forwardAuth {
				delete(hdr, "Authorization")
			}
			m.next.ServeHTTP(w, r)
			return
		}
	}
	m.serveFull(w, r)
}

// serveFull is the complete, ordered check: metadata and preflights need no token;
// query tokens and duplicate Authorization headers are refused before any token is
// looked at; identity headers are replaced only after the token passed.
func (m *Middleware) serveFull(w http.ResponseWriter, r *http.Request) {
	s := m.s
	path := r.URL.Path
	if path == s.prmPaths[0] || path == s.prmPaths[1] {
		m.serveMetadata(w, r)
		return
	}
	origin := ""
	if !m.fast {
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
	m.serveToken(w, r, auth[0], true)
}

// serveToken authenticates the request's one Authorization value and passes the
// request on or refuses it. ServeHTTP calls it directly (cached false) for a token it
// has not seen when nothing else about the request needs serveFull's checks; cached
// true makes it look in the cache first. A token not cached or expired there is
// verified and cached. (One function, not three: under Yaegi every call allocates
// its callee's whole frame.)
func (m *Middleware) serveToken(w http.ResponseWriter, r *http.Request, header string, cached bool) {
	token := ""
	if len(header) > 7 && header[:7] == "Bearer " && header[7] != ' ' && header[len(header)-1] != ' ' {
		token = header[7:] // the usual spelling, without a call
	} else {
		var ok bool
		if token, ok = bearerToken(header); !ok {
			m.challenge(w)
			return
		}
	}
	now := int64(time.Since(m.epoch)) + m.epochNs
	var e *cacheEntry
	if cached {
		e = m.cachedEntry(header, now)
	}
	if e == nil {
		id, err := m.s.verify(m.ctx, m.remote, token, now/1e9)
		if err != nil {
			m.refuse(w, err)
			return
		}
		e = &cacheEntry{id: id, notAfter: (id.exp + m.s.skew) * 1e9, ok: id.denied == "",
			values: [][]string{{id.sub}, {id.login}, {id.name}, {id.clientID}, {id.scope}}}
		m.store(header, e)
	}
	if m.rev != nil && m.rev.check(m.ctx, m.log, e, now, m.revInterval) {
		m.refuse(w, errRevoked)
		return
	}
	if !e.ok {
		m.fail(w, http.StatusForbidden, "insufficient_scope", e.id.denied)
		return
	}
	hdr := r.Header
	m.headers.strip(hdr)
	for i := 0; i < 5; i++ {
		hdr[m.names[i]] = e.values[i]
	}
	if !m.forwardAuth {
		delete(hdr, "Authorization")
	}
	m.next.ServeHTTP(w, r)
}

// cachedEntry returns the unexpired cache entry for the Authorization value header,
// or nil; an expired entry is deleted (its ring slot is recycled in turn).
func (m *Middleware) cachedEntry(header string, now int64) *cacheEntry {
	m.cacheMu.RLock()
	e := m.cache[header]
	m.cacheMu.RUnlock()
	if e == nil || now < e.notAfter {
		return e
	}
	m.cacheMu.Lock()
	delete(m.cache, header)
	m.cacheMu.Unlock()
	return nil
}

// refuse answers a token that failed verification or was revoked.
func (m *Middleware) refuse(w http.ResponseWriter, err error) {
	if errors.Is(err, errKeysUnavailable) {
		m.log.Error("cannot verify tokens: signing keys unavailable", "error", err.Error())
		m.fail(w, http.StatusServiceUnavailable, "temporarily_unavailable", "signing keys unavailable")
		return
	}
	m.fail(w, http.StatusUnauthorized, "invalid_token", err.Error())
}

// store caches e under header unless an entry is there already, and evicts the
// oldest key when the cache is full: first in, first out, O(1), no scan.
func (m *Middleware) store(header string, e *cacheEntry) {
	m.cacheMu.Lock()
	if m.cache[header] == nil {
		m.cache[header] = e
		if len(m.ring) < maxCachedTokens {
			m.ring = append(m.ring, header)
		} else {
			old := m.ring[m.ringPos]
			m.ring[m.ringPos] = header
			m.ringPos = (m.ringPos + 1) % maxCachedTokens
			if old != header {
				delete(m.cache, old)
			}
		}
	}
	m.cacheMu.Unlock()
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
