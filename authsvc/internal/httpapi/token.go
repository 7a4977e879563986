// token.go serves the back-channel endpoints of the authorization server:
// POST /token (authorization_code and refresh_token grants), POST /revoke (RFC 7009)
// and POST /introspect (RFC 7662), each authenticating the client by its registered
// method (client_secret_basic, client_secret_post or none).
//
// The grants themselves (validation, rotation, replay and reuse detection, the retry
// window) are the domain's: auth.Grants. These handlers read the form, authenticate
// the client and write the answer.

package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/keys"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/metrics"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/store"
)

// tokenStore is what these endpoints read themselves (client authentication,
// introspection); the grants and revocation go through auth.Grants. *store.Store
// implements it.
type tokenStore interface {
	GetClient(ctx context.Context, id string) (*auth.Client, error)
	GetRefresh(ctx context.Context, hash string) (*auth.RefreshRecord, error)
	GetAccess(ctx context.Context, jti string) (*auth.AccessRecord, error)
}

var _ tokenStore = (*store.Store)(nil)

// tokenHandler serves /token, /revoke and /introspect.
type tokenHandler struct {
	store  tokenStore
	grants *auth.Grants
	codec  *keys.Codec
	now    func() time.Time
	log    *slog.Logger
}

// newToken returns the handler.
func newToken(st tokenStore, grants *auth.Grants, codec *keys.Codec, now func() time.Time, log *slog.Logger) (*tokenHandler, error) {
	if st == nil || grants == nil || codec == nil {
		return nil, errors.New("token: store, grants and codec are required")
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &tokenHandler{store: st, grants: grants, codec: codec, now: now, log: log}, nil
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
		if len(v) > 1 && !slices.Contains(repeatable, k) {
			return nil, auth.ErrInvalidRequest.WithDescription("parameter %s was sent more than once", k)
		}
	}
	return r.PostForm, nil
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
	if c.ExpiresAt > 0 && c.ExpiresAt <= h.now().Unix() {
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

func (h *tokenHandler) token(r *http.Request) (*auth.TokenResponse, error) {
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
		return h.grants.ExchangeCode(r.Context(), client, auth.CodeExchange{Code: form.Get("code"),
			Verifier: form.Get("code_verifier"), RedirectURI: form.Get("redirect_uri"), Resources: form["resource"]})
	case "refresh_token":
		if !client.HasGrantType("refresh_token") {
			// RFC 6749 §5.2; the client did not register the grant (RFC 7591 §2).
			return nil, auth.ErrUnauthorizedClient.WithDescription("this client is not registered for the refresh_token grant")
		}
		return h.grants.Refresh(r.Context(), client, auth.RefreshRequest{Token: form.Get("refresh_token"),
			Scope: form.Get("scope"), Resources: form["resource"]})
	case "":
		return nil, auth.ErrInvalidRequest.WithDescription("grant_type is required")
	default:
		return nil, auth.ErrUnsupportedGrantType.WithDescription("grant_type %q is not supported", gt)
	}
}
