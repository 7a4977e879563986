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
	"math"
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
	// Copies of settings the fast path reads: under Yaegi each selector in a chain
	// such as m.s.resource costs a frame slot on every call.
	fastPath    string // the resource URL's path: the only path the fast path takes
	noCORS      bool   // no corsAllowedOrigins: requests with an Origin may take the fast path
	names       []string
	forwardAuth bool
	identityKey []byte // nil: the identity is not signed
	revInterval int64
	revMaxStale int64
	safe        map[string]bool // m.headers.safe
	epoch       time.Time       // New's wall-clock time, without monotonic reading
	epochNs     int64           // epoch in unix nanoseconds

	// mu guards the verified-token cache and this instance's view of the revocation
	// state, so that the fast path takes one read lock for both.
	mu sync.RWMutex
	// cache maps an Authorization header value ("Bearer <jwt>") to its entry. A
	// plain map: measured under Yaegi, cheaper per lookup than a sync.Map and the
	// type assertion its interface{} values need.
	cache   map[string]*cacheEntry
	ring    []string // cache keys in insertion order; the oldest is evicted
	ringPos int
	// revGen is the revocation state generation this instance last synced (0
	// without a feed, as cache entries start); until that sync is due again (a
	// poll is due, or one ran and its result must be picked up), in unix
	// nanoseconds. Entries found clean in revGen need no revocation lookup.
	revGen   uint64
	revUntil int64
}

// cacheEntry is a verified token: what the revocation feed and the policy need of
// its claims, and what the fast path needs precomputed. checkClaims builds it.
type cacheEntry struct {
	sub, clientID, jti string
	iat                int64
	// denied is "" or why this instance's requiredScopes/allowedUsers refuse the
	// user; computed once, as the policy is fixed per instance.
	denied   string
	notAfter int64      // exp + skew, unix nanoseconds
	fastBy   int64      // notAfter when denied is "", else 0: the fast path never serves a refusal
	values   [][]string // identity header values (sub, login, name, client_id, scope), in Middleware.names order
	// signedValues is the identity part of the signed payload ("\n" before each
	// value), computed once per token: signing then costs a few interpreted steps.
	signedValues string
	revGen       uint64 // revocation state generation e was last found clean in; guarded by Middleware.mu
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
		fastPath:    s.resourcePath,
		noCORS:      !s.corsAll && len(s.corsOrigins) == 0,
		names:       s.headerNames[:],
		forwardAuth: s.forwardAuth,
		identityKey: s.identityKey,
		revInterval: s.revInterval,
		revMaxStale: s.revMaxStale,
		cache:       map[string]*cacheEntry{},
		revUntil:    math.MaxInt64,
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
		m.revUntil = 0 // sync on the first request
		startPoll(ctx, m.rev, m.log, time.Now().UnixNano(), s.revInterval)
		go pollEvery(ctx, m.rev, m.log, s.revInterval)
	}
	return m, nil
}

// ServeHTTP authenticates one request. Under Yaegi a function call allocates every
// value slot of the callee, whether its code runs or not, and every statement is
// interpreted: so a request to the resource's path, without a query, with one
// Authorization header carrying an already verified token takes this deliberately
// small fast path (one read lock for the cache and the revocation state), and
// everything else goes through serveFull, which applies the checks in their
// documented order. Whichever path admits the request, the identity headers are
// replaced here.
func (m *Middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := r.Header
	auth := hdr["Authorization"]
	u := r.URL
	var e *cacheEntry
	// Anything serveFull treats differently goes there: duplicate headers, query
	// strings (access_token), OPTIONS (preflights), other paths (the metadata),
	// requests that need CORS headers.
	if len(auth) != 1 || u.Path != m.fastPath || u.RawQuery != "" || r.Method == "OPTIONS" || !(m.noCORS || hdr["Origin"] == nil) {
		e = serveFull(m, w, r)
	} else {
		// Wall-clock unix nanoseconds: m.epoch carries no monotonic reading, so
		// time.Since is time.Now().UnixNano() minus a constant, in one native call.
		now := int64(time.Since(m.epoch)) + m.epochNs
		m.mu.RLock()
		e = m.cache[auth[0]]
		// Unknown, expired, refused, or not yet checked against the current
		// revocation state (or a poll is due): serveToken.
		fresh := e != nil && now < e.fastBy && e.revGen == m.revGen && now < m.revUntil
		m.mu.RUnlock()
		if !fresh {
			e = serveToken(m, w, r, auth[0], e, now)
		}
	}
	if e == nil {
		return // answered
	}
	safe := m.safe
	for k := range hdr {
		// identityHeaders.strip, inlined. Kept tiny: every expression here is a
		// frame slot that Yaegi allocates on each call.
		if !safe[k] {
			stripOne(m.headers, hdr, k)
		}
	}
	for i := 0; i < 5; i++ {
		hdr[m.names[i]] = e.values[i]
	}
	// A client's own signature header never passes; the edge's replaces it.
	if m.identityKey != nil {
		signIdentity(m.identityKey, r, e.signedValues)
	} else {
		delete(hdr, identitySignatureHeader)
	}
	if !m.forwardAuth {
		delete(hdr, "Authorization")
	}
	if r.ContentLength > 0 {
		r.Body = &declaredBody{body: r.Body, left: r.ContentLength}
	}
	m.next.ServeHTTP(w, r)
}

// serveFull is the complete, ordered check: metadata and preflights need no token;
// query tokens and duplicate Authorization headers are refused before any token is
// looked at. It returns the entry of an admitted token, or nil when it answered the
// request itself.
func serveFull(m *Middleware, w http.ResponseWriter, r *http.Request) *cacheEntry {
	s := m.s
	path := r.URL.Path
	if path == s.prmPaths[0] || path == s.prmPaths[1] {
		serveMetadata(m, w, r)
		return nil
	}
	origin := ""
	if !m.noCORS {
		origin = corsOrigin(m, w, r)
	}
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		servePreflight(m, w, origin)
		return nil
	}
	// The cheap look first (every interpreted call costs): a query that can name
	// access_token has "access" in it or percent-encodes something.
	if q := r.URL.RawQuery; q != "" && (strings.Contains(q, "access") || strings.IndexByte(q, '%') >= 0) && queryHasToken(q) {
		fail(m, w, http.StatusBadRequest, "invalid_request", "access tokens are not accepted in the query string")
		return nil
	}
	auth := r.Header["Authorization"]
	if len(auth) == 0 {
		challenge(m, w)
		return nil
	}
	if len(auth) > 1 {
		fail(m, w, http.StatusBadRequest, "invalid_request", "more than one Authorization header")
		return nil
	}
	m.mu.RLock()
	e := m.cache[auth[0]]
	m.mu.RUnlock()
	return serveToken(m, w, r, auth[0], e, int64(time.Since(m.epoch))+m.epochNs)
}

// serveToken authenticates the request's one Authorization header value, whose
// cache entry is e (nil when not cached), at now (wall-clock unix nanoseconds). A
// token not cached, or expired there, is verified and cached; the revocation state
// is synced when due. It returns the entry of an admitted token, or nil when it
// refused the request. (One function for all of it: under Yaegi every call
// allocates its callee's whole frame.)
func serveToken(m *Middleware, w http.ResponseWriter, r *http.Request, header string, e *cacheEntry, now int64) *cacheEntry {
	token := ""
	if len(header) > 7 && header[:7] == "Bearer " && header[7] != ' ' && header[len(header)-1] != ' ' {
		token = header[7:] // the usual spelling, without a call
	} else {
		var ok bool
		if token, ok = bearerToken(header); !ok {
			challenge(m, w)
			return nil
		}
	}
	verified := e == nil || now >= e.notAfter
	if verified {
		var err error
		if e, err = verifyToken(m.ctx, m.s, m.remote, token, now/1e9); err != nil {
			refuse(m, w, err)
			return nil
		}
	}
	revoked := false
	if rv := m.rev; verified || rv != nil {
		// One critical section caches a newly verified entry, checks e against the
		// revocation state and syncs this instance's view of that state, which the
		// fast path reads. m.mu is taken before rv.mu, the only order in which they
		// are held together.
		m.mu.Lock()
		if verified {
			// Cache e, replacing an expired entry (or a concurrent request's). A new
			// key takes the next ring slot, evicting the oldest key once the cache
			// is full: first in, first out, O(1). The ring holds each key once.
			if m.cache[header] == nil {
				if len(m.ring) < maxCachedTokens {
					m.ring = append(m.ring, header)
				} else {
					delete(m.cache, m.ring[m.ringPos])
					m.ring[m.ringPos] = header
					m.ringPos = (m.ringPos + 1) % maxCachedTokens
				}
			}
			m.cache[header] = e
		}
		if rv != nil {
			rv.mu.Lock()
			if now-rv.lastPoll >= m.revInterval {
				// Start the due poll outside both locks: it may wait for the feed.
				rv.mu.Unlock()
				m.mu.Unlock()
				pollDue(m.ctx, rv, m.log, now, m.revInterval)
				m.mu.Lock()
				rv.mu.Lock()
			}
			gen := rv.gen
			// Revoked, unless e was found clean in this generation already.
			if e.revGen != gen {
				_, revoked = rv.tokens[e.jti]
				if before, ok := rv.users[e.sub]; ok && e.iat <= before {
					revoked = true
				}
				if before, ok := rv.clients[e.clientID]; ok && e.iat <= before {
					revoked = true
				}
			}
			m.revGen, m.revUntil = gen, rv.lastPoll+m.revInterval
			if rv.polling != nil && now+pollRecheck < m.revUntil {
				m.revUntil = now + pollRecheck // pick the running poll's result up soon
			}
			if ms := m.revMaxStale; ms > 0 {
				// The feed has not been read for too long: what was issued before the
				// last good read may have been revoked since.
				good := rv.lastOK
				if good == 0 {
					good = rv.created
				}
				if now-good > ms && e.iat*1e9 <= good {
					revoked = true
				}
				if good+ms < m.revUntil {
					m.revUntil = good + ms // the fast path must not outlive the bound
				}
			}
			rv.mu.Unlock()
			if !revoked {
				e.revGen = gen
			}
		}
		m.mu.Unlock()
	}
	if revoked {
		refuse(m, w, errRevoked)
		return nil
	}
	if e.denied != "" {
		fail(m, w, http.StatusForbidden, "insufficient_scope", e.denied)
		return nil
	}
	return e
}

// refuse answers a token that failed verification or was revoked.
func refuse(m *Middleware, w http.ResponseWriter, err error) {
	if errors.Is(err, errKeysUnavailable) {
		m.log.Error("cannot verify tokens: signing keys unavailable", "error", err.Error())
		fail(m, w, http.StatusServiceUnavailable, "temporarily_unavailable", "signing keys unavailable")
		return
	}
	fail(m, w, http.StatusUnauthorized, "invalid_token", err.Error())
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
