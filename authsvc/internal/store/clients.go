package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
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

// clientIndex is a sorted set of client ids scored by issue time, for listing.
// Entries of expired clients are removed lazily by ListClients.
var clientIndex = Key("clients")

func clientKey(id string) string { return Key("client", id) }

// CreateClient stores a new client. ttl 0 means no expiry; otherwise the record (and
// with it the secret and registration token) disappears after ttl. A client id that
// already exists is [ErrExists] and leaves the existing record untouched.
func (s *Store) CreateClient(ctx context.Context, c *Client, ttl time.Duration) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("store: encode client: %w", err)
	}
	// One script: the record and its index entry appear together, unless the id is
	// taken or was voided by a failed attempt (see voidClient).
	res, err := createClient.Run(ctx, s.rdb, []string{clientKey(c.ID), clientIndex, voidKey(c.ID)},
		b, ttl.Milliseconds(), c.IssuedAt, c.ID).Text()
	if err != nil {
		// The answer was lost, but the script may run yet (a stalled Redis): make sure
		// it never creates what the caller is told failed.
		go s.voidClient(c.ID)
		return s.wrap(err)
	}
	if res != "ok" {
		return ErrExists
	}
	s.settle(ctx, "a registration")
	return nil
}

var createClient = redis.NewScript(`
if redis.call('EXISTS', KEYS[3]) == 1 then return 'void' end
local ok
if tonumber(ARGV[2]) > 0 then
  ok = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
else
  ok = redis.call('SET', KEYS[1], ARGV[1], 'NX')
end
if not ok then return 'exists' end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return 'ok'`)

func voidKey(id string) string { return Key("client_void", id) }

// voidClient undoes a registration whose answer was an error: in one step it marks
// the id void (so a creation still on its way is refused when it arrives) and deletes
// what a creation that already ran stored. A client told 503 is thus never registered
// after all. It retries until Redis answers, for up to ten minutes.
func (s *Store) voidClient(id string) {
	deadline := time.Now().Add(10 * time.Minute)
	for wait := 500 * time.Millisecond; time.Now().Before(deadline); wait = min(2*wait, 15*time.Second) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, voidKey(id), 1, time.Hour)
			p.Del(ctx, clientKey(id))
			p.ZRem(ctx, clientIndex, id)
			return nil
		})
		cancel()
		if err == nil {
			return
		}
		time.Sleep(wait)
	}
}

// CacheClient stores a client described by a metadata document (its id is the
// document's URL) for ttl, outside the registered clients' index.
func (s *Store) CacheClient(ctx context.Context, c *Client, ttl time.Duration) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("store: encode client: %w", err)
	}
	return s.wrap(s.rdb.Set(ctx, clientKey(c.ID), b, ttl).Err())
}

// GetClient returns the client, or [ErrNotFound] if it never existed, was deleted or
// expired.
func (s *Store) GetClient(ctx context.Context, id string) (*Client, error) {
	b, err := s.rdb.Get(ctx, clientKey(id)).Bytes()
	if err != nil {
		return nil, s.wrap(err)
	}
	var c Client
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("store: decode client %s: %w", id, err)
	}
	return &c, nil
}

// UpdateClient replaces an existing client's record and keeps its remaining TTL.
// A client that is gone is [ErrNotFound]; an update never resurrects it.
func (s *Store) UpdateClient(ctx context.Context, c *Client) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("store: encode client: %w", err)
	}
	res, err := s.rdb.SetArgs(ctx, clientKey(c.ID), b, redis.SetArgs{Mode: "XX", KeepTTL: true}).Result()
	if err != nil {
		return s.wrap(err) // redis.Nil (XX failed) becomes ErrNotFound
	}
	if res != "OK" {
		return ErrNotFound
	}
	s.settle(ctx, "a client update")
	return nil
}

// DeleteClient removes the client. Deleting a missing client is [ErrNotFound].
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	var del *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		del = p.Del(ctx, clientKey(id))
		p.ZRem(ctx, clientIndex, id)
		return nil
	})
	if err != nil {
		return s.wrap(err)
	}
	if del.Val() == 0 {
		return ErrNotFound
	}
	s.settle(ctx, "a client deletion")
	return nil
}

// ListClients returns every live client, oldest first, and prunes index entries whose
// record expired.
func (s *Store) ListClients(ctx context.Context) ([]*Client, error) {
	ids, err := s.rdb.ZRange(ctx, clientIndex, 0, -1).Result()
	if err != nil {
		return nil, s.wrap(err)
	}
	var out []*Client
	const batch = 500
	for start := 0; start < len(ids); start += batch {
		end := min(start+batch, len(ids))
		keys := make([]string, 0, end-start)
		for _, id := range ids[start:end] {
			keys = append(keys, clientKey(id))
		}
		vals, err := s.rdb.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, s.wrap(err)
		}
		var gone []any
		for i, v := range vals {
			str, ok := v.(string)
			if !ok {
				gone = append(gone, ids[start+i])
				continue
			}
			var c Client
			if err := json.Unmarshal([]byte(str), &c); err != nil {
				return nil, fmt.Errorf("store: decode client %s: %w", ids[start+i], err)
			}
			out = append(out, &c)
		}
		if len(gone) > 0 {
			if err := s.rdb.ZRem(ctx, clientIndex, gone...).Err(); err != nil {
				return nil, s.wrap(err)
			}
		}
	}
	return out, nil
}
