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
package replica

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
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
		log: log,
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
	target, err := url.Parse(owner)
	if err != nil {
		return false, false
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
	proxy.ServeHTTP(w, r)
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
