// token.go serves the back-channel endpoints of the authorization server:
// POST /token (authorization_code and refresh_token grants), POST /revoke (RFC 7009)
// and POST /introspect (RFC 7662), each authenticating the client by its registered
// method (client_secret_basic, client_secret_post or none).
//
// Codes and refresh tokens are validated completely before they are consumed, so a
// rejected request never burns them; consumption is atomic, so of concurrent
// redemptions exactly one wins. A replayed code or a reused refresh token revokes
// the whole family of tokens the grant produced.

package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/keys"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/metrics"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/store"
)

// tokenStore is the state these endpoints use; *store.Store implements it.
type tokenStore interface {
	GetClient(ctx context.Context, id string) (*auth.Client, error)
	PeekCode(ctx context.Context, code string) (*auth.Code, error)
	CodeVerifierFailed(ctx context.Context, code string, limit int64, ttl time.Duration) (int64, error)
	GetRefresh(ctx context.Context, hash string) (*auth.RefreshRecord, error)
	Redeem(ctx context.Context, r *store.Redemption) ([]byte, error)
	Replayed(ctx context.Context, kind, hash string) ([]byte, error)
	SpentFamily(ctx context.Context, kind, hash string) (string, error)
	FamilyRevoked(ctx context.Context, fid string) (bool, error)
	RevokeFamily(ctx context.Context, fid string) (int, error)
	GetAccess(ctx context.Context, jti string) (*auth.AccessRecord, error)
	RevokeAccess(ctx context.Context, a *auth.AccessRecord) error
}

var _ tokenStore = (*store.Store)(nil)

// tokenOptions configure a [tokenHandler].
type tokenOptions struct {
	AccessLifetime  time.Duration
	RefreshLifetime time.Duration
	// CodeLifetime bounds codes by the injected clock as well as by the Redis TTL;
	// default 10 minutes.
	CodeLifetime time.Duration
	// DefaultAudience is aud when the request named no resource.
	DefaultAudience string
	// RetryWindow is how long a spent code or refresh token still gets, from the same
	// client with the same credential, the answer its spending produced (a client that
	// saw 503 while the step ran, or two processes sharing one refresh token); after
	// it, presenting it again is a replay that revokes the family. 0: no window.
	RetryWindow time.Duration
	Now         func() time.Time
	Log         *slog.Logger
}

// tokenHandler serves /token, /revoke and /introspect.
type tokenHandler struct {
	store tokenStore
	codec *keys.Codec
	opts  tokenOptions
	log   *slog.Logger
}

// newToken validates the options and returns the handler.
func newToken(st tokenStore, codec *keys.Codec, opts tokenOptions) (*tokenHandler, error) {
	if st == nil || codec == nil {
		return nil, errors.New("token: store and codec are required")
	}
	if opts.AccessLifetime <= 0 || opts.RefreshLifetime <= 0 || opts.DefaultAudience == "" {
		return nil, errors.New("token: lifetimes must be positive and a default audience set")
	}
	if opts.CodeLifetime <= 0 {
		opts.CodeLifetime = 10 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &tokenHandler{store: st, codec: codec, opts: opts, log: opts.Log}, nil
}

// RefreshPrefix starts every refresh token (docs/interfaces.md).
const RefreshPrefix = "rt-"

// tokenResponse is the successful token response (RFC 6749 §5.1).
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	// RefreshToken is issued only to clients registered for the refresh_token grant.
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
}

// readForm parses an application/x-www-form-urlencoded body and refuses repeated
// parameters (RFC 6749 §3.2), except those listed in repeatable.
func readForm(r *http.Request, repeatable ...string) (url.Values, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, auth.ErrInvalidRequest.WithDescription("the body must be application/x-www-form-urlencoded")
	}
	if err := r.ParseForm(); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, err
		}
		return nil, auth.ErrInvalidRequest.WithDescription("the form body is malformed")
	}
	for k, v := range r.PostForm {
		if len(v) > 1 && !contains(repeatable, k) {
			return nil, auth.ErrInvalidRequest.WithDescription("parameter %s was sent more than once", k)
		}
	}
	return r.PostForm, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// authenticate identifies and authenticates the calling client by its registered
// method. Any failure is invalid_client (401), with a Basic challenge when Basic
// credentials were tried.
func (h *tokenHandler) authenticate(r *http.Request, form url.Values) (*auth.Client, error) {
	id, secret, basic := r.BasicAuth()
	fail := auth.ErrInvalidClient
	if basic {
		fail = fail.WithChallenge(BasicChallenge)
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return nil, fail.WithDescription("malformed Basic credentials")
		}
		if form.Get("client_secret") != "" || (form.Get("client_id") != "" && form.Get("client_id") != id) {
			return nil, auth.ErrInvalidRequest.WithDescription("use one client authentication method per request")
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	if id == "" {
		return nil, fail.WithDescription("client authentication is required")
	}
	c, err := h.store.GetClient(r.Context(), id)
	if errors.Is(err, auth.ErrNotFound) {
		return nil, fail.WithDescription("unknown client")
	}
	if err != nil {
		return nil, err
	}
	SetClientID(r.Context(), c.ID)
	method := c.Metadata.TokenEndpointAuthMethod
	switch {
	case method == "none" || c.IsPublic():
		if basic || secret != "" {
			return nil, fail.WithDescription("this client is public and authenticates with client_id only")
		}
	case method == "client_secret_post" && basic:
		return nil, fail.WithDescription("this client is registered for client_secret_post")
	case method != "client_secret_post" && !basic:
		return nil, auth.ErrInvalidClient.WithDescription("this client is registered for client_secret_basic")
	case !c.VerifySecret(secret):
		return nil, fail.WithDescription("client authentication failed")
	}
	if c.ExpiresAt > 0 && c.ExpiresAt <= h.opts.Now().Unix() {
		return nil, fail.WithDescription("the client registration expired")
	}
	return c, nil
}

// Token handles POST /token.
func (h *tokenHandler) Token(w http.ResponseWriter, r *http.Request) {
	resp, err := h.token(r)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	metrics.TokensIssued.WithLabelValues(r.PostForm.Get("grant_type")).Inc()
	WriteJSON(w, http.StatusOK, resp)
}

func (h *tokenHandler) token(r *http.Request) (*tokenResponse, error) {
	form, err := readForm(r, "resource")
	if err != nil {
		return nil, err
	}
	client, err := h.authenticate(r, form)
	if err != nil {
		return nil, err
	}
	switch gt := form.Get("grant_type"); gt {
	case "authorization_code":
		return h.authorizationCode(r.Context(), client, form)
	case "refresh_token":
		if !client.HasGrantType("refresh_token") {
			// RFC 6749 §5.2; the client did not register the grant (RFC 7591 §2).
			return nil, auth.ErrUnauthorizedClient.WithDescription("this client is not registered for the refresh_token grant")
		}
		return h.refresh(r.Context(), client, form)
	case "":
		return nil, auth.ErrInvalidRequest.WithDescription("grant_type is required")
	default:
		return nil, auth.ErrUnsupportedGrantType.WithDescription("grant_type %q is not supported", gt)
	}
}

var errGrant = auth.ErrInvalidGrant

// MaxVerifierFailures is how many wrong PKCE verifiers a code survives. Other
// refusals (wrong client, redirect URI, resource) never consume the code; wrong
// verifiers do, eventually, so that nobody gets unlimited guesses.
const MaxVerifierFailures = 10

func (h *tokenHandler) authorizationCode(ctx context.Context, client *auth.Client, form url.Values) (*tokenResponse, error) {
	code := form.Get("code")
	if code == "" {
		return nil, auth.ErrInvalidRequest.WithDescription("code is required")
	}
	verifier := form.Get("code_verifier")
	grant, err := h.store.PeekCode(ctx, code)
	if errors.Is(err, auth.ErrNotFound) {
		// A retry of an exchange whose answer was lost gets that answer; anything else
		// is a replay.
		if resp := h.replay(ctx, "code", auth.HashSecret(code), code+"\x00"+verifier); resp != nil {
			return resp, nil
		}
		h.replayedCode(ctx, code)
		return nil, errGrant.WithDescription("the code is invalid, expired or was already used")
	}
	if err != nil {
		return nil, err
	}
	// Everything is checked before the code is consumed.
	req := &grant.Request
	if h.opts.Now().Unix() >= grant.IssuedAt+int64(h.opts.CodeLifetime/time.Second) {
		return nil, errGrant.WithDescription("the code expired")
	}
	if req.ClientID != client.ID {
		return nil, errGrant.WithDescription("the code was issued to another client")
	}
	if ru := form.Get("redirect_uri"); (req.RedirectExplicit || ru != "") && ru != req.RedirectURI {
		return nil, errGrant.WithDescription("redirect_uri does not match the authorization request")
	}
	if verifier == "" {
		return nil, errGrant.WithDescription("code_verifier is required")
	}
	if !auth.VerifyPKCE(verifier, req.Challenge) {
		if _, err := h.store.CodeVerifierFailed(ctx, code, MaxVerifierFailures, h.opts.CodeLifetime); err != nil {
			return nil, err
		}
		return nil, errGrant.WithDescription("code_verifier does not match the code_challenge")
	}
	aud, err := narrowAudience(form["resource"], req.Resources, h.opts.DefaultAudience)
	if err != nil {
		return nil, err
	}
	rec := auth.RefreshRecord{FamilyID: grant.FamilyID, ClientID: client.ID, Sub: grant.Sub, Login: grant.Login,
		Name: grant.Name, Scope: req.Scope, Audience: fullAudience(req.Resources, h.opts.DefaultAudience)}
	resp, err := h.issue(ctx, client, rec, aud, req.Scope, "code", auth.HashSecret(code), code+"\x00"+verifier)
	if errors.Is(err, store.ErrSpent) {
		// Someone redeemed it between our read and now, and it is no retry of theirs.
		h.replayedCode(ctx, code)
		return nil, errGrant.WithDescription("the code was already used")
	}
	return resp, err
}

// replay returns the answer kept for a spent credential (kind, hash) within its retry
// window when secret opens it: the same client retrying with the same credential.
func (h *tokenHandler) replay(ctx context.Context, kind, hash, secret string) *tokenResponse {
	if h.opts.RetryWindow <= 0 {
		return nil
	}
	b, err := h.store.Replayed(ctx, kind, hash)
	if err != nil {
		return nil
	}
	resp, err := unseal(secret, b, h.opts.Now().Unix())
	if err != nil {
		return nil
	}
	// A family revoked since (by the user, the client, an admin) answers no retry.
	fid, err := h.store.SpentFamily(ctx, kind, hash)
	if err != nil {
		return nil
	}
	if revoked, err := h.store.FamilyRevoked(ctx, fid); err != nil || revoked {
		return nil
	}
	h.log.Info("token: retry within the window answered with the same tokens", "grant", kind)
	return resp
}

// replayedCode revokes what the first redemption of code issued, if it was redeemed.
func (h *tokenHandler) replayedCode(ctx context.Context, code string) {
	fid, err := h.store.SpentFamily(ctx, "code", auth.HashSecret(code))
	if err != nil {
		return
	}
	n, err := h.store.RevokeFamily(ctx, fid)
	h.log.Warn("token: authorization code replayed; family revoked", "tokens_revoked", n, "error", err)
}

func fullAudience(resources []string, def string) []string {
	if len(resources) == 0 {
		return []string{def}
	}
	return resources
}

// narrowAudience returns the audience for this token: the resources the token request
// names (each must be among the granted ones, RFC 8707 §2.2) or all granted ones.
func narrowAudience(requested, granted []string, def string) ([]string, error) {
	full := fullAudience(granted, def)
	if len(requested) == 0 {
		return full, nil
	}
	res, err := auth.ParseResources(requested)
	if err != nil {
		return nil, auth.ErrInvalidTarget.WithDescription("%s", err.Error())
	}
	for _, r := range res {
		if !contains(full, r) {
			return nil, auth.ErrInvalidTarget.WithDescription("resource %q was not granted", r)
		}
	}
	return res, nil
}

func (h *tokenHandler) refresh(ctx context.Context, client *auth.Client, form url.Values) (*tokenResponse, error) {
	rt := form.Get("refresh_token")
	if rt == "" {
		return nil, auth.ErrInvalidRequest.WithDescription("refresh_token is required")
	}
	hash := auth.HashSecret(rt)
	rec, err := h.store.GetRefresh(ctx, hash)
	if errors.Is(err, auth.ErrNotFound) {
		if resp := h.replay(ctx, "refresh", hash, rt); resp != nil {
			return resp, nil
		}
		h.reusedRefresh(ctx, hash)
		return nil, errGrant.WithDescription("the refresh token is invalid, expired, revoked or was already used")
	}
	if err != nil {
		return nil, err
	}
	if rec.ClientID != client.ID {
		return nil, errGrant.WithDescription("the refresh token was issued to another client")
	}
	if h.opts.Now().Unix() >= rec.ExpiresAt {
		return nil, errGrant.WithDescription("the refresh token expired")
	}
	scope := rec.Scope
	if s := form.Get("scope"); s != "" {
		ns, err := auth.ParseScope(s, "")
		if err != nil || !auth.ScopeCovers(rec.Scope, ns) {
			return nil, auth.ErrInvalidScope.WithDescription("a refresh may narrow the scope but never widen it")
		}
		scope = ns
	}
	aud, err := narrowAudience(form["resource"], rec.Audience, h.opts.DefaultAudience)
	if err != nil {
		return nil, err
	}
	resp, err := h.issue(ctx, client, *rec, aud, scope, "refresh", hash, rt)
	if errors.Is(err, store.ErrSpent) {
		h.reusedRefresh(ctx, hash)
		return nil, errGrant.WithDescription("the refresh token was already used")
	}
	return resp, err
}

// reusedRefresh revokes the family of a refresh token presented after rotation.
func (h *tokenHandler) reusedRefresh(ctx context.Context, hash string) {
	metrics.RefreshReuse.Inc()
	fid, err := h.store.SpentFamily(ctx, "refresh", hash)
	if err != nil {
		return
	}
	n, err := h.store.RevokeFamily(ctx, fid)
	h.log.Warn("token: refresh token reused; family revoked", "tokens_revoked", n, "error", err)
}

// issue mints an access token and a new refresh token in the family of rec, and spends
// the credential (kind, hash) for them in one step (store.Redeem). The refresh token
// keeps the family's full scope and audience; the access token gets the possibly
// narrowed ones. Neither outlives the client registration. secret opens the answer kept
// for a retry. If the credential was spent meanwhile by a request whose answer is still
// kept and opens with secret, that answer is returned: two holders of one refresh token,
// or a retry racing its original, get the same tokens.
func (h *tokenHandler) issue(ctx context.Context, client *auth.Client, rec auth.RefreshRecord, aud []string, scope, kind, hash, secret string) (*tokenResponse, error) {
	now := h.opts.Now()
	accessExp := now.Add(h.opts.AccessLifetime).Unix()
	refreshExp := now.Add(h.opts.RefreshLifetime).Unix()
	if client.ExpiresAt > 0 {
		accessExp = min(accessExp, client.ExpiresAt)
		refreshExp = min(refreshExp, client.ExpiresAt)
	}
	jti := auth.NewTokenID()
	claims := &keys.Claims{ClientID: client.ID, Scope: scope, Login: rec.Login, Name: rec.Name}
	claims.Subject = rec.Sub
	claims.Audience = aud
	claims.ID = jti
	claims.IssuedAt = jwtTime(now.Unix())
	claims.ExpiresAt = jwtTime(accessExp)
	at, err := h.codec.Mint(ctx, claims)
	if err != nil {
		return nil, err
	}
	g := &auth.Grant{
		Access: auth.AccessRecord{JTI: jti, FamilyID: rec.FamilyID, ClientID: client.ID, Sub: rec.Sub, Login: rec.Login,
			Scope: scope, Audience: aud, IssuedAt: now.Unix(), ExpiresAt: accessExp},
	}
	var rt string
	if client.HasGrantType("refresh_token") {
		rt = RefreshPrefix + auth.NewID()
		g.RefreshHash = auth.HashSecret(rt)
	} else {
		// No refresh token: the family (revocation by user, client, replay) lives as long
		// as its access token.
		refreshExp = accessExp
	}
	rec.IssuedAt, rec.ExpiresAt = now.Unix(), refreshExp
	g.Refresh = rec
	resp := &tokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: accessExp - now.Unix(), RefreshToken: rt, Scope: scope}
	var sealed []byte
	if h.opts.RetryWindow > 0 {
		if sealed, err = seal(secret, resp, accessExp); err != nil {
			return nil, err
		}
	}
	kept, err := h.store.Redeem(ctx, &store.Redemption{Kind: kind, Hash: hash, Grant: g,
		MarkerTTL: h.opts.RefreshLifetime, Sealed: sealed, Window: h.opts.RetryWindow})
	switch {
	case kept != nil:
		if other, err := unseal(secret, kept, now.Unix()); err == nil {
			return other, nil
		}
		return nil, store.ErrSpent
	case errors.Is(err, store.ErrRevoked):
		// A concurrent replay revoked the family while we issued: the grant itself was
		// won fairly (the one success among the concurrent requests) and Redeem has
		// already killed what it stored, so the answer stands, dead on arrival.
		return resp, nil
	case err != nil:
		return nil, err
	}
	return resp, nil
}

func jwtTime(unix int64) *jwt.NumericDate { return jwt.NewNumericDate(time.Unix(unix, 0)) }
