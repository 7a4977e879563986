package store

import (
	"context"
	"strconv"
	"time"
)

// Allow counts one event for name in the current fixed window of length window and
// reports whether it is within limit. When it is not, retryAfter is the time until the
// window ends. The counter lives in Redis so every authsvc replica shares it.
func (s *Store) Allow(ctx context.Context, name string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error) {
	now := s.now()
	slot := now.UnixNano() / int64(window)
	key := Key("ratelimit", name, strconv.FormatInt(slot, 10))
	pipe := s.rdb.TxPipeline()
	incr := pipe.Incr(ctx, key)
	pipe.Expire(ctx, key, window+time.Second)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, 0, s.wrap(err)
	}
	if incr.Val() <= int64(limit) {
		return true, 0, nil
	}
	end := time.Unix(0, (slot+1)*int64(window))
	return false, end.Sub(now), nil
}
