package server

import "github.com/mcp-oauth-gateway/gateway/authsvc/internal/register"

// Flow is what the OAuth flow (issue 3: /authorize, /callback, /consent, /token,
// /revoke, /introspect, /verify, /internal/revocations) contributes to the server.
type Flow struct {
	// Routes are added to the routing table after the core routes.
	Routes []Route
	// OnClientDelete runs when a client is deleted through RFC 7592, to revoke its
	// tokens, codes and consents.
	OnClientDelete register.DeleteHook
}

// buildFlow constructs the OAuth flow handlers from d and lists their routes.
//
// ── OAuth flow routes go here (issue 3) ──
// Add a route with one line, for example:
//
//	{Method: http.MethodPost, Path: metadata.PathToken, Handler: tok, CORS: true},
//
// Path constants live in the metadata package so the discovery document and the
// router cannot disagree.
func buildFlow(d Deps) (*Flow, error) {
	return &Flow{}, nil
}
