// Package identity makes the bridge serve only requests whose identity headers the
// gateway's edge signed: the mcpauth plugin adds X-Auth-Identity-Signature, an HMAC over
// the identity, the method, host and path and the time, with a secret the bridge shares
// (MCPBRIDGE_IDENTITY_SECRET). A caller that reaches the bridge without passing Traefik,
// another container on its network say, cannot name a user: it has no signature, or one
// made for another request, or an old one.
package identity

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/mcp-oauth-gateway/gateway/internal/contract"
)

// Require returns a handler that passes a request to next only when its identity
// signature verifies with key at now(); otherwise it answers 403 with a JSON error and
// logs why at warn.
func Require(key []byte, next http.Handler, log *slog.Logger, now func() time.Time) http.Handler {
	if now == nil {
		now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := contract.VerifyIdentity(key, r.Header.Get(contract.HeaderIdentitySignature), now(),
			r.Method, r.Host, r.URL.Path, contract.IdentityValues(r.Header))
		if err == nil {
			next.ServeHTTP(w, r)
			return
		}
		log.Warn("request refused: identity not signed by the edge", "error", err.Error(),
			"remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(map[string]string{
			"error":             "identity_unverified",
			"error_description": err.Error() + "; this endpoint is served through the gateway only",
		})
	})
}

// Sign adds a signature for r's identity headers (as they are) at now: the bridge's own
// healthcheck, which calls /mcp inside the container, uses it.
func Sign(key []byte, r *http.Request, now time.Time) {
	r.Header.Set(contract.HeaderIdentitySignature,
		contract.SignIdentity(key, now.Unix(), r.Method, r.Host, r.URL.Path, contract.IdentityValues(r.Header)))
}
