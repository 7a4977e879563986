package mcpauth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// revocations mirrors authsvc's revocation feed (docs/interfaces.md). It is shared by
// every middleware instance polling the same feed, so Traefik's middleware rebuilds
// keep what is known. Polls are lazy: a request that finds the state older than the
// interval starts one (single-flight) and does not wait for it, except when the state
// is very stale (no traffic for a while), when it waits at most staleWait.
type revocations struct {
	url    string
	token  string
	client *http.Client

	mu       sync.Mutex
	tokens   map[string]int64 // jti → exp
	users    map[string]int64 // sub → revoke tokens with iat <= before
	clients  map[string]int64 // client_id → before
	cursor   string
	lastPoll int64         // unix nanoseconds the last poll started
	lastOK   int64         // unix nanoseconds of the last successful poll
	polling  chan struct{} // non-nil while a poll runs; closed when it ends
	gen      uint64        // changes whenever the revocation state does
	failing  bool          // the last poll failed (log only transitions)
	created  int64         // unix nanoseconds: "last good read" before any succeeded
}

// staleWait bounds how long a request waits for a poll when the state is older than
// staleAfter intervals: long enough for a loopback poll, short enough to be invisible.
const (
	staleWait  = 150 * time.Millisecond
	staleAfter = 3
)

var (
	revocationsMu    sync.Mutex
	revocationsByURL = map[string]*revocations{}
)

func sharedRevocations(feedURL, token string) *revocations {
	key := feedURL + "\x00" + token
	revocationsMu.Lock()
	defer revocationsMu.Unlock()
	r := revocationsByURL[key]
	if r == nil {
		r = &revocations{
			url:     feedURL,
			token:   token,
			client:  &http.Client{Timeout: fetchTimeout},
			tokens:  map[string]int64{},
			users:   map[string]int64{},
			clients: map[string]int64{},
			gen:     1, // cache entries start at 0: checked on first use
			created: time.Now().UnixNano(),
		}
		revocationsByURL[key] = r
	}
	return r
}

// pollRecheck is how soon a middleware instance syncs again while a poll runs, so
// that the poll's result reaches the fast path within this much of its arrival.
const pollRecheck = int64(25 * time.Millisecond)

// pollDue starts a due poll and, when the known state is too stale to trust, waits
// a little for it.
func pollDue(ctx context.Context, rv *revocations, log *slog.Logger, now int64, interval int64) {
	wait := startPoll(ctx, rv, log, now, interval)
	if wait == nil {
		return
	}
	t := time.NewTimer(staleWait)
	select {
	case <-wait:
	case <-t.C:
	}
	t.Stop()
}

// startPoll starts a poll when the last one is older than interval and none runs. It
// returns a channel to wait on when the known state is too stale to trust unwaited.
func startPoll(ctx context.Context, rv *revocations, log *slog.Logger, now int64, interval int64) chan struct{} {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if now-rv.lastPoll < interval {
		return nil
	}
	if rv.polling == nil {
		rv.polling = make(chan struct{})
		rv.lastPoll = now
		go rv.poll(ctx, log, rv.polling)
	}
	if now-rv.lastOK >= staleAfter*interval {
		return rv.polling
	}
	return nil
}

// pollEvery reads the feed on its interval whether or not requests arrive, until ctx
// ends (Traefik rebuilds middlewares on every configuration change), so that after an
// idle spell the first requests already meet a fresh revocation state. Ticks come four
// times an interval and a poll starts when the last one is three quarters of an
// interval old, so polls are at most one interval apart; instances sharing the feed
// share the polls (startPoll is single-flight).
func pollEvery(ctx context.Context, rv *revocations, log *slog.Logger, interval int64) {
	t := time.NewTicker(time.Duration(interval / 4))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			startPoll(ctx, rv, log, time.Now().UnixNano(), interval-interval/4)
		}
	}
}

// poll fetches the feed once and applies it; done is closed when it ends.
func (rv *revocations) poll(ctx context.Context, log *slog.Logger, done chan struct{}) {
	rv.mu.Lock()
	cursor := rv.cursor
	rv.mu.Unlock()
	upd, err := rv.fetch(ctx, cursor)
	rv.mu.Lock()
	if err != nil {
		if !rv.failing {
			log.Error("revocation feed unreachable, serving with the last known state", "url", rv.url, "error", err.Error())
		}
		rv.failing = true
	} else {
		if rv.failing {
			log.Info("revocation feed reachable again", "url", rv.url)
		}
		rv.failing = false
		rv.applyLocked(upd)
		rv.lastOK = time.Now().UnixNano()
	}
	rv.polling = nil
	rv.mu.Unlock()
	close(done)
}

// feedUpdate is one decoded feed response.
type feedUpdate struct {
	cursor  string
	reset   bool
	tokens  map[string]int64
	users   map[string]int64
	clients map[string]int64
}

func (rv *revocations) fetch(ctx context.Context, cursor string) (*feedUpdate, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	u := rv.url
	if cursor != "" {
		sep := "?"
		if containsByte(u, '?') {
			sep = "&"
		}
		u += sep + "since=" + url.QueryEscape(cursor)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if rv.token != "" {
		req.Header.Set("Authorization", "Bearer "+rv.token)
	}
	resp, err := rv.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16*maxFetchBytes))
	if err != nil {
		return nil, err
	}
	return decodeFeed(data)
}

// decodeFeed parses a feed document into plain maps (decoded generically: struct
// decoding is not to be trusted under Yaegi).
func decodeFeed(data []byte) (*feedUpdate, error) {
	var doc map[string]interface{}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("revocation feed is not a JSON object: %w", err)
	}
	upd := &feedUpdate{}
	upd.cursor, _ = doc["cursor"].(string)
	upd.reset, _ = doc["reset"].(bool)
	upd.tokens = feedEntries(doc["tokens"], "jti", "exp")
	upd.users = feedEntries(doc["users"], "sub", "before")
	upd.clients = feedEntries(doc["clients"], "client_id", "before")
	return upd, nil
}

func feedEntries(v interface{}, idField, timeField string) map[string]int64 {
	out := map[string]int64{}
	list, _ := v.([]interface{})
	for _, item := range list {
		id, t := feedEntry(item, idField, timeField) // one call per entry, as in parseJWKS
		if id == "" {
			continue
		}
		if old, ok := out[id]; !ok || t > old {
			out[id] = t
		}
	}
	return out
}

// feedEntry reads one feed entry: its id ("" when missing or malformed) and time (0
// when missing).
func feedEntry(item interface{}, idField, timeField string) (string, int64) {
	m, _ := item.(map[string]interface{})
	id, _ := m[idField].(string)
	t, _ := m[timeField].(float64)
	return id, int64(t)
}

func (rv *revocations) applyLocked(upd *feedUpdate) {
	if upd.reset || len(upd.tokens) > 0 || len(upd.users) > 0 || len(upd.clients) > 0 {
		rv.gen++
	}
	if upd.reset {
		rv.tokens = map[string]int64{}
		rv.users = map[string]int64{}
		rv.clients = map[string]int64{}
	}
	rv.cursor = upd.cursor
	mergeMax(rv.tokens, upd.tokens)
	mergeMax(rv.users, upd.users)
	mergeMax(rv.clients, upd.clients)
	// Revoked tokens that have expired need no entry: exp already refuses them.
	now := time.Now().Unix() - 2*int64(maxClockSkew/time.Second)
	for jti, exp := range rv.tokens {
		if exp > 0 && exp < now {
			delete(rv.tokens, jti)
		}
	}
}

func mergeMax(dst, src map[string]int64) {
	for k, v := range src {
		if old, ok := dst[k]; !ok || v > old {
			dst[k] = v
		}
	}
}

func containsByte(s string, b byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return true
		}
	}
	return false
}
