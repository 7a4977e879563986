// The authorization flow's records: the request, carried through GitHub login and
// consent, and the code it ends in.

package auth

// AuthRequest is a validated /authorize request, carried through login and consent
// until a code is issued.
type AuthRequest struct {
	ClientID    string   `json:"client_id"`
	RedirectURI string   `json:"redirect_uri"`
	State       string   `json:"state,omitempty"`
	Challenge   string   `json:"code_challenge"`
	Scope       string   `json:"scope,omitempty"`
	Resources   []string `json:"resource,omitempty"`
	// RedirectExplicit records whether the request named redirect_uri (RFC 6749
	// §4.1.3: then the token request must repeat it).
	RedirectExplicit bool `json:"redirect_explicit,omitempty"`
}

// LoginState is an in-flight GitHub login: the request to resume, the PKCE verifier
// sent to GitHub and the hash of the browser-binding nonce held in a cookie.
type LoginState struct {
	Request  AuthRequest `json:"request"`
	Verifier string      `json:"verifier"`
	Binding  string      `json:"binding"`
}

// Session is authsvc's own browser session after a GitHub login.
type Session struct {
	ID      string `json:"-"`
	Sub     string `json:"sub"`
	Login   string `json:"login"`
	Name    string `json:"name"`
	Created int64  `json:"created"`
}

// ConsentRequest is a request waiting on the consent page. CSRFHash is the hash of the
// form's CSRF token; SessionID binds it to the browser session that saw the page.
type ConsentRequest struct {
	Request   AuthRequest `json:"request"`
	SessionID string      `json:"session_id"`
	CSRFHash  string      `json:"csrf_hash"`
}

// Code is an issued authorization code's grant.
type Code struct {
	Request  AuthRequest `json:"request"`
	Sub      string      `json:"sub"`
	Login    string      `json:"login"`
	Name     string      `json:"name"`
	FamilyID string      `json:"family_id"`
	IssuedAt int64       `json:"iat"`
}
