// Package store keeps authsvc's state in Redis (go-redis/v9). Nothing that must
// survive a restart, or be shared by several authsvc replicas, lives in process memory.
//
// One file per concern (clients.go, ratelimit.go, …) adds methods to [Store]. The
// consumers declare the small interfaces they need (httpapi's registerStore, …) and [Store]
// satisfies them. Shared pieces every file uses:
//   - [Key] builds every Redis key under the "oauth:" prefix (docs/authsvc.md "Code map" and docs/oauth.md "Redis keys added by the flow");
//   - [auth.HashSecret] and [auth.SecretMatches] store and compare secrets hashed, in constant time;
//   - [auth.ErrNotFound] for a missing (or expired) record, [auth.ErrExists] for a collision;
//   - [Store.wrap] turns Redis failures into errors matching [auth.ErrUnavailable], which
//     the HTTP edge answers with 503.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
)

// Prefix starts every key authsvc writes.
const Prefix = "oauth:"

// Key joins parts under [Prefix]: Key("client", id) == "oauth:client:"+id.
func Key(parts ...string) string {
	return Prefix + strings.Join(parts, ":")
}

// Store is the Redis-backed state of authsvc. It is safe for concurrent use.
type Store struct {
	rdb          redis.UniversalClient
	now          func() time.Time
	waitReplicas int
	waitTimeout  time.Duration
	log          *slog.Logger
}

// Options tune [New]. The zero value (or nil) means defaults.
type Options struct {
	// Now is the clock used for issued-at and expiry arithmetic; default time.Now.
	// Redis TTLs still run on Redis's clock.
	Now func() time.Time
	// WaitReplicas, when above zero, makes each write whose loss would undo what a
	// client or an administrator was told wait, with Redis' WAIT, until that many
	// replicas have it, for at most WaitTimeout: token grants (a code or a refresh token
	// redeemed), registrations, client updates and deletions, consents and
	// revocations. Redis replicates asynchronously: without it, a failover can lose the
	// last of them, and a client then holds a refresh token (or a client id) the new
	// master never saw, or a revoked token works again.
	WaitReplicas int
	WaitTimeout  time.Duration
	// Logger receives a warning when a write reached fewer replicas than WaitReplicas.
	Logger *slog.Logger
}

// New wraps an existing go-redis client.
func New(rdb redis.UniversalClient, opts *Options) *Store {
	s := &Store{rdb: rdb, now: time.Now, log: slog.Default()}
	if opts != nil {
		if opts.Now != nil {
			s.now = opts.Now
		}
		s.waitReplicas, s.waitTimeout = opts.WaitReplicas, opts.WaitTimeout
		if opts.Logger != nil {
			s.log = opts.Logger
		}
	}
	return s
}

// Conn says where Redis is: one server at URL, or, with Sentinels, the master the
// sentinels name MasterName (URL then gives only the database number and TLS).
type Conn struct {
	URL              string
	Password         string // overrides a password in URL; the data nodes' password
	Sentinels        []string
	MasterName       string
	SentinelPassword string
}

// Connect is [Open] for a [Conn]. It does not wait for Redis either.
func Connect(c Conn, opts *Options) (*Store, error) {
	rdb, err := Dial(c)
	if err != nil {
		return nil, err
	}
	return New(rdb, opts), nil
}

// Dial returns the go-redis client for c, with the timeouts of [Tune]: a failover
// client that follows the sentinels' master when Sentinels are set.
func Dial(c Conn) (*redis.Client, error) {
	o, err := redis.ParseURL(c.URL)
	if err != nil {
		return nil, fmt.Errorf("store: REDIS_URL: %w", err)
	}
	if c.Password != "" {
		o.Password = c.Password
	}
	Tune(o)
	if len(c.Sentinels) == 0 {
		return redis.NewClient(o), nil
	}
	return redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName: c.MasterName, SentinelAddrs: c.Sentinels, SentinelPassword: c.SentinelPassword,
		Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLSConfig,
		DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout,
		MaxRetries: o.MaxRetries, DialerRetries: o.DialerRetries,
	}), nil
}

// Open connects to the Redis at url (redis://, rediss:// or unix://); a non-empty
// password overrides one in the URL. It does not wait for Redis to answer: /health
// and each request report an outage instead, so authsvc starts before Redis does.
func Open(url, password string, opts *Options) (*Store, error) {
	return Connect(Conn{URL: url, Password: password}, opts)
}

// Tune sets the timeouts authsvc uses with Redis: a stalled or unreachable Redis fails
// a command within about 4 s (2 s per try, one retry, one dial per try) instead of
// hanging the request. go-redis would otherwise dial five times per try: with a Redis
// whose name no longer resolves (its container stopped) a registration took 20 s and
// hit the server's write timeout.
func Tune(o *redis.Options) {
	o.DialTimeout = 2 * time.Second
	o.ReadTimeout = 2 * time.Second
	o.WriteTimeout = 2 * time.Second
	o.MaxRetries = 1
	o.DialerRetries = 1
}

// Redis returns the underlying client, for files of this package and admin tools.
func (s *Store) Redis() redis.UniversalClient { return s.rdb }

// Now returns the store's clock reading.
func (s *Store) Now() time.Time { return s.now() }

// Close closes the connection pool.
func (s *Store) Close() error { return s.rdb.Close() }

// Ping checks that Redis answers; /health uses it.
func (s *Store) Ping(ctx context.Context) error {
	return s.wrap(s.rdb.Ping(ctx).Err())
}

// wrap maps go-redis errors: redis.Nil → auth.ErrNotFound, any other → auth.ErrUnavailable
// (with the cause), nil → nil.
func (s *Store) wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, redis.Nil):
		return auth.ErrNotFound
	case errors.Is(err, auth.ErrNotFound), errors.Is(err, auth.ErrExists), errors.Is(err, auth.ErrUnavailable):
		return err
	default:
		return auth.Unavailable(err)
	}
}
