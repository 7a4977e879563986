package httpapi

import (
	"net/http"
	"strings"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
)

// Revoke handles POST /revoke (RFC 7009). Any well-formed request from an
// authenticated client gets 200, whether or not the token was valid or the caller's:
// a client revokes only its own tokens, and learns nothing about others'. Revoking a
// refresh token revokes its whole family; revoking an access token revokes that one.
func (h *tokenHandler) Revoke(w http.ResponseWriter, r *http.Request) {
	if err := h.revoke(r); err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	NoStore(w)
	w.WriteHeader(http.StatusOK)
}

func (h *tokenHandler) revoke(r *http.Request) error {
	form, err := readForm(r)
	if err != nil {
		return err
	}
	client, err := h.authenticate(r, form)
	if err != nil {
		return err
	}
	return h.grants.Revoke(r.Context(), client, form.Get("token"))
}

// Introspect handles POST /introspect (RFC 7662). The caller must authenticate as a
// registered client and learns about its own tokens only; everything else, valid
// or not, is {"active":false} and nothing more.
func (h *tokenHandler) Introspect(w http.ResponseWriter, r *http.Request) {
	out, err := h.introspect(r)
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	WriteJSON(w, http.StatusOK, out)
}

var inactive = map[string]any{"active": false}

func (h *tokenHandler) introspect(r *http.Request) (map[string]any, error) {
	form, err := readForm(r)
	if err != nil {
		return nil, err
	}
	client, err := h.authenticate(r, form)
	if err != nil {
		return nil, err
	}
	if client.IsPublic() {
		// RFC 7662 §2.1: the caller authenticates; a public client's client_id proves
		// nothing, so anybody holding a token could learn who it belongs to.
		return nil, auth.ErrInvalidClient.WithDescription("introspection needs client authentication: client_secret_basic or client_secret_post")
	}
	tok := form.Get("token")
	if tok == "" {
		return nil, auth.ErrInvalidRequest.WithDescription("token is required")
	}
	ctx := r.Context()
	if strings.HasPrefix(tok, auth.RefreshPrefix) {
		rec, err := h.store.GetRefresh(ctx, auth.HashSecret(tok))
		if err != nil || rec.ClientID != client.ID || rec.ExpiresAt <= h.now().Unix() {
			return inactive, nil
		}
		return map[string]any{"active": true, "token_type": "refresh_token", "client_id": rec.ClientID,
			"sub": rec.Sub, "username": rec.Login, "scope": rec.Scope, "aud": rec.Audience,
			"iat": rec.IssuedAt, "exp": rec.ExpiresAt, "iss": h.codec.Issuer()}, nil
	}
	cl, err := h.codec.Verify(ctx, tok, "")
	if err != nil || cl.ClientID != client.ID {
		return inactive, nil
	}
	if _, err := h.store.GetAccess(ctx, cl.ID); err != nil {
		return inactive, nil
	}
	return map[string]any{"active": true, "token_type": "Bearer", "client_id": cl.ClientID, "sub": cl.Subject,
		"username": cl.Login, "name": cl.Name, "scope": cl.Scope, "aud": cl.Audience, "iss": cl.Issuer,
		"jti": cl.ID, "iat": cl.IssuedAt.Unix(), "nbf": cl.IssuedAt.Unix(), "exp": cl.ExpiresAt.Unix()}, nil
}
