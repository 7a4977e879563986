// Package replica lets several replicas of one bridge serve its users together. A
// 2026-07-28 request can be served by any replica, but a 2025 session lives in one
// replica's child process, and so does a call the bridge suspended for a multi
// round-trip retry. The replica that creates a session writes its own URL into the
// session id, signed with a key derived from the identity secret all replicas share;
// a request for that session that lands on another replica (the load balancer knows
// nothing of sessions, and MCP clients keep no cookies) is forwarded there, once. A
// session of a replica that is gone is answered 404, which every MCP client answers by
// initializing a new session.
//
// No registry is needed: the id itself says where its session is, and only a replica
// can make an id that names a replica (a client cannot steer the bridge at an address
// of its choosing).
//
// Given the list of replicas (SetPeers, or Discover from a DNS name), the replicas
// also share the 2026-07-28 traffic by user: each user's requests are served by one
// replica (rendezvous hashing), whichever one the load balancer picked, so that a
// user's warm children exist once and not on every replica, and a
// subscriptions/listen stream is on the replica whose children send its
// notifications. A replica that cannot reach a user's owner serves the request itself.
package replica

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/metrics"
)

// HeaderForwarded marks a request one replica forwarded to another: it is never
// forwarded again, so that ids naming each other cannot loop.
const HeaderForwarded = "X-Mcpbridge-Forwarded"

// Peers mints this replica's session ids and forwards requests for the others'.
type Peers struct {
	self      string // this replica's base URL, as the others reach it
	key       []byte // signs the session ids
	stateKey  []byte // see StateKey
	transport http.RoundTripper
	log       *slog.Logger

	mu    sync.RWMutex
	peers []string // every replica's URL, this one's included; nil: no user affinity

	// writeTimeout bounds each write of a forwarded answer to the client (see
	// deadlineWriter); 30 s, like the bridge's own streams.
	writeTimeout time.Duration
}

// New returns the Peers of the replica reachable at self (http://host:port) that
// shares secret (the identity secret) with the others.
func New(self string, secret []byte, log *slog.Logger) (*Peers, error) {
	u, err := url.Parse(self)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("replica URL %q: want http://host:port, the address the other replicas reach this one at", self)
	}
	if len(secret) == 0 {
		return nil, errors.New("replica: an identity secret is required (it signs the session ids)")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Peers{
		self:     u.Scheme + "://" + u.Host,
		key:      deriveKey(secret, "mcpbridge replica session ids"),
		stateKey: deriveKey(secret, "mcpbridge requestState"),
		transport: &http.Transport{
			// A replica that is gone must cost its sessions' clients a prompt 404, not a
			// hang; a live one answers at once (streams and long calls start with headers
			// only once the child answers, so there is no response header timeout).
			DialContext:         (&net.Dialer{Timeout: 3 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
		},
		log:          log,
		writeTimeout: 30 * time.Second,
	}, nil
}

// deriveKey derives a key for one purpose from the shared secret.
func deriveKey(secret []byte, purpose string) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(purpose))
	return mac.Sum(nil)
}

// StateKey is the key every replica signs requestState tokens with (the session
// registry's StateKey), so that each can tell which session, and so which replica, a
// multi round-trip retry belongs to.
func (p *Peers) StateKey() []byte { return p.stateKey }

// Self is this replica's URL.
func (p *Peers) Self() string { return p.self }

// NewID returns a session id that names this replica: 128 random bits in hex, the
// replica's URL and a MAC over both, dot-separated (visible ASCII, as Mcp-Session-Id
// requires).
func (p *Peers) NewID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("replica: random id: %w", err)
	}
	head := hex.EncodeToString(b[:]) + "." + base64.RawURLEncoding.EncodeToString([]byte(p.self))
	return head + "." + base64.RawURLEncoding.EncodeToString(p.mac(head)), nil
}

func (p *Peers) mac(head string) []byte {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(head))
	return m.Sum(nil)[:16]
}

// Owner returns the URL of the replica an id names, when a replica made it; ok is
// false for anything else (a forged or malformed id, an id of a single bridge).
func (p *Peers) Owner(id string) (owner string, ok bool) {
	parts := strings.Split(id, ".")
	if len(parts) != 3 || len(parts[0]) != 32 {
		return "", false
	}
	mac, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(mac, p.mac(parts[0]+"."+parts[1])) {
		return "", false
	}
	u, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	return string(u), true
}

// Forward serves r at the replica that owns the session id when that is another
// replica, and reports whether it did. gone is true when the owner could not be
// reached, before anything was written: the caller answers as for an unknown session.
// A request another replica forwarded is never forwarded again.
func (p *Peers) Forward(w http.ResponseWriter, r *http.Request, id string) (forwarded, gone bool) {
	owner, ok := p.Owner(id)
	if !ok || owner == p.self || r.Header.Get(HeaderForwarded) != "" {
		return false, false
	}
	failed := p.forwardTo(w, r, owner)
	if failed != nil && r.Context().Err() != nil {
		return true, false // the client left; nobody to answer
	}
	if failed != nil {
		metrics.Forwarded.WithLabelValues("owner_unreachable").Inc()
		p.log.Warn("the replica that owns the session is unreachable; answering 404 so that the client starts a new one",
			"owner", owner, "error", failed.Error())
		return true, true
	}
	metrics.Forwarded.WithLabelValues("forwarded").Inc()
	return true, false
}

// forwardTo serves r at the replica owner, once, and returns the error that kept it
// from being answered there (nil when it was).
func (p *Peers) forwardTo(w http.ResponseWriter, r *http.Request, owner string) error {
	target, err := url.Parse(owner)
	if err != nil {
		return err
	}
	var failed error
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			// The edge signed the identity for the host the client asked for.
			pr.Out.Host = pr.In.Host
			pr.Out.Header.Set(HeaderForwarded, p.self)
		},
		Transport:     p.transport,
		FlushInterval: -1, // event streams go through as they come
		ErrorHandler:  func(_ http.ResponseWriter, _ *http.Request, err error) { failed = err },
	}
	proxy.ServeHTTP(deadlineWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: p.writeTimeout}, r)
	return failed
}

// deadlineWriter gives each write of a forwarded answer a deadline, as the bridge's
// own streams have: a client that stops reading an event stream (its TCP window full)
// loses it, instead of holding this replica's connection and the owner's stream for
// ever.
type deadlineWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (d deadlineWriter) Write(b []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(d.timeout))
	return d.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController (the proxy's flushes) reach the connection.
func (d deadlineWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }

// SetPeers sets the replicas (their URLs) that share the 2026-07-28 traffic by user:
// each user's requests are served by one of them (UserOwner), so that the user's warm
// children, and the subscriptions/listen streams that carry their notifications, are
// on one replica. This replica is always one of them. nil or empty: no affinity, every
// replica serves every user.
func (p *Peers) SetPeers(urls []string) {
	set := []string{}
	if len(urls) > 0 {
		set = append(set, p.self)
		for _, u := range urls {
			u = strings.TrimSuffix(strings.TrimSpace(u), "/")
			if u != "" && !slices.Contains(set, u) {
				set = append(set, u)
			}
		}
		sort.Strings(set)
	}
	p.mu.Lock()
	changed := !slices.Equal(p.peers, set)
	p.peers = set
	p.mu.Unlock()
	if changed {
		p.log.Info("replicas sharing users", "replicas", set)
	}
}

// UserOwner returns the replica that serves user's 2026-07-28 requests: of the
// replicas SetPeers gave, the one with the highest hash of (replica, user)
// (rendezvous hashing, so that a replica coming or going moves only its own share of
// the users). Without peers it is this replica.
func (p *Peers) UserOwner(user string) string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	best, bestScore := p.self, uint64(0)
	for _, peer := range p.peers {
		h := sha256.Sum256([]byte(peer + "\x00" + user))
		if score := binary.BigEndian.Uint64(h[:8]); score >= bestScore {
			best, bestScore = peer, score
		}
	}
	return best
}

// ForwardUser serves a 2026-07-28 request of user at the replica that owns the user
// (UserOwner), when that is another replica and the request was not forwarded already;
// body is the request body, already read. It reports whether the request was answered
// there. When the owner cannot be reached (it has just stopped, before the peer list
// says so) nothing was written and the caller serves the request itself.
func (p *Peers) ForwardUser(w http.ResponseWriter, r *http.Request, user string, body []byte) bool {
	owner := p.UserOwner(user)
	if owner == p.self || r.Header.Get(HeaderForwarded) != "" {
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	failed := p.forwardTo(w, r, owner)
	switch {
	case failed == nil:
		metrics.Forwarded.WithLabelValues("user_owner").Inc()
		return true
	case r.Context().Err() != nil:
		return true // the client left; nobody to answer
	}
	metrics.Forwarded.WithLabelValues("user_owner_unreachable").Inc()
	p.log.Warn("the replica that serves this user is unreachable; serving the request here", "owner", owner, "error", failed.Error())
	return false
}

// Discover keeps the peers (SetPeers) up to date until ctx ends: every interval it
// resolves name, whose addresses are the replicas (Docker Swarm's tasks.<service>, a
// Kubernetes headless Service), each on this replica's port. A lookup that fails keeps
// the last list.
func (p *Peers) Discover(ctx context.Context, name string, interval time.Duration) {
	u, _ := url.Parse(p.self)
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	for {
		addrs, err := net.DefaultResolver.LookupHost(ctx, name)
		if err == nil {
			urls := make([]string, 0, len(addrs))
			for _, a := range addrs {
				urls = append(urls, u.Scheme+"://"+net.JoinHostPort(a, port))
			}
			p.SetPeers(urls)
		} else if ctx.Err() == nil {
			p.log.Warn("resolving the replicas failed; keeping the last list", "name", name, "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// AutoURL is the replica URL for "auto": http://<this host's address>:<port of
// listen>, the address its host name resolves to (in Docker and Swarm, the
// container's address on its first network).
func AutoURL(listen string) (string, error) {
	_, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" || port == "0" {
		return "", fmt.Errorf("replica URL auto: the listen address %q has no fixed port", listen)
	}
	host, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("replica URL auto: %w", err)
	}
	addrs, err := net.LookupHost(host)
	if err != nil {
		return "", fmt.Errorf("replica URL auto: resolving the host name %q: %w", host, err)
	}
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip != nil && !ip.IsLoopback() {
			return "http://" + net.JoinHostPort(a, port), nil
		}
	}
	return "", fmt.Errorf("replica URL auto: the host name %q resolves to no address but loopback (%v); set the URL", host, addrs)
}
