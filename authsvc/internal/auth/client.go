package auth

import (
	"context"
	"fmt"
)

// ClientMetadata is the RFC 7591 §2 metadata authsvc keeps for a client; its JSON
// form is the wire form. Unknown request fields never get here.
type ClientMetadata struct {
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	ApplicationType         string   `json:"application_type,omitempty"`
	ClientName              string   `json:"client_name,omitempty"`
	ClientURI               string   `json:"client_uri,omitempty"`
	LogoURI                 string   `json:"logo_uri,omitempty"`
	Scope                   string   `json:"scope,omitempty"`
	Contacts                []string `json:"contacts,omitempty"`
	TOSURI                  string   `json:"tos_uri,omitempty"`
	PolicyURI               string   `json:"policy_uri,omitempty"`
	SoftwareID              string   `json:"software_id,omitempty"`
	SoftwareVersion         string   `json:"software_version,omitempty"`
}

// Client is a registered OAuth client as stored under oauth:client:{client_id}.
// Secrets are stored only as hashes ([HashSecret]).
type Client struct {
	ID       string         `json:"client_id"`
	Metadata ClientMetadata `json:"metadata"`
	// SecretHash is empty for public clients (token_endpoint_auth_method "none").
	SecretHash            string `json:"client_secret_hash,omitempty"`
	RegistrationTokenHash string `json:"registration_token_hash"`
	IssuedAt              int64  `json:"client_id_issued_at"`
	// ExpiresAt is when the registration (and its secret) ends, Unix seconds; 0 = never.
	// It is also client_secret_expires_at on the wire.
	ExpiresAt int64 `json:"expires_at"`
}

// HasGrantType reports whether the client registered the grant type (RFC 7591 §2:
// absent grant_types means authorization_code alone).
func (c *Client) HasGrantType(gt string) bool {
	for _, g := range c.Metadata.GrantTypes {
		if g == gt {
			return true
		}
	}
	return len(c.Metadata.GrantTypes) == 0 && gt == "authorization_code"
}

// IsPublic reports whether the client has no secret (token_endpoint_auth_method "none").
func (c *Client) IsPublic() bool { return c.SecretHash == "" }

// VerifySecret reports, in constant time, whether secret is this client's secret.
// It is always false for a public client.
func (c *Client) VerifySecret(secret string) bool {
	return SecretMatches(c.SecretHash, secret)
}

// VerifyRegistrationToken reports, in constant time, whether token is this client's
// RFC 7592 registration access token.
func (c *Client) VerifyRegistrationToken(token string) bool {
	return SecretMatches(c.RegistrationTokenHash, token)
}

// HasRedirectURI reports whether uri is registered, by exact string comparison.
func (c *Client) HasRedirectURI(uri string) bool {
	for _, u := range c.Metadata.RedirectURIs {
		if u == uri {
			return true
		}
	}
	return false
}

// ClientEnder is what ending a client needs from storage.
type ClientEnder interface {
	// RevokeClient revokes every token family of the client, publishing them on the
	// revocation feed, and forgets its consents. It returns how many tokens died.
	RevokeClient(ctx context.Context, clientID string) (int, error)
	// DeleteClient removes the client's record ([ErrNotFound] when there is none).
	DeleteClient(ctx context.Context, id string) error
}

// DeleteClient ends a client, for an RFC 7592 DELETE and for the operator's
// delete-client alike: first every token issued to it dies and its consents are
// forgotten, then its record goes, and with it its codes, which the token endpoint
// redeems only for a live client. When the revocation fails the client is kept, so
// the call can be retried. It returns how many tokens were revoked.
func DeleteClient(ctx context.Context, s ClientEnder, id string) (int, error) {
	n, err := s.RevokeClient(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("revoke the tokens of client %s: %w", id, err)
	}
	return n, s.DeleteClient(ctx, id)
}
