// The token endpoint's grants (OAuth 2.1 §4.1.3, §4.3): an authorization code or a
// refresh token exchanged for an access token and, for clients registered for it, a
// new refresh token.
//
// Codes and refresh tokens are validated completely before they are consumed, so a
// refused request never burns them; consumption is atomic (GrantStore.Redeem), so of
// concurrent redemptions exactly one wins. A replayed code or a reused refresh token
// revokes the whole family of tokens the grant produced. Within the retry window, the
// same client presenting the same credential again gets the answer its spending
// produced (a client that saw 503 while the step ran).

package auth

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// GrantStore is what issuing grants needs from storage; the Redis adapter
// (store.Store) implements it.
type GrantStore interface {
	PeekCode(ctx context.Context, code string) (*Code, error)
	CodeVerifierFailed(ctx context.Context, code string, limit int64, ttl time.Duration) (int64, error)
	GetRefresh(ctx context.Context, hash string) (*RefreshRecord, error)
	Redeem(ctx context.Context, r *Redemption) ([]byte, error)
	Replayed(ctx context.Context, kind, hash string) ([]byte, error)
	SpentFamily(ctx context.Context, kind, hash string) (string, error)
	FamilyRevoked(ctx context.Context, fid string) (bool, error)
	RevokeFamily(ctx context.Context, fid string) (int, error)
	GetAccess(ctx context.Context, jti string) (*AccessRecord, error)
	RevokeAccess(ctx context.Context, a *AccessRecord) error
}

// AccessSigner signs and reads access tokens; keys.Codec implements it.
type AccessSigner interface {
	// SignAccess returns the signed access token for a, which also carries the user's
	// display name.
	SignAccess(ctx context.Context, a *AccessRecord, name string) (string, error)
	// AccessTokenID verifies an access token's signature and claims (not its
	// revocation) and returns its id (jti).
	AccessTokenID(ctx context.Context, raw string) (string, error)
}

// Redemption is spending an authorization code or a refresh token for a new grant, in
// one step: the spent credential is deleted, its replay marker set, the grant stored
// (access token, refresh token, family, indexes), and a sealed copy of the answer kept
// for the retry window. A client whose answer was lost (a Redis stall after the step
// ran; the client saw 503) and that retries with the same credential within the window
// gets that same answer, not a reuse revocation.
type Redemption struct {
	// Kind is "code" or "refresh"; Hash is HashSecret of the spent credential.
	Kind, Hash string
	Grant      *Grant
	// MarkerTTL is how long the spent marker stays (replays revoke the family).
	MarkerTTL time.Duration
	// Sealed is the answer as only the credential's holder can open it; Window is how
	// long it is kept (0: not kept, no retry).
	Sealed []byte
	Window time.Duration
}

var (
	// ErrSpent: the credential was already spent and its retry window is over (or it
	// never existed): a replay.
	ErrSpent = errors.New("store: credential already spent")
	// ErrRevoked means the family was revoked while a grant was being issued.
	ErrRevoked = errors.New("store: grant revoked")
)

// RefreshPrefix starts every refresh token (docs/interfaces.md).
const RefreshPrefix = "rt-"

// MaxVerifierFailures is how many wrong PKCE verifiers a code survives. Other
// refusals (wrong client, redirect URI, resource) never consume the code; wrong
// verifiers do, eventually, so that nobody gets unlimited guesses.
const MaxVerifierFailures = 10

// TokenResponse is the successful token response (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	// RefreshToken is issued only to clients registered for the refresh_token grant.
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
}

// GrantOptions configure [NewGrants].
type GrantOptions struct {
	AccessLifetime  time.Duration
	RefreshLifetime time.Duration
	// CodeLifetime bounds codes by the injected clock as well as by the storage TTL;
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
	// OnRefreshReuse, if set, is called when a reused refresh token revokes its family
	// (the metrics count it).
	OnRefreshReuse func()
	// OnRevoke, if set, is called after each revocation Grants makes, with its reason:
	// RevokedRefreshToken, RevokedAccessToken, RevokedForReuse, RevokedForCodeReplay.
	OnRevoke func(reason string)
}

// Reasons a revocation is reported with (GrantOptions.OnRevoke, and the metrics).
const (
	RevokedRefreshToken  = "revoke_refresh_token" // a client revoked a refresh token (its family)
	RevokedAccessToken   = "revoke_access_token"  // a client revoked an access token
	RevokedForReuse      = "refresh_reuse"        // a rotated refresh token came back
	RevokedForCodeReplay = "code_replay"          // a spent authorization code came back
	RevokedClientDeleted = "client_deleted"       // a client deleted itself (RFC 7592)
)

// revoked reports a revocation that succeeded.
func (g *Grants) revoked(reason string, err error) {
	if err == nil && g.opts.OnRevoke != nil {
		g.opts.OnRevoke(reason)
	}
}

// Grants issues tokens for authorization codes and refresh tokens.
type Grants struct {
	store  GrantStore
	signer AccessSigner
	opts   GrantOptions
	log    *slog.Logger
}

// NewGrants validates the options and returns the service.
func NewGrants(st GrantStore, signer AccessSigner, opts GrantOptions) (*Grants, error) {
	if st == nil || signer == nil {
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
	return &Grants{store: st, signer: signer, opts: opts, log: opts.Log}, nil
}

// CodeExchange is an authorization_code token request.
type CodeExchange struct {
	Code, Verifier string
	// RedirectURI is the request's redirect_uri ("" when absent).
	RedirectURI string
	// Resources are the request's resource parameters, unparsed.
	Resources []string
}

// RefreshRequest is a refresh_token token request.
type RefreshRequest struct {
	Token string
	// Scope is the request's scope ("" keeps the granted one).
	Scope string
	// Resources are the request's resource parameters, unparsed.
	Resources []string
}

var errGrant = ErrInvalidGrant

// ExchangeCode redeems an authorization code for client (authenticated by the caller).
func (g *Grants) ExchangeCode(ctx context.Context, client *Client, x CodeExchange) (*TokenResponse, error) {
	code, verifier := x.Code, x.Verifier
	if code == "" {
		return nil, ErrInvalidRequest.WithDescription("code is required")
	}
	grant, err := g.store.PeekCode(ctx, code)
	if errors.Is(err, ErrNotFound) {
		// A retry of an exchange whose answer was lost gets that answer; anything else
		// is a replay.
		if resp := g.replay(ctx, "code", HashSecret(code), code+"\x00"+verifier); resp != nil {
			return resp, nil
		}
		g.replayedCode(ctx, code)
		return nil, errGrant.WithDescription("the code is invalid, expired or was already used")
	}
	if err != nil {
		return nil, err
	}
	// Everything is checked before the code is consumed.
	req := &grant.Request
	if g.opts.Now().Unix() >= grant.IssuedAt+int64(g.opts.CodeLifetime/time.Second) {
		return nil, errGrant.WithDescription("the code expired")
	}
	if req.ClientID != client.ID {
		return nil, errGrant.WithDescription("the code was issued to another client")
	}
	if ru := x.RedirectURI; (req.RedirectExplicit || ru != "") && ru != req.RedirectURI {
		return nil, errGrant.WithDescription("redirect_uri does not match the authorization request")
	}
	if verifier == "" {
		return nil, errGrant.WithDescription("code_verifier is required")
	}
	if !VerifyPKCE(verifier, req.Challenge) {
		if _, err := g.store.CodeVerifierFailed(ctx, code, MaxVerifierFailures, g.opts.CodeLifetime); err != nil {
			return nil, err
		}
		return nil, errGrant.WithDescription("code_verifier does not match the code_challenge")
	}
	aud, err := narrowAudience(x.Resources, req.Resources, g.opts.DefaultAudience)
	if err != nil {
		return nil, err
	}
	rec := RefreshRecord{FamilyID: grant.FamilyID, ClientID: client.ID, Sub: grant.Sub, Login: grant.Login,
		Name: grant.Name, Scope: req.Scope, Audience: fullAudience(req.Resources, g.opts.DefaultAudience)}
	resp, err := g.issue(ctx, client, rec, aud, req.Scope, "code", HashSecret(code), code+"\x00"+verifier)
	if errors.Is(err, ErrSpent) {
		// Someone redeemed it between our read and now, and it is no retry of theirs.
		g.replayedCode(ctx, code)
		return nil, errGrant.WithDescription("the code was already used")
	}
	return resp, err
}

// Refresh redeems a refresh token for client (authenticated by the caller, and
// registered for the refresh_token grant).
func (g *Grants) Refresh(ctx context.Context, client *Client, x RefreshRequest) (*TokenResponse, error) {
	rt := x.Token
	if rt == "" {
		return nil, ErrInvalidRequest.WithDescription("refresh_token is required")
	}
	hash := HashSecret(rt)
	rec, err := g.store.GetRefresh(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		if resp := g.replay(ctx, "refresh", hash, rt); resp != nil {
			return resp, nil
		}
		g.reusedRefresh(ctx, hash)
		return nil, errGrant.WithDescription("the refresh token is invalid, expired, revoked or was already used")
	}
	if err != nil {
		return nil, err
	}
	if rec.ClientID != client.ID {
		return nil, errGrant.WithDescription("the refresh token was issued to another client")
	}
	if g.opts.Now().Unix() >= rec.ExpiresAt {
		return nil, errGrant.WithDescription("the refresh token expired")
	}
	scope := rec.Scope
	if s := x.Scope; s != "" {
		ns, err := ParseScope(s, "")
		if err != nil || !ScopeCovers(rec.Scope, ns) {
			return nil, ErrInvalidScope.WithDescription("a refresh may narrow the scope but never widen it")
		}
		scope = ns
	}
	aud, err := narrowAudience(x.Resources, rec.Audience, g.opts.DefaultAudience)
	if err != nil {
		return nil, err
	}
	resp, err := g.issue(ctx, client, *rec, aud, scope, "refresh", hash, rt)
	if errors.Is(err, ErrSpent) {
		g.reusedRefresh(ctx, hash)
		return nil, errGrant.WithDescription("the refresh token was already used")
	}
	return resp, err
}

// replay returns the answer kept for a spent credential (kind, hash) within its retry
// window when secret opens it: the same client retrying with the same credential.
func (g *Grants) replay(ctx context.Context, kind, hash, secret string) *TokenResponse {
	if g.opts.RetryWindow <= 0 {
		return nil
	}
	b, err := g.store.Replayed(ctx, kind, hash)
	if err != nil {
		return nil
	}
	resp, err := unseal(secret, b, g.opts.Now().Unix())
	if err != nil {
		return nil
	}
	// A family revoked since (by the user, the client, an admin) answers no retry.
	fid, err := g.store.SpentFamily(ctx, kind, hash)
	if err != nil {
		return nil
	}
	if revoked, err := g.store.FamilyRevoked(ctx, fid); err != nil || revoked {
		return nil
	}
	g.log.Info("token: retry within the window answered with the same tokens", "grant", kind)
	return resp
}

// replayedCode revokes what the first redemption of code issued, if it was redeemed.
func (g *Grants) replayedCode(ctx context.Context, code string) {
	fid, err := g.store.SpentFamily(ctx, "code", HashSecret(code))
	if err != nil {
		return
	}
	n, err := g.store.RevokeFamily(ctx, fid)
	g.revoked(RevokedForCodeReplay, err)
	g.log.Warn("token: authorization code replayed; family revoked", "tokens_revoked", n, "error", err)
}

// reusedRefresh revokes the family of a refresh token presented after rotation.
func (g *Grants) reusedRefresh(ctx context.Context, hash string) {
	if g.opts.OnRefreshReuse != nil {
		g.opts.OnRefreshReuse()
	}
	fid, err := g.store.SpentFamily(ctx, "refresh", hash)
	if err != nil {
		return
	}
	n, err := g.store.RevokeFamily(ctx, fid)
	g.revoked(RevokedForReuse, err)
	g.log.Warn("token: refresh token reused; family revoked", "tokens_revoked", n, "error", err)
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
	res, err := ParseResources(requested)
	if err != nil {
		return nil, ErrInvalidTarget.WithDescription("%s", err.Error())
	}
	for _, r := range res {
		if !slices.Contains(full, r) {
			return nil, ErrInvalidTarget.WithDescription("resource %q was not granted", r)
		}
	}
	return res, nil
}

// issue mints an access token and a new refresh token in the family of rec, and spends
// the credential (kind, hash) for them in one step (GrantStore.Redeem). The refresh
// token keeps the family's full scope and audience; the access token gets the possibly
// narrowed ones. Neither outlives the client registration. secret opens the answer kept
// for a retry. If the credential was spent meanwhile by a request whose answer is still
// kept and opens with secret, that answer is returned: two holders of one refresh token,
// or a retry racing its original, get the same tokens.
func (g *Grants) issue(ctx context.Context, client *Client, rec RefreshRecord, aud []string, scope, kind, hash, secret string) (*TokenResponse, error) {
	now := g.opts.Now()
	accessExp := now.Add(g.opts.AccessLifetime).Unix()
	refreshExp := now.Add(g.opts.RefreshLifetime).Unix()
	if client.ExpiresAt > 0 {
		accessExp = min(accessExp, client.ExpiresAt)
		refreshExp = min(refreshExp, client.ExpiresAt)
	}
	access := AccessRecord{JTI: NewTokenID(), FamilyID: rec.FamilyID, ClientID: client.ID, Sub: rec.Sub, Login: rec.Login,
		Scope: scope, Audience: aud, IssuedAt: now.Unix(), ExpiresAt: accessExp}
	at, err := g.signer.SignAccess(ctx, &access, rec.Name)
	if err != nil {
		return nil, err
	}
	gr := &Grant{Access: access}
	var rt string
	if client.HasGrantType("refresh_token") {
		rt = RefreshPrefix + NewID()
		gr.RefreshHash = HashSecret(rt)
	} else {
		// No refresh token: the family (revocation by user, client, replay) lives as long
		// as its access token.
		refreshExp = accessExp
	}
	rec.IssuedAt, rec.ExpiresAt = now.Unix(), refreshExp
	gr.Refresh = rec
	resp := &TokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: accessExp - now.Unix(), RefreshToken: rt, Scope: scope}
	var sealed []byte
	if g.opts.RetryWindow > 0 {
		if sealed, err = seal(secret, resp, accessExp); err != nil {
			return nil, err
		}
	}
	kept, err := g.store.Redeem(ctx, &Redemption{Kind: kind, Hash: hash, Grant: gr,
		MarkerTTL: g.opts.RefreshLifetime, Sealed: sealed, Window: g.opts.RetryWindow})
	switch {
	case kept != nil:
		if other, err := unseal(secret, kept, now.Unix()); err == nil {
			return other, nil
		}
		return nil, ErrSpent
	case errors.Is(err, ErrRevoked):
		// A concurrent replay revoked the family while we issued: the grant itself was
		// won fairly (the one success among the concurrent requests) and Redeem has
		// already killed what it stored, so the answer stands, dead on arrival.
		return resp, nil
	case err != nil:
		return nil, err
	}
	return resp, nil
}

// Revoke revokes token for client (RFC 7009): a refresh token's whole family, or one
// access token. A token that is unknown, invalid, expired or another client's is left
// alone and is no error: a client revokes only its own tokens and learns nothing about
// others'.
func (g *Grants) Revoke(ctx context.Context, client *Client, token string) error {
	if token == "" {
		return ErrInvalidRequest.WithDescription("token is required")
	}
	if strings.HasPrefix(token, RefreshPrefix) {
		rec, err := g.store.GetRefresh(ctx, HashSecret(token))
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if rec.ClientID == client.ID {
			_, err = g.store.RevokeFamily(ctx, rec.FamilyID)
			g.revoked(RevokedRefreshToken, err)
		}
		return err
	}
	jti, err := g.signer.AccessTokenID(ctx, token)
	if err != nil {
		return nil
	}
	a, err := g.store.GetAccess(ctx, jti)
	if err != nil || a.ClientID != client.ID {
		return nil
	}
	err = g.store.RevokeAccess(ctx, a)
	g.revoked(RevokedAccessToken, err)
	return err
}
