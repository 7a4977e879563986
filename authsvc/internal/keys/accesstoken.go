// accesstoken.go mints and verifies authsvc's RFC 9068 JWT access tokens, in
// the shape docs/interfaces.md fixes: header alg/typ "at+jwt"/kid; claims iss, sub,
// aud (array), client_id, scope, jti, iat, nbf, exp, login, name.
//
// Verification follows the mcpauth plugin rule for rule (it is what /verify and
// /introspect use): alg from an allow-list and equal to the key's alg, key only by
// kid from our own key set, typ at+jwt, iss exact, exp/nbf/iat with at most 60 s
// skew, aud containing the resource. Revocation is the caller's concern.

package keys

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
	"github.com/mcp-oauth-gateway/gateway/internal/claimrules"
)

// Type is the JWT typ header of access tokens (RFC 9068 §2.1).
const TokenType = "at+jwt"

// Skew is the clock skew tolerated on exp, nbf and iat.
const TokenSkew = 60 * time.Second

// ErrInvalid wraps every verification failure; the wrapped error says which check.
var ErrInvalid = errors.New("accesstoken: invalid token")

// Keys is what this package needs from the signing key set; *Manager
// implements it. Implementations are safe for concurrent use.
type KeySource interface {
	// Signing returns the key to sign new tokens with.
	Signing(ctx context.Context) (*Key, error)
	// Lookup returns the key with id kid while it is still published.
	Lookup(ctx context.Context, kid string) (*Key, error)
}

var _ KeySource = (*Manager)(nil)

// Claims are the access token's claims.
type Claims struct {
	jwt.RegisteredClaims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	Login    string `json:"login"`
	Name     string `json:"name"`
}

// Codec mints and verifies access tokens for one issuer.
type Codec struct {
	issuer string
	keys   KeySource
	now    func() time.Time
}

// New returns a codec. now may be nil (time.Now).
func NewCodec(issuer string, keys KeySource, now func() time.Time) (*Codec, error) {
	if issuer == "" || keys == nil {
		return nil, errors.New("accesstoken: issuer and keys are required")
	}
	if now == nil {
		now = time.Now
	}
	return &Codec{issuer: issuer, keys: keys, now: now}, nil
}

// Issuer returns the iss value.
func (c *Codec) Issuer() string { return c.issuer }

// Mint signs claims. The caller fills sub, aud, client_id, scope, login, name, jti,
// iat and exp; Mint sets iss and nbf (= iat).
func (c *Codec) Mint(ctx context.Context, cl *Claims) (string, error) {
	k, err := c.keys.Signing(ctx)
	if err != nil {
		return "", fmt.Errorf("accesstoken: signing key: %w", err)
	}
	method := jwt.GetSigningMethod(k.Alg)
	if method == nil {
		return "", fmt.Errorf("accesstoken: unknown algorithm %q", k.Alg)
	}
	cl.Issuer = c.issuer
	cl.NotBefore = cl.IssuedAt
	t := jwt.NewWithClaims(method, cl)
	t.Header["typ"] = TokenType
	t.Header["kid"] = k.ID
	s, err := t.SignedString(k.SigningKey())
	if err != nil {
		return "", fmt.Errorf("accesstoken: sign: %w", err)
	}
	return s, nil
}

// SignAccess mints the access token of record a (auth.AccessSigner): its jti, subject,
// audience, client, scope, login, times, and the user's display name.
func (c *Codec) SignAccess(ctx context.Context, a *auth.AccessRecord, name string) (string, error) {
	cl := &Claims{ClientID: a.ClientID, Scope: a.Scope, Login: a.Login, Name: name}
	cl.Subject = a.Sub
	cl.Audience = a.Audience
	cl.ID = a.JTI
	cl.IssuedAt = jwt.NewNumericDate(time.Unix(a.IssuedAt, 0))
	cl.ExpiresAt = jwt.NewNumericDate(time.Unix(a.ExpiresAt, 0))
	return c.Mint(ctx, cl)
}

// AccessTokenID verifies raw (signature and claims, any audience; not revocation) and
// returns its jti (auth.AccessSigner).
func (c *Codec) AccessTokenID(ctx context.Context, raw string) (string, error) {
	cl, err := c.Verify(ctx, raw, "")
	if err != nil {
		return "", err
	}
	return cl.ID, nil
}

// allowedAlgs never contains "none"; HS256 only verifies when the key set's key for
// the kid is itself HS256, so an HS256 token signed with an RSA public key fails.
var allowedAlgs = []string{"RS256", "ES256", "HS256"}

// Verify checks a token and returns its claims. audience, when non-empty, must be in
// aud. The result says nothing about revocation.
func (c *Codec) Verify(ctx context.Context, raw, audience string) (*Claims, error) {
	if len(raw) > 8192 {
		return nil, fmt.Errorf("%w: token longer than 8192 bytes", ErrInvalid)
	}
	// The strict claim rule the edge applies too (package claimrules): struct decoding
	// alone would read "SUB" as sub and accept a NumericDate in a string.
	if parts := strings.Split(raw, "."); len(parts) == 3 {
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			return nil, fmt.Errorf("%w: payload is not base64url", ErrInvalid)
		}
		if err := claimrules.Check(payload); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(allowedAlgs),
		jwt.WithIssuer(c.issuer),
		jwt.WithLeeway(TokenSkew),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(c.now),
	}
	if audience != "" {
		opts = append(opts, jwt.WithAudience(audience))
	}
	var cl Claims
	_, err := jwt.NewParser(opts...).ParseWithClaims(raw, &cl, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != TokenType {
			return nil, fmt.Errorf("typ %q is not %s", typ, TokenType)
		}
		kid, _ := t.Header["kid"].(string)
		k, err := c.keys.Lookup(ctx, kid)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", kid, err)
		}
		if t.Method.Alg() != k.Alg {
			return nil, fmt.Errorf("alg %s does not match the key's %s", t.Method.Alg(), k.Alg)
		}
		return k.VerificationKey(), nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if cl.Subject == "" || cl.ID == "" || cl.IssuedAt == nil {
		return nil, fmt.Errorf("%w: sub, jti and iat are required", ErrInvalid)
	}
	return &cl, nil
}
