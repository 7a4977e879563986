package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
)

// Issued tokens. Everything one authorization code leads to, through every
// refresh, is one family; revoking the family kills all of it. Keys:
//
//	oauth:token:{jti}               auth.AccessRecord; TTL = access token lifetime. A JWT
//	                                whose record is gone is revoked (/verify, /introspect).
//	oauth:refresh:{sha256(rt)}      auth.RefreshRecord; TTL = refresh token lifetime
//	oauth:refresh_used:{sha256(rt)} family id of a rotated refresh token (reuse detection)
//	oauth:family:{fid}              hash: sub, client_id, created, revoked
//	oauth:family_members:{fid}      set of "at:{jti}:{exp}" and "rt:{hash}"
//	oauth:user_tokens:{sub}         sorted set of the user's family ids by creation time
//	oauth:client_tokens:{client_id} sorted set of the client's family ids
//	oauth:login:{lower(login)}      the sub last seen with that GitHub login (admin lookups)
//
// Family keys live as long as the newest refresh token in them.

func familyKey(fid string) string  { return Key("family", fid) }
func membersKey(fid string) string { return Key("family_members", fid) }
func userIndex(sub string) string  { return Key("user_tokens", sub) }
func loginKey(login string) string { return Key("login", strings.ToLower(login)) }
func clientIndexKey(cid string) string {
	return Key("client_tokens", cid)
}

// GetAccess returns a live access token record, or [auth.ErrNotFound] when the token
// expired or was revoked.
func (s *Store) GetAccess(ctx context.Context, jti string) (*auth.AccessRecord, error) {
	var a auth.AccessRecord
	if err := s.getJSON(ctx, Key("token", jti), &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// AccessLive reports whether the access token jti is still recorded (not revoked).
func (s *Store) AccessLive(ctx context.Context, jti string) (bool, error) {
	n, err := s.rdb.Exists(ctx, Key("token", jti)).Result()
	return n == 1, s.wrap(err)
}

// RevokeAccess deletes one access token record and publishes its jti on the
// revocation feed.
func (s *Store) RevokeAccess(ctx context.Context, a *auth.AccessRecord) error {
	if err := s.wrap(s.rdb.Del(ctx, Key("token", a.JTI)).Err()); err != nil {
		return err
	}
	if err := s.AppendRevocation(ctx, Revocation{Kind: KindToken, ID: a.JTI, At: a.ExpiresAt}); err != nil {
		return err
	}
	s.settle(ctx, "a revocation")
	return nil
}

// GetRefresh returns a live refresh token record by the token's hash.
func (s *Store) GetRefresh(ctx context.Context, hash string) (*auth.RefreshRecord, error) {
	var r auth.RefreshRecord
	if err := s.getJSON(ctx, Key("refresh", hash), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// FamilyRevoked reports whether the family was revoked.
func (s *Store) FamilyRevoked(ctx context.Context, fid string) (bool, error) {
	v, err := s.rdb.HGet(ctx, familyKey(fid), "revoked").Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	return v == "1", s.wrap(err)
}

// RevokeFamily marks the family revoked, deletes every access and refresh token in it
// and publishes the access tokens' ids on the revocation feed. It returns how many
// tokens it killed. Revoking an unknown or already revoked family is not an error.
func (s *Store) RevokeFamily(ctx context.Context, fid string) (int, error) {
	n, err := s.revokeFamily(ctx, fid)
	if err == nil {
		s.settle(ctx, "a revocation")
	}
	return n, err
}

// revokeFamily is RevokeFamily without the wait for replicas, for callers that
// revoke many families and settle once.
func (s *Store) revokeFamily(ctx context.Context, fid string) (int, error) {
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, familyKey(fid), "revoked", "1")
	// Keep the mark at least as long as a code's replay marker could point here.
	pipe.ExpireNX(ctx, familyKey(fid), 24*time.Hour)
	pipe.ExpireGT(ctx, familyKey(fid), 24*time.Hour)
	members := pipe.SMembers(ctx, membersKey(fid))
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, s.wrap(err)
	}
	var keys []string
	var revs []Revocation
	for _, m := range members.Val() {
		switch {
		case strings.HasPrefix(m, "at:"):
			parts := strings.Split(m, ":")
			if len(parts) != 3 {
				continue
			}
			exp, _ := strconv.ParseInt(parts[2], 10, 64)
			keys = append(keys, Key("token", parts[1]))
			if exp > s.now().Unix() {
				revs = append(revs, Revocation{Kind: KindToken, ID: parts[1], At: exp})
			}
		case strings.HasPrefix(m, "rt:"):
			keys = append(keys, Key("refresh", strings.TrimPrefix(m, "rt:")))
		}
	}
	killed := 0
	if len(keys) > 0 {
		n, err := s.rdb.Del(ctx, keys...).Result()
		if err != nil {
			return 0, s.wrap(err)
		}
		killed = int(n)
	}
	for _, r := range revs {
		if err := s.AppendRevocation(ctx, r); err != nil {
			return killed, err
		}
	}
	return killed, nil
}

// RevokeUser revokes every family of sub, ends the user's browser sessions (the next
// authorization logs in at GitHub again) and publishes a users entry so that every
// token issued to sub until now dies at the edge too.
func (s *Store) RevokeUser(ctx context.Context, sub string) (int, error) {
	killed, err := s.revokeIndex(ctx, userIndex(sub))
	if err != nil {
		return killed, err
	}
	if err := s.EndUserSessions(ctx, sub); err != nil {
		return killed, err
	}
	if err := s.AppendRevocation(ctx, Revocation{Kind: KindUser, ID: sub, At: s.now().Unix()}); err != nil {
		return killed, err
	}
	s.settle(ctx, "a revocation")
	return killed, nil
}

// RevokeClient revokes every family of clientID, forgets its consents and publishes
// a clients entry. It is what client deletion calls.
func (s *Store) RevokeClient(ctx context.Context, clientID string) (int, error) {
	killed, err := s.revokeIndex(ctx, clientIndexKey(clientID))
	if err != nil {
		return killed, err
	}
	if err := s.ForgetConsents(ctx, clientID); err != nil {
		return killed, err
	}
	if err := s.AppendRevocation(ctx, Revocation{Kind: KindClient, ID: clientID, At: s.now().Unix()}); err != nil {
		return killed, err
	}
	s.settle(ctx, "a revocation")
	return killed, nil
}

func (s *Store) revokeIndex(ctx context.Context, key string) (int, error) {
	fids, err := s.rdb.ZRange(ctx, key, 0, -1).Result()
	if err != nil {
		return 0, s.wrap(err)
	}
	total := 0
	for _, fid := range fids {
		n, err := s.revokeFamily(ctx, fid)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, s.wrap(s.rdb.Del(ctx, key).Err())
}

// UserTokens lists the live access tokens and refresh-token families of sub.
func (s *Store) UserTokens(ctx context.Context, sub string) ([]auth.AccessRecord, []auth.RefreshRecord, error) {
	fids, err := s.rdb.ZRange(ctx, userIndex(sub), 0, -1).Result()
	if err != nil {
		return nil, nil, s.wrap(err)
	}
	var access []auth.AccessRecord
	var refresh []auth.RefreshRecord
	for _, fid := range fids {
		members, err := s.rdb.SMembers(ctx, membersKey(fid)).Result()
		if err != nil {
			return nil, nil, s.wrap(err)
		}
		for _, m := range members {
			switch {
			case strings.HasPrefix(m, "at:"):
				parts := strings.Split(m, ":")
				if len(parts) == 3 {
					if a, err := s.GetAccess(ctx, parts[1]); err == nil {
						access = append(access, *a)
					}
				}
			case strings.HasPrefix(m, "rt:"):
				if r, err := s.GetRefresh(ctx, strings.TrimPrefix(m, "rt:")); err == nil {
					refresh = append(refresh, *r)
				}
			}
		}
	}
	return access, refresh, nil
}

// PurgeExpired drops index entries of families whose last refresh token expired and
// feed entries that no longer matter (see [Store.PruneRevocations]). Redis TTLs
// already removed the records themselves. It returns how many entries went.
func (s *Store) PurgeExpired(ctx context.Context, accessLifetime time.Duration) (int, error) {
	now := strconv.FormatInt(s.now().Unix(), 10)
	total := 0
	for _, pattern := range []string{Key("user_tokens", "*"), Key("client_tokens", "*")} {
		iter := s.rdb.Scan(ctx, 0, pattern, 500).Iterator()
		for iter.Next(ctx) {
			n, err := s.rdb.ZRemRangeByScore(ctx, iter.Val(), "-inf", "("+now).Result()
			if err != nil {
				return total, s.wrap(err)
			}
			total += int(n)
		}
		if err := iter.Err(); err != nil {
			return total, s.wrap(err)
		}
	}
	n, err := s.PruneRevocations(ctx, accessLifetime)
	return total + n, err
}

// SubForLogin returns the GitHub user id last seen with login (case-insensitive) in
// a token grant, or [auth.ErrNotFound].
func (s *Store) SubForLogin(ctx context.Context, login string) (string, error) {
	v, err := s.rdb.Get(ctx, loginKey(login)).Result()
	return v, s.wrap(err)
}
