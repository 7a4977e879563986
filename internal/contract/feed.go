package contract

// RevocationFeed is the document authsvc's revocation feed ([PathRevocationFeed],
// docs/interfaces.md) answers, and the mcpauth plugin in every Traefik replica reads
// (with its own decoder, checked against this type by the plugin's tests). Times are
// Unix seconds.
type RevocationFeed struct {
	// Cursor is what the next poll sends as ?since=.
	Cursor string `json:"cursor"`
	// Reset says the reader's view is too old: drop it and take this one whole.
	Reset   bool            `json:"reset"`
	Tokens  []RevokedToken  `json:"tokens"`
	Users   []RevokedUser   `json:"users"`
	Clients []RevokedClient `json:"clients"`
}

// RevokedToken is one revoked access token, listed until it expires (Exp).
type RevokedToken struct {
	JTI string `json:"jti"`
	Exp int64  `json:"exp"`
}

// RevokedUser: every token of the user issued before Before is revoked.
type RevokedUser struct {
	Sub    string `json:"sub"`
	Before int64  `json:"before"`
}

// RevokedClient: every token of the client issued before Before is revoked.
type RevokedClient struct {
	ClientID string `json:"client_id"`
	Before   int64  `json:"before"`
}
