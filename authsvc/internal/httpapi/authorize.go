// authorize.go is the browser half of the OAuth 2.1 authorization code flow:
// GET /authorize validates the client's request, GET /callback completes the GitHub
// login, and the consent page (GET shown inline, POST /consent) records the human's
// decision before a code is issued. The code goes back to the client's redirect URI
// with state (byte for byte) and iss (RFC 9207).
//
// Errors that cannot be trusted to go back to the client (unknown client, bad
// redirect URI, a broken login) become HTML pages and never a redirect; every other
// error is redirected to the client with error, state and iss.

package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/github"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/metrics"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/store"
)

// authorizeStore is the state the flow keeps; *store.Store implements it.
type authorizeStore interface {
	GetClient(ctx context.Context, id string) (*auth.Client, error)
	PutLoginState(ctx context.Context, state string, ls *auth.LoginState, ttl time.Duration) error
	TakeLoginState(ctx context.Context, state string) (*auth.LoginState, error)
	PutSession(ctx context.Context, s *auth.Session, ttl time.Duration) error
	GetSession(ctx context.Context, id string) (*auth.Session, error)
	DeleteSession(ctx context.Context, id string) error
	PutConsentRequest(ctx context.Context, id string, cr *auth.ConsentRequest, ttl time.Duration) error
	GetConsentRequest(ctx context.Context, id string) (*auth.ConsentRequest, error)
	TakeConsentRequest(ctx context.Context, id string) (*auth.ConsentRequest, error)
	// RememberConsent stores, and Consent returns, the user's approvals of a client
	// (an opaque value auth.WithApproval writes).
	RememberConsent(ctx context.Context, sub, clientID, approvals string, expiresAt int64) error
	Consent(ctx context.Context, sub, clientID string) (string, error)
	PutCode(ctx context.Context, code string, c *auth.Code, ttl time.Duration) error
}

var _ authorizeStore = (*store.Store)(nil)

// GitHub is the login provider; *github.Client implements it.
type GitHub interface {
	AuthCodeURL(state, verifier string) string
	Login(ctx context.Context, code, verifier string) (github.User, error)
}

var _ GitHub = (*github.Client)(nil)

// authorizeOptions configure a [authorizeHandler].
type authorizeOptions struct {
	// Issuer is the exact issuer URL (iss on redirects).
	Issuer string
	// AllowedUsers are lower-case GitHub logins, or "*" for all.
	AllowedUsers []string
	// SessionLifetime bounds the browser session after a login.
	SessionLifetime time.Duration
	// CodeLifetime bounds codes; login states and consent forms live at most 10 min.
	CodeLifetime time.Duration
	// Cookies signs the login and session cookies.
	Cookies *Cookies
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// authorizeHandler serves /authorize, /callback and /consent.
type authorizeHandler struct {
	store  authorizeStore
	gh     GitHub
	opts   authorizeOptions
	allowA bool
	allow  map[string]bool
	log    *slog.Logger
}

// flowTTL bounds login states and pending consents (OAuth 2.1: ≤ 10 minutes).
const flowTTL = 10 * time.Minute

// newAuthorize validates the options and returns the handler.
func newAuthorize(st authorizeStore, gh GitHub, opts authorizeOptions) (*authorizeHandler, error) {
	if st == nil || gh == nil || opts.Cookies == nil || opts.Issuer == "" {
		return nil, errors.New("authorize: store, GitHub client, cookies and issuer are required")
	}
	if opts.SessionLifetime <= 0 || opts.CodeLifetime <= 0 || opts.CodeLifetime > flowTTL {
		return nil, errors.New("authorize: session lifetime must be positive and code lifetime in (0, 10m]")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	h := &authorizeHandler{store: st, gh: gh, opts: opts, allow: map[string]bool{}, log: opts.Log}
	for _, u := range opts.AllowedUsers {
		if u == "*" {
			h.allowA = true
		}
		h.allow[strings.ToLower(u)] = true
	}
	return h, nil
}

func (h *authorizeHandler) allowed(login string) bool {
	return h.allowA || h.allow[strings.ToLower(login)]
}

// Authorize handles GET /authorize.
func (h *authorizeHandler) Authorize(w http.ResponseWriter, r *http.Request) {
	req, client, ok := h.parse(w, r)
	if !ok {
		return
	}
	sess, err := h.session(r)
	if err != nil {
		h.unavailable(w, err)
		return
	}
	if sess != nil {
		if !h.allowed(sess.Login) {
			_ = h.store.DeleteSession(r.Context(), sess.ID)
			h.opts.Cookies.Clear(w, SessionCookie)
		} else {
			h.proceed(w, r, sess, client, req)
			return
		}
	}
	h.startLogin(w, r, req)
}

// parse validates the request. Client and redirect URI problems are shown as a page;
// the rest are redirected. ok is false when a response was written.
func (h *authorizeHandler) parse(w http.ResponseWriter, r *http.Request) (*auth.AuthRequest, *auth.Client, bool) {
	q := r.URL.Query()
	for _, k := range []string{"client_id", "redirect_uri"} {
		if len(q[k]) > 1 {
			showError(w, h.log, http.StatusBadRequest, "Invalid request", "The parameter "+k+" was sent more than once.", "Start again from your application.")
			return nil, nil, false
		}
	}
	clientID := q.Get("client_id")
	if clientID == "" {
		showError(w, h.log, http.StatusBadRequest, "Unknown application", "The request names no client_id.", "Start again from your application.")
		return nil, nil, false
	}
	client, err := h.store.GetClient(r.Context(), clientID)
	if errors.Is(err, auth.ErrNotFound) {
		showError(w, h.log, http.StatusBadRequest, "Unknown application",
			"This application is not registered here, or its registration expired or was deleted.",
			"Reconnect the application (remove and add the connector again) so that it registers anew.")
		return nil, nil, false
	}
	if err != nil {
		h.unavailable(w, err)
		return nil, nil, false
	}
	redirect := q.Get("redirect_uri")
	explicit := redirect != ""
	if !explicit {
		if len(client.Metadata.RedirectURIs) != 1 {
			showError(w, h.log, http.StatusBadRequest, "Missing redirect URI",
				"The request has no redirect_uri and the application registered several.", "Update or reconnect the application.")
			return nil, nil, false
		}
		redirect = client.Metadata.RedirectURIs[0]
	} else if !auth.MatchRedirect(client.Metadata.RedirectURIs, redirect) {
		showError(w, h.log, http.StatusBadRequest, "Redirect URI mismatch",
			"The redirect_uri in this request is not one the application registered.",
			"Reconnect the application so that it registers its current redirect URI.")
		return nil, nil, false
	}
	req := &auth.AuthRequest{ClientID: client.ID, RedirectURI: redirect, RedirectExplicit: explicit, State: q.Get("state")}
	fail := func(e *auth.Error, desc string) (*auth.AuthRequest, *auth.Client, bool) {
		h.redirectError(w, r, req, e.Code, desc)
		return nil, nil, false
	}
	for _, k := range []string{"response_type", "state", "code_challenge", "code_challenge_method", "scope"} {
		if len(q[k]) > 1 {
			return fail(auth.ErrInvalidRequest, k+" was sent more than once")
		}
	}
	if len(req.State) > 2048 {
		return fail(auth.ErrInvalidRequest, "state is longer than 2048 bytes")
	}
	if q.Get("response_type") != "code" {
		return fail(auth.ErrUnsupportedResponseType, "response_type must be code")
	}
	if q.Get("code_challenge_method") != auth.PKCEMethod {
		return fail(auth.ErrInvalidRequest, "code_challenge_method must be S256 (PKCE is required)")
	}
	if !auth.ValidPKCE(q.Get("code_challenge")) {
		return fail(auth.ErrInvalidRequest, "code_challenge must be 43-128 characters of [A-Za-z0-9-._~]")
	}
	req.Challenge = q.Get("code_challenge")
	resources, err := auth.ParseResources(q["resource"])
	if err != nil {
		return fail(auth.ErrInvalidTarget, err.Error())
	}
	req.Resources = resources
	scope, err := auth.ParseScope(q.Get("scope"), client.Metadata.Scope)
	if err != nil {
		return fail(auth.ErrInvalidScope, err.Error())
	}
	req.Scope = scope
	return req, client, true
}

// session returns the browser's login session: nil without one (no cookie, expired), an
// error only when the storage could not be asked.
func (h *authorizeHandler) session(r *http.Request) (*auth.Session, error) {
	sid, ok := h.opts.Cookies.Get(r, SessionCookie)
	if !ok {
		return nil, nil
	}
	sess, err := h.store.GetSession(r.Context(), sid)
	if errors.Is(err, auth.ErrNotFound) {
		return nil, nil
	}
	return sess, err
}

// startLogin sends the browser to GitHub with a fresh single-use state bound to this
// browser by the login cookie.
func (h *authorizeHandler) startLogin(w http.ResponseWriter, r *http.Request, req *auth.AuthRequest) {
	state, nonce, verifier := auth.NewID(), auth.NewID(), auth.NewID()
	ls := &auth.LoginState{Request: *req, Verifier: verifier, Binding: auth.HashSecret(nonce)}
	if err := h.store.PutLoginState(r.Context(), state, ls, flowTTL); err != nil {
		h.unavailable(w, err)
		return
	}
	h.opts.Cookies.Set(w, LoginCookie, nonce, flowTTL)
	http.Redirect(w, r, h.gh.AuthCodeURL(state, verifier), http.StatusFound)
}

func (h *authorizeHandler) unavailable(w http.ResponseWriter, err error) {
	h.log.Error("authorize: storage", "error", err)
	showError(w, h.log, http.StatusServiceUnavailable, "Temporarily unavailable",
		"The authorization server cannot reach its storage right now.",
		"Try again in a moment: reload this page or send the form again (if it then says the form was used, connect again from your application).")
}

// Callback handles GET /callback, where GitHub sends the browser back.
func (h *authorizeHandler) Callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := q.Get("state")
	restart := "Go back to your application and connect again."
	if state == "" {
		showError(w, h.log, http.StatusBadRequest, "Login failed", "The GitHub response carries no state.", restart)
		return
	}
	ls, err := h.store.TakeLoginState(r.Context(), state)
	if errors.Is(err, auth.ErrNotFound) {
		showError(w, h.log, http.StatusBadRequest, "Login expired", "This login link is unknown, expired or was already used.", restart)
		return
	}
	if err != nil {
		h.unavailable(w, err)
		return
	}
	nonce, ok := h.opts.Cookies.Get(r, LoginCookie)
	h.opts.Cookies.Clear(w, LoginCookie)
	if !ok || !auth.SecretMatches(ls.Binding, nonce) {
		showError(w, h.log, http.StatusBadRequest, "Login failed", "This login was started in another browser.", restart)
		return
	}
	req := &ls.Request
	if e := q.Get("error"); e != "" {
		h.redirectError(w, r, req, auth.ErrAccessDenied.Code, "the GitHub login was not completed")
		return
	}
	user, err := h.gh.Login(r.Context(), q.Get("code"), ls.Verifier)
	if err != nil {
		h.log.Warn("authorize: GitHub login failed", "error", err)
		showError(w, h.log, http.StatusBadGateway, "GitHub login failed", "GitHub did not confirm the login.", restart)
		return
	}
	if !h.allowed(user.Login) {
		h.log.Warn("authorize: GitHub user not allowed", "login", user.Login, "sub", user.ID)
		showError(w, h.log, http.StatusForbidden, "Access denied",
			"The GitHub account "+user.Login+" is not allowed to use this gateway.",
			"Ask the operator to add your GitHub login to ALLOWED_GITHUB_USERS.")
		return
	}
	h.log.Info("authorize: GitHub login", "login", user.Login, "sub", user.ID, "client_id", req.ClientID)
	sess := &auth.Session{ID: auth.NewID(), Sub: user.ID, Login: user.Login, Name: user.Name, Created: h.opts.Now().Unix()}
	if err := h.store.PutSession(r.Context(), sess, h.opts.SessionLifetime); err != nil {
		h.unavailable(w, err)
		return
	}
	h.opts.Cookies.Set(w, SessionCookie, sess.ID, h.opts.SessionLifetime)
	client, err := h.store.GetClient(r.Context(), req.ClientID)
	if err != nil && !errors.Is(err, auth.ErrNotFound) {
		h.unavailable(w, err)
		return
	}
	if err != nil {
		showError(w, h.log, http.StatusBadRequest, "Unknown application", "The application's registration ended during the login.", restart)
		return
	}
	h.proceed(w, r, sess, client, req)
}

// proceed issues a code when the user already approved this client for this scope and
// these resources, and shows the consent page otherwise.
func (h *authorizeHandler) proceed(w http.ResponseWriter, r *http.Request, sess *auth.Session, client *auth.Client, req *auth.AuthRequest) {
	stored, err := h.store.Consent(r.Context(), sess.Sub, client.ID)
	if err == nil && auth.Approved(stored, req.Scope, req.Resources) {
		h.issueCode(w, r, sess, client, req, http.StatusFound)
		return
	}
	if err != nil && !errors.Is(err, auth.ErrNotFound) {
		h.unavailable(w, err)
		return
	}
	id, csrf := auth.NewID(), auth.NewID()
	cr := &auth.ConsentRequest{Request: *req, SessionID: sess.ID, CSRFHash: auth.HashSecret(csrf)}
	if err := h.store.PutConsentRequest(r.Context(), id, cr, flowTTL); err != nil {
		h.unavailable(w, err)
		return
	}
	name := client.Metadata.ClientName
	if name == "" {
		name = client.ID
	}
	host := req.RedirectURI
	if u, err := url.Parse(req.RedirectURI); err == nil && u.Host != "" {
		host = u.Scheme + "://" + u.Host
	} else if err == nil {
		host = u.Scheme + ":"
	}
	render(w, h.log, http.StatusOK, "consent", consentPage{
		ClientName: name, ClientID: client.ID, Login: sess.Login, RedirectHost: host, Loopback: auth.LoopbackRedirect(req.RedirectURI),
		Scope: req.Scope, Resources: req.Resources, ConsentID: id, CSRF: csrf,
	})
}

// ConsentDecision handles POST /consent.
func (h *authorizeHandler) ConsentDecision(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		showError(w, h.log, http.StatusBadRequest, "Invalid form", "The consent form could not be read.", "Go back to your application and connect again.")
		return
	}
	// A cross-site POST is refused even before the token check; the session cookie
	// is SameSite=Lax, so such a POST would also arrive without a session.
	if o := r.Header.Get("Origin"); o != "" && o != "null" && o != h.opts.Issuer {
		showError(w, h.log, http.StatusForbidden, "Forbidden", "The consent form was posted from another site.", "Approve applications only on this server's own page.")
		return
	}
	id, csrf := r.PostForm.Get("consent_id"), r.PostForm.Get("csrf_token")
	// A storage failure is said as such (503, try again): the form is still good, and
	// calling it expired would send the user through the whole flow again.
	sess, err := h.session(r)
	if err != nil {
		h.unavailable(w, err)
		return
	}
	cr, err := h.store.GetConsentRequest(r.Context(), id)
	if err != nil && !errors.Is(err, auth.ErrNotFound) {
		h.unavailable(w, err)
		return
	}
	if cr == nil || sess == nil || cr.SessionID != sess.ID || !auth.SecretMatches(cr.CSRFHash, csrf) {
		showError(w, h.log, http.StatusForbidden, "Consent expired", "This consent form is expired, was already used, or belongs to another session.", "Go back to your application and connect again.")
		return
	}
	req := &cr.Request
	approve := r.PostForm.Get("decision") == "approve"
	// What can fail without harm is read before the form is spent.
	var client *auth.Client
	var stored string
	if approve {
		client, err = h.store.GetClient(r.Context(), req.ClientID)
		if errors.Is(err, auth.ErrNotFound) {
			showError(w, h.log, http.StatusBadRequest, "Unknown application", "The application's registration ended.", "Reconnect the application.")
			return
		} else if err != nil {
			h.unavailable(w, err)
			return
		}
		stored, err = h.store.Consent(r.Context(), sess.Sub, client.ID)
		if err != nil && !errors.Is(err, auth.ErrNotFound) {
			h.unavailable(w, err)
			return
		}
	}
	if _, err := h.store.TakeConsentRequest(r.Context(), id); errors.Is(err, auth.ErrNotFound) {
		showError(w, h.log, http.StatusForbidden, "Consent expired", "This consent form was already used.", "Go back to your application and connect again.")
		return
	} else if err != nil {
		h.unavailable(w, err)
		return
	}
	if !approve {
		h.redirectErrorStatus(w, r, req, auth.ErrAccessDenied.Code, "the user denied the request", http.StatusSeeOther)
		return
	}
	if err := h.store.RememberConsent(r.Context(), sess.Sub, client.ID, auth.WithApproval(stored, req.Scope, req.Resources), client.ExpiresAt); err != nil {
		h.unavailable(w, err)
		return
	}
	h.issueCode(w, r, sess, client, req, http.StatusSeeOther)
}

func (h *authorizeHandler) issueCode(w http.ResponseWriter, r *http.Request, sess *auth.Session, client *auth.Client, req *auth.AuthRequest, status int) {
	code := auth.NewID()
	c := &auth.Code{Request: *req, Sub: sess.Sub, Login: sess.Login, Name: sess.Name,
		FamilyID: auth.NewID(), IssuedAt: h.opts.Now().Unix()}
	if err := h.store.PutCode(r.Context(), code, c, h.opts.CodeLifetime); err != nil {
		h.unavailable(w, err)
		return
	}
	h.redirect(w, r, req, url.Values{"code": {code}}, status)
}

func (h *authorizeHandler) redirectError(w http.ResponseWriter, r *http.Request, req *auth.AuthRequest, code, desc string) {
	h.redirectErrorStatus(w, r, req, code, desc, http.StatusFound)
}

func (h *authorizeHandler) redirectErrorStatus(w http.ResponseWriter, r *http.Request, req *auth.AuthRequest, code, desc string, status int) {
	metrics.OAuthErrors.WithLabelValues(code).Inc()
	h.redirect(w, r, req, url.Values{"error": {code}, "error_description": {desc}}, status)
}

// redirect sends the browser to the client's redirect URI with params, state and iss,
// keeping any query the registered URI already has.
func (h *authorizeHandler) redirect(w http.ResponseWriter, r *http.Request, req *auth.AuthRequest, params url.Values, status int) {
	if req.State != "" {
		params.Set("state", req.State)
	}
	params.Set("iss", h.opts.Issuer)
	target := req.RedirectURI
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	w.Header().Set("Location", target+sep+params.Encode())
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
}
