// verify.go serves the two endpoints resource-side components call: GET /verify
// for Traefik ForwardAuth deployments (it validates a Bearer token exactly as the
// mcpauth plugin does and answers with the identity headers), and GET
// /internal/revocations, the revocation feed the plugin polls (docs/interfaces.md).

package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/keys"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/store"
	"github.com/mcp-oauth-gateway/gateway/internal/contract"
)

// verifyStore is what these endpoints read; *store.Store implements it.
type verifyStore interface {
	AccessLive(ctx context.Context, jti string) (bool, error)
	Revocations(ctx context.Context, cursor string) ([]store.Revocation, string, error)
	PruneRevocations(ctx context.Context, accessLifetime time.Duration) (int, error)
}

var _ verifyStore = (*store.Store)(nil)

// verifyOptions configure a [verifyHandler].
type verifyOptions struct {
	// FeedToken, when set, must be presented as a Bearer token to read the feed.
	FeedToken string
	// AccessLifetime is how long users/clients entries matter.
	AccessLifetime time.Duration
	Now            func() time.Time
	Log            *slog.Logger
}

// verifyHandler serves /verify and /internal/revocations.
type verifyHandler struct {
	store verifyStore
	codec *keys.Codec
	opts  verifyOptions
}

// newVerify returns the handler.
func newVerify(st verifyStore, codec *keys.Codec, opts verifyOptions) (*verifyHandler, error) {
	if st == nil || codec == nil {
		return nil, errors.New("verify: store and codec are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &verifyHandler{store: st, codec: codec, opts: opts}, nil
}

// Verify handles the ForwardAuth request. The protected resource is the ?resource=
// query parameter of the ForwardAuth address when configured, else it is derived from
// X-Forwarded-Proto/Host/Uri: a token is accepted when one of its audiences has the
// same origin and a path that prefixes the forwarded path on a segment boundary.
func (h *verifyHandler) Verify(w http.ResponseWriter, r *http.Request) {
	resource, origin, path := h.target(r)
	challenge := `Bearer resource_metadata="` + origin + `/.well-known/oauth-protected-resource` + metadataSuffix(resource) + `"`
	deny := func(code, desc string) {
		v := challenge
		if code != "" {
			v += `, error="` + code + `", error_description="` + desc + `"`
		}
		w.Header().Set("WWW-Authenticate", v)
		NoStore(w)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	}
	if origin == "" {
		deny("invalid_request", "the protected resource is unknown")
		return
	}
	auths := r.Header.Values("Authorization")
	if len(auths) == 0 {
		deny("", "")
		return
	}
	raw, ok := strings.CutPrefix(auths[0], "Bearer ")
	if len(auths) > 1 || !ok || raw == "" {
		deny("invalid_request", "send exactly one Bearer token")
		return
	}
	cl, err := h.codec.Verify(r.Context(), strings.TrimSpace(raw), "")
	if err != nil {
		deny("invalid_token", "the token is invalid or expired")
		return
	}
	if !audienceMatches(cl.Audience, resource, origin, path) {
		deny("invalid_token", "the token is not for this resource")
		return
	}
	live, err := h.store.AccessLive(r.Context(), cl.ID)
	if err != nil {
		h.opts.Log.Error("verify: storage", "error", err)
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	if !live {
		deny("invalid_token", "the token was revoked")
		return
	}
	hd := w.Header()
	hd.Set(contract.HeaderUserID, headerSafe(cl.Subject))
	hd.Set(contract.HeaderUserLogin, headerSafe(cl.Login))
	hd.Set(contract.HeaderUserName, headerSafe(cl.Name))
	hd.Set(contract.HeaderClientID, headerSafe(cl.ClientID))
	hd.Set(contract.HeaderScopes, headerSafe(cl.Scope))
	NoStore(w)
	w.WriteHeader(http.StatusOK)
}

// target returns the configured resource (if any), the origin and the forwarded path.
func (h *verifyHandler) target(r *http.Request) (resource, origin, path string) {
	if res := r.URL.Query().Get("resource"); res != "" {
		if u, err := url.Parse(res); err == nil && u.Host != "" {
			return res, u.Scheme + "://" + u.Host, u.Path
		}
	}
	host := r.Header.Get("X-Forwarded-Host")
	if host == "" || strings.ContainsAny(host, "/\\@ \"") {
		return "", "", ""
	}
	proto := r.Header.Get("X-Forwarded-Proto")
	if proto != "http" {
		proto = "https"
	}
	path = r.Header.Get("X-Forwarded-Uri")
	if u, err := url.ParseRequestURI(path); err == nil {
		path = u.Path
	} else {
		path = "/"
	}
	return "", proto + "://" + strings.ToLower(host), path
}

func metadataSuffix(resource string) string {
	if u, err := url.Parse(resource); err == nil && u.Path != "" && u.Path != "/" {
		return u.Path
	}
	return ""
}

func audienceMatches(aud []string, resource, origin, path string) bool {
	for _, a := range aud {
		if resource != "" {
			if a == resource {
				return true
			}
			continue
		}
		u, err := url.Parse(a)
		if err != nil || u.Scheme+"://"+strings.ToLower(u.Host) != origin {
			continue
		}
		p := strings.TrimSuffix(u.Path, "/")
		if p == "" || path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// headerSafe drops control characters so a claim can never inject header bytes.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// Feed handles GET /internal/revocations?since=<cursor>.
func (h *verifyHandler) Feed(w http.ResponseWriter, r *http.Request) {
	if h.opts.FeedToken != "" {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(raw), []byte(h.opts.FeedToken)) != 1 {
			WriteError(w, r, h.opts.Log, auth.ErrInvalidToken.WithDescription("the revocation feed needs REVOCATION_FEED_TOKEN"))
			return
		}
	}
	since := r.URL.Query().Get("since")
	var entries []store.Revocation
	var cursor string
	var err error
	if since != "" {
		entries, cursor, err = h.store.Revocations(r.Context(), since)
	}
	reset := since == "" || errors.Is(err, store.ErrUnknownCursor)
	if reset {
		// A full state is rare (a poller starting); it is also when the log is
		// trimmed of entries that cover nothing live any more.
		if _, err := h.store.PruneRevocations(r.Context(), h.opts.AccessLifetime); err != nil {
			WriteError(w, r, h.opts.Log, err)
			return
		}
		entries, cursor, err = h.store.Revocations(r.Context(), "")
	}
	if err != nil {
		WriteError(w, r, h.opts.Log, err)
		return
	}
	WriteJSON(w, http.StatusOK, h.build(entries, cursor, reset))
}

func (h *verifyHandler) build(entries []store.Revocation, cursor string, reset bool) *contract.RevocationFeed {
	now := h.opts.Now().Unix()
	keep := int64(h.opts.AccessLifetime / time.Second)
	out := &contract.RevocationFeed{Cursor: cursor, Reset: reset, Tokens: []contract.RevokedToken{}, Users: []contract.RevokedUser{}, Clients: []contract.RevokedClient{}}
	var users, clients latest
	for _, e := range entries {
		switch {
		case e.Kind == store.KindToken:
			if e.At >= now {
				out.Tokens = append(out.Tokens, contract.RevokedToken{JTI: e.ID, Exp: e.At})
			}
		case reset && keep > 0 && e.At+keep < now:
			// A users/clients entry older than the token lifetime covers nothing live.
		case e.Kind == store.KindUser:
			users.add(e.ID, e.At)
		case e.Kind == store.KindClient:
			clients.add(e.ID, e.At)
		}
	}
	for i, id := range users.ids {
		out.Users = append(out.Users, contract.RevokedUser{Sub: id, Before: users.at[i]})
	}
	for i, id := range clients.ids {
		out.Clients = append(out.Clients, contract.RevokedClient{ClientID: id, Before: clients.at[i]})
	}
	return out
}

// latest keeps, per id and in first-seen order, the latest "before" time.
type latest struct {
	ids   []string
	at    []int64
	index map[string]int
}

func (l *latest) add(id string, at int64) {
	if l.index == nil {
		l.index = map[string]int{}
	}
	if i, ok := l.index[id]; ok {
		l.at[i] = max(l.at[i], at)
		return
	}
	l.index[id] = len(l.ids)
	l.ids = append(l.ids, id)
	l.at = append(l.at, at)
}
