package server

import (
	"net/http"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/oauthflow"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/register"
	"github.com/mcp-oauth-gateway/gateway/internal/contract"
)

// Flow is what the OAuth flow (/authorize, /callback, /consent, /token,
// /revoke, /introspect, /verify, /internal/revocations) contributes to the server.
type Flow struct {
	// Routes are added to the routing table after the core routes.
	Routes []Route
	// OnClientDelete runs when a client is deleted through RFC 7592, to revoke its
	// tokens, codes and consents.
	OnClientDelete register.DeleteHook
}

// corsPaths are the flow endpoints a browser-based client calls cross-origin
// (without credentials). /authorize, /callback and /consent are navigations and
// must send no CORS headers; /verify and the revocation feed are server-to-server.
var corsPaths = map[string]bool{contract.PathToken: true, contract.PathRevoke: true, contract.PathIntrospect: true}

// buildFlow constructs the OAuth flow handlers from d and lists their routes.
// The handlers live in authsvc/internal/oauthflow and the packages it wires.
func buildFlow(d Deps) (*Flow, error) {
	f, err := oauthflow.New(oauthflow.Deps{Config: d.Config, Store: d.Store, Keys: d.Keys, Now: d.Now, Log: d.Logger,
		CIMDTransport: d.CIMDTransport})
	if err != nil {
		return nil, err
	}
	out := &Flow{OnClientDelete: f.OnClientDelete}
	f.Register(func(path string, h http.HandlerFunc, methods ...string) {
		for _, m := range methods {
			if m == http.MethodHead || (m == http.MethodOptions && corsPaths[path]) {
				continue // the router adds HEAD to GET routes and OPTIONS to CORS routes
			}
			out.Routes = append(out.Routes, Route{Method: m, Path: path, Handler: h, CORS: corsPaths[path]})
		}
	})
	return out, nil
}
