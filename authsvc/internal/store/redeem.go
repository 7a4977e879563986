package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
)

func spentKey(kind, hash string) string  { return Key(kind+"_used", hash) }
func replayKey(kind, hash string) string { return Key(kind+"_replay", hash) }

// redeem spends KEYS[1] and stores the grant, or returns the sealed answer of the
// redemption that already spent it (within the window), or false.
//
// KEYS: 1 credential, 2 spent marker, 3 replay, 4 access token, 5 new refresh token (or
// "" key unused), 6 family, 7 family members, 8 user index, 9 login, 10 client index.
// ARGV: 1 family id, 2 marker ms, 3 sealed, 4 window ms, 5 access json, 6 access ms,
// 7 refresh json, 8 refresh ms, 9 "at:" member, 10 "rt:" member or "", 11 sub,
// 12 client id, 13 now (unix s), 14 family expiry (unix s), 15 login ms.
var redeem = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  local r = redis.call('GET', KEYS[3])
  if r then return {'replay', r} end
  return false
end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
if tonumber(ARGV[4]) > 0 then redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4]) end
redis.call('SET', KEYS[4], ARGV[5], 'PX', ARGV[6])
if ARGV[10] ~= '' then
  redis.call('SET', KEYS[5], ARGV[7], 'PX', ARGV[8])
  redis.call('SADD', KEYS[7], ARGV[9], ARGV[10])
else
  redis.call('SADD', KEYS[7], ARGV[9])
end
redis.call('HSETNX', KEYS[6], 'sub', ARGV[11])
redis.call('HSETNX', KEYS[6], 'client_id', ARGV[12])
redis.call('HSETNX', KEYS[6], 'created', ARGV[13])
redis.call('EXPIREAT', KEYS[6], ARGV[14])
redis.call('EXPIREAT', KEYS[7], ARGV[14])
redis.call('ZADD', KEYS[8], ARGV[14], ARGV[1])
redis.call('SET', KEYS[9], ARGV[11], 'PX', ARGV[15])
redis.call('ZADD', KEYS[10], ARGV[14], ARGV[1])
if redis.call('HGET', KEYS[6], 'revoked') == '1' then return {'revoked'} end
return {'ok'}`)

// Redeem runs a [auth.Redemption]. It returns the sealed answer of an earlier redemption of
// the same credential within its window (replay, with a nil error), [auth.ErrSpent] when
// there is none, and [auth.ErrRevoked] when the family was revoked meanwhile (what was stored
// is revoked; the answer stands, dead on arrival).
func (s *Store) Redeem(ctx context.Context, r *auth.Redemption) (replay []byte, err error) {
	g := r.Grant
	a, rf := &g.Access, &g.Refresh
	ab, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("store: encode access record: %w", err)
	}
	rb, err := json.Marshal(rf)
	if err != nil {
		return nil, fmt.Errorf("store: encode refresh record: %w", err)
	}
	now := s.now()
	accessTTL := time.Unix(a.ExpiresAt, 0).Sub(now)
	refreshTTL := time.Unix(rf.ExpiresAt, 0).Sub(now)
	if accessTTL <= 0 || refreshTTL <= 0 {
		return nil, fmt.Errorf("store: grant already expired")
	}
	fid := rf.FamilyID
	credKey := Key(r.Kind, r.Hash)
	refreshKey, rtMember := Key("refresh", "-"), ""
	if g.RefreshHash != "" {
		refreshKey, rtMember = Key("refresh", g.RefreshHash), "rt:"+g.RefreshHash
	}
	keys := []string{credKey, spentKey(r.Kind, r.Hash), replayKey(r.Kind, r.Hash), Key("token", a.JTI), refreshKey,
		familyKey(fid), membersKey(fid), userIndex(rf.Sub), loginKey(rf.Login), clientIndexKey(rf.ClientID)}
	args := []any{fid, r.MarkerTTL.Milliseconds(), r.Sealed, r.Window.Milliseconds(), ab, accessTTL.Milliseconds(),
		rb, refreshTTL.Milliseconds(), "at:" + a.JTI + ":" + strconv.FormatInt(a.ExpiresAt, 10), rtMember,
		rf.Sub, rf.ClientID, now.Unix(), rf.ExpiresAt, refreshTTL.Milliseconds()}
	res, err := s.runDurable(ctx, redeem, keys, args...).Slice()
	if errors.Is(err, redis.Nil) {
		return nil, auth.ErrSpent
	}
	if err != nil {
		return nil, s.wrap(err)
	}
	switch res[0] {
	case "replay":
		b, _ := res[1].(string)
		return []byte(b), nil
	case "revoked":
		if _, err := s.RevokeFamily(ctx, fid); err != nil {
			return nil, err
		}
		return nil, auth.ErrRevoked
	}
	return nil, nil
}

// Replayed returns the sealed answer kept for a spent credential within its retry
// window, or [auth.ErrNotFound].
func (s *Store) Replayed(ctx context.Context, kind, hash string) ([]byte, error) {
	b, err := s.rdb.Get(ctx, replayKey(kind, hash)).Bytes()
	return b, s.wrap(err)
}

// SpentFamily returns the family a spent credential (kind, hash) went to, or
// [auth.ErrNotFound] if it was never spent (or the marker expired).
func (s *Store) SpentFamily(ctx context.Context, kind, hash string) (string, error) {
	v, err := s.rdb.Get(ctx, spentKey(kind, hash)).Result()
	return v, s.wrap(err)
}

// runDurable runs script; with WaitReplicas it is followed by WAIT on the same
// connection (one pipeline), since WAIT counts the replicas that have the writes of
// the connection it is sent on. Too few replicas is logged, not refused: the grant is
// on the master, and refusing it would turn a missing replica into an outage.
func (s *Store) runDurable(ctx context.Context, script *redis.Script, keys []string, args ...any) *redis.Cmd {
	if s.waitReplicas <= 0 {
		return script.Run(ctx, s.rdb, keys, args...)
	}
	var cmd, wait *redis.Cmd
	run := func(eval func(redis.Pipeliner) *redis.Cmd) {
		_, _ = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			cmd = eval(p)
			wait = p.Do(ctx, "WAIT", s.waitReplicas, s.waitTimeout.Milliseconds())
			return nil
		})
	}
	run(func(p redis.Pipeliner) *redis.Cmd { return script.EvalSha(ctx, p, keys, args...) })
	if err := cmd.Err(); err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
		run(func(p redis.Pipeliner) *redis.Cmd { return script.Eval(ctx, p, keys, args...) })
	}
	if cmd.Err() == nil || errors.Is(cmd.Err(), redis.Nil) {
		s.waited("a grant", wait)
	}
	return cmd
}

// settle makes the writes already done (on any connection) durable as runDurable
// does, for the operations whose loss in a failover would undo what a client or an
// administrator was told: a registration, a client update or deletion, a consent, a
// revocation. Replication is one ordered stream, so one write of its own followed by
// WAIT on the same connection covers every write that finished before it. It costs one
// round trip, only with WaitReplicas; an error or too few replicas is logged.
func (s *Store) settle(ctx context.Context, what string) {
	if s.waitReplicas <= 0 {
		return
	}
	var wait *redis.Cmd
	_, _ = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, fenceKey, s.now().UnixMilli(), time.Minute)
		wait = p.Do(ctx, "WAIT", s.waitReplicas, s.waitTimeout.Milliseconds())
		return nil
	})
	s.waited(what, wait)
}

// fenceKey is the key settle writes so that its WAIT has a write to wait for.
var fenceKey = Key("fence")

// waited logs a WAIT that saw fewer replicas than WaitReplicas.
func (s *Store) waited(what string, wait *redis.Cmd) {
	if n, err := wait.Int64(); err != nil || n < int64(s.waitReplicas) {
		s.log.Warn(what+" reached fewer Redis replicas than REDIS_WAIT_REPLICAS; a failover now could lose it",
			"replicas", n, "want", s.waitReplicas, "error", fmt.Sprint(err))
	}
}
