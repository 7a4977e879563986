package contract

import "net/http"

// The identity headers the mcpauth plugin sets on every request it lets through (after
// removing any the client sent, in every spelling), and that authsvc's /verify answers
// with for ForwardAuth deployments. The bridge reads them: the user id keys sessions
// and pools, the login and scopes feed the tool policy. The plugin keeps its own copy
// of these defaults (it cannot import this package); a plugin test compares the two.
const (
	HeaderUserID    = "X-User-Id"        // the token's sub
	HeaderUserLogin = "X-User-Login"     // the GitHub login
	HeaderUserName  = "X-User-Name"      // the display name
	HeaderClientID  = "X-Auth-Client-Id" // the OAuth client the token was issued to
	HeaderScopes    = "X-Auth-Scopes"    // the granted scopes, space-separated
)

// IdentityHeaders lists the identity headers in the order above.
var IdentityHeaders = []string{HeaderUserID, HeaderUserLogin, HeaderUserName, HeaderClientID, HeaderScopes}

// IdentityValues are the identity header values of h, in the order the signature
// ([SignIdentity], [VerifyIdentity]) covers them.
func IdentityValues(h http.Header) [][]string {
	v := make([][]string, len(IdentityHeaders))
	for i, name := range IdentityHeaders {
		v[i] = h.Values(name)
	}
	return v
}
