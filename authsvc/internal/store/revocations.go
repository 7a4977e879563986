package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The revocation log behind GET /internal/revocations (docs/interfaces.md). Keys:
//
//	oauth:revlog     sorted set; score = sequence number, member = JSON Revocation
//	oauth:revseq     the last sequence number handed out
//	oauth:revepoch   random id of this log; a cursor from another epoch (Redis was
//	                 wiped) is unknown and gets the full state
//
// Cursors are "{epoch}.{seq}". Appends are atomic (INCR and ZADD in one script), so
// a reader never sees sequence n+1 without n.

// Revocation kinds.
const (
	KindToken  = "token"  // ID is a jti; At is the token's exp
	KindUser   = "user"   // ID is a sub; At is "before" (tokens with iat <= At die)
	KindClient = "client" // ID is a client_id; At is "before"
)

// Revocation is one entry of the revocation log.
type Revocation struct {
	Kind string `json:"k"`
	ID   string `json:"id"`
	At   int64  `json:"at"`
	Seq  int64  `json:"s,omitempty"`
}

// ErrUnknownCursor means the cursor is not from this log; the reader must take the
// full state.
var ErrUnknownCursor = errors.New("store: unknown revocation cursor")

var (
	revlogKey   = Key("revlog")
	revseqKey   = Key("revseq")
	revepochKey = Key("revepoch")
)

var appendRevocation = redis.NewScript(`
local seq = redis.call('INCR', KEYS[2])
local entry = cjson.decode(ARGV[1])
entry['s'] = seq
redis.call('ZADD', KEYS[1], seq, cjson.encode(entry))
return seq`)

// AppendRevocation adds an entry to the revocation log.
func (s *Store) AppendRevocation(ctx context.Context, r Revocation) error {
	if _, err := s.epoch(ctx); err != nil {
		return err
	}
	r.Seq = 0
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("store: encode revocation: %w", err)
	}
	return s.wrap(appendRevocation.Run(ctx, s.rdb, []string{revlogKey, revseqKey}, string(b)).Err())
}

func (s *Store) epoch(ctx context.Context) (string, error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	if err := s.rdb.SetNX(ctx, revepochKey, hex.EncodeToString(b), 0).Err(); err != nil {
		return "", s.wrap(err)
	}
	v, err := s.rdb.Get(ctx, revepochKey).Result()
	return v, s.wrap(err)
}

// Revocations returns the entries after cursor and the cursor to send next time. An
// empty cursor returns everything; a cursor from another epoch or beyond the end is
// [ErrUnknownCursor].
func (s *Store) Revocations(ctx context.Context, cursor string) ([]Revocation, string, error) {
	ep, err := s.epoch(ctx)
	if err != nil {
		return nil, "", err
	}
	var after int64
	if cursor != "" {
		e, seqStr, ok := strings.Cut(cursor, ".")
		n, perr := strconv.ParseInt(seqStr, 10, 64)
		if !ok || e != ep || perr != nil || n < 0 {
			return nil, "", ErrUnknownCursor
		}
		after = n
	}
	pipe := s.rdb.TxPipeline()
	last := pipe.Get(ctx, revseqKey)
	entries := pipe.ZRangeByScore(ctx, revlogKey, &redis.ZRangeBy{Min: "(" + strconv.FormatInt(after, 10), Max: "+inf"})
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, "", s.wrap(err)
	}
	lastSeq, _ := strconv.ParseInt(last.Val(), 10, 64)
	if after > lastSeq {
		return nil, "", ErrUnknownCursor
	}
	out := make([]Revocation, 0, len(entries.Val()))
	for _, m := range entries.Val() {
		var r Revocation
		if err := json.Unmarshal([]byte(m), &r); err != nil {
			continue // not ours; never let one bad entry stop the feed
		}
		out = append(out, r)
	}
	return out, ep + "." + strconv.FormatInt(lastSeq, 10), nil
}

// PruneRevocations drops entries nobody needs any more: token entries past their
// exp, and user/client entries older than the access token lifetime (every token
// they cover has expired). A reader's cursor stays valid: what it misses is moot.
func (s *Store) PruneRevocations(ctx context.Context, accessLifetime time.Duration) (int, error) {
	entries, err := s.rdb.ZRange(ctx, revlogKey, 0, -1).Result()
	if err != nil {
		return 0, s.wrap(err)
	}
	now := s.now().Unix()
	var drop []any
	for _, m := range entries {
		var r Revocation
		if err := json.Unmarshal([]byte(m), &r); err != nil {
			drop = append(drop, m)
			continue
		}
		if (r.Kind == KindToken && r.At < now) || (r.Kind != KindToken && r.At+int64(accessLifetime/time.Second) < now) {
			drop = append(drop, m)
		}
	}
	if len(drop) == 0 {
		return 0, nil
	}
	n, err := s.rdb.ZRem(ctx, revlogKey, drop...).Result()
	return int(n), s.wrap(err)
}
