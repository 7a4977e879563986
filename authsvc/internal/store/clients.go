package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
)

// clientIndex is a sorted set of client ids scored by issue time, for listing.
// Entries of expired clients are removed lazily by ListClients.
var clientIndex = Key("clients")

func clientKey(id string) string { return Key("client", id) }

// CreateClient stores a new client. ttl 0 means no expiry; otherwise the record (and
// with it the secret and registration token) disappears after ttl. A client id that
// already exists is [auth.ErrExists] and leaves the existing record untouched.
func (s *Store) CreateClient(ctx context.Context, c *auth.Client, ttl time.Duration) error {
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
		return auth.ErrExists
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
func (s *Store) CacheClient(ctx context.Context, c *auth.Client, ttl time.Duration) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("store: encode client: %w", err)
	}
	return s.wrap(s.rdb.Set(ctx, clientKey(c.ID), b, ttl).Err())
}

// GetClient returns the client, or [auth.ErrNotFound] if it never existed, was deleted or
// expired.
func (s *Store) GetClient(ctx context.Context, id string) (*auth.Client, error) {
	b, err := s.rdb.Get(ctx, clientKey(id)).Bytes()
	if err != nil {
		return nil, s.wrap(err)
	}
	var c auth.Client
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("store: decode client %s: %w", id, err)
	}
	return &c, nil
}

// UpdateClient replaces an existing client's record and keeps its remaining TTL.
// A client that is gone is [auth.ErrNotFound]; an update never resurrects it.
func (s *Store) UpdateClient(ctx context.Context, c *auth.Client) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("store: encode client: %w", err)
	}
	res, err := s.rdb.SetArgs(ctx, clientKey(c.ID), b, redis.SetArgs{Mode: "XX", KeepTTL: true}).Result()
	if err != nil {
		return s.wrap(err) // redis.Nil (XX failed) becomes auth.ErrNotFound
	}
	if res != "OK" {
		return auth.ErrNotFound
	}
	s.settle(ctx, "a client update")
	return nil
}

// DeleteClient removes the client. Deleting a missing client is [auth.ErrNotFound].
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
		return auth.ErrNotFound
	}
	s.settle(ctx, "a client deletion")
	return nil
}

// ListClients returns every live client, oldest first, and prunes index entries whose
// record expired.
func (s *Store) ListClients(ctx context.Context) ([]*auth.Client, error) {
	ids, err := s.rdb.ZRange(ctx, clientIndex, 0, -1).Result()
	if err != nil {
		return nil, s.wrap(err)
	}
	var out []*auth.Client
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
			var c auth.Client
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
