// Package cimd resolves Client ID Metadata Documents (MCP 2026-07-28 authorization,
// draft-ietf-oauth-client-id-metadata-document): a client whose client_id is an https
// URL needs no registration; the document at that URL describes it. The document is
// fetched with SSRF protection (public addresses only unless configured, no redirects,
// size and time bounds), validated with the registration rules, and cached in Redis
// for as long as its HTTP caching headers allow, within bounds.
package cimd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
)

// Bounds of a fetch and of the cache.
const (
	MaxDocumentBytes = 16 << 10
	FetchTimeout     = 5 * time.Second
	MinCache         = time.Minute
	MaxCache         = 24 * time.Hour
	// DefaultCache is used when the response says nothing about caching.
	DefaultCache = time.Hour
)

// Store is what the resolver needs of the storage.
type Store interface {
	GetClient(ctx context.Context, id string) (*auth.Client, error)
	CacheClient(ctx context.Context, c *auth.Client, ttl time.Duration) error
}

// Options configure a [Resolver].
type Options struct {
	// AllowPrivate lets documents be fetched from loopback, private and link-local
	// addresses (tests and private deployments). Default false.
	AllowPrivate bool
	// Transport is the base transport (TLS settings); its dialer is replaced.
	Transport *http.Transport
	Now       func() time.Time
	Log       *slog.Logger
}

// Resolver answers client lookups: URL client ids from their documents, other ids
// from the store.
type Resolver struct {
	st     Store
	client *http.Client
	opts   Options
}

// New returns a resolver over st.
func New(st Store, opts Options) *Resolver {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	tr := opts.Transport
	if tr == nil {
		tr = http.DefaultTransport.(*http.Transport)
	}
	tr = tr.Clone()
	tr.Proxy = nil // the guard must see the real destination
	dialer := &net.Dialer{Timeout: FetchTimeout, Control: guard(opts.AllowPrivate)}
	tr.DialContext = dialer.DialContext
	return &Resolver{st: st, opts: opts, client: &http.Client{
		Transport: tr,
		Timeout:   FetchTimeout,
		// A redirect could lead anywhere; a document is served where its id says.
		CheckRedirect: func(*http.Request, []*http.Request) error { return errors.New("redirects are not followed") },
	}}
}

// IsURL reports whether a client_id is a metadata document URL rather than an id this
// server issued.
func IsURL(clientID string) bool { return strings.HasPrefix(clientID, "https://") }

// ErrDocument wraps every reason a document cannot be used; it is also
// auth.ErrNotFound, so callers treat the client as unknown.
var ErrDocument = fmt.Errorf("client metadata document unusable: %w", auth.ErrNotFound)

// GetClient returns the client: a URL id from its (cached) document, anything else from
// the store.
func (r *Resolver) GetClient(ctx context.Context, id string) (*auth.Client, error) {
	if !IsURL(id) {
		return r.st.GetClient(ctx, id)
	}
	c, err := r.st.GetClient(ctx, id)
	if err == nil || !errors.Is(err, auth.ErrNotFound) {
		return c, err
	}
	c, ttl, err := r.fetch(ctx, id)
	if err != nil {
		r.opts.Log.Warn("cimd: client metadata document refused", "client_id", id, "error", err)
		return nil, fmt.Errorf("%w: %v", ErrDocument, err)
	}
	if ttl > 0 {
		if err := r.st.CacheClient(ctx, c, ttl); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (r *Resolver) fetch(ctx context.Context, id string) (*auth.Client, time.Duration, error) {
	if err := checkURL(id); err != nil {
		return nil, 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, id, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxDocumentBytes+1))
	if err != nil {
		return nil, 0, err
	}
	if len(body) > MaxDocumentBytes {
		return nil, 0, fmt.Errorf("larger than %d bytes", MaxDocumentBytes)
	}
	md, err := auth.ParseDocument(body, id)
	if err != nil {
		return nil, 0, err
	}
	return &auth.Client{ID: id, Metadata: *md, IssuedAt: r.opts.Now().Unix()}, cacheFor(resp.Header), nil
}

// checkURL applies the client_id URL rules: https, a host, a path, no credentials,
// fragment or dot segments.
func checkURL(id string) error {
	u, err := url.Parse(id)
	switch {
	case err != nil:
		return err
	case u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" || strings.Contains(id, "#"):
		return errors.New("a client_id URL must be https, with a host and without credentials or fragment")
	case u.Path == "" || u.Path == "/":
		return errors.New("a client_id URL must have a path")
	case strings.Contains("/"+u.Path+"/", "/./") || strings.Contains("/"+u.Path+"/", "/../"):
		return errors.New("a client_id URL must not have dot segments")
	}
	return nil
}

// cacheFor reads Cache-Control: no-store or no-cache mean not cached; max-age within
// [MinCache, MaxCache]; nothing said, DefaultCache.
func cacheFor(h http.Header) time.Duration {
	cc := strings.ToLower(h.Get("Cache-Control"))
	if strings.Contains(cc, "no-store") || strings.Contains(cc, "no-cache") {
		return 0
	}
	for _, part := range strings.Split(cc, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "max-age="); ok {
			if n, err := strconv.Atoi(v); err == nil {
				return min(max(time.Duration(n)*time.Second, MinCache), MaxCache)
			}
		}
	}
	return DefaultCache
}

// guard refuses connections to loopback, private, link-local, unspecified and
// multicast addresses (checked on the address actually dialled, after DNS), unless
// allowed.
func guard(allowPrivate bool) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		if allowPrivate {
			return nil
		}
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		ip := net.ParseIP(host)
		if ip == nil || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
			ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() {
			return fmt.Errorf("address %s is not public", host)
		}
		return nil
	}
}
