package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/child"
	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/metrics"
)

// Options configure a [Registry]. Command is required.
type Options struct {
	Command        []string      // argv of the stdio MCP server
	Env            []string      // environment of every child (the bridge's own)
	MaxSessions    int           // children serving users (sessions and pools); 0: unlimited
	MaxPerUser     int           // 2025 sessions one X-User-Id may hold; 0: unlimited
	IdleTimeout    time.Duration // 0: sessions are never reaped
	RequestTimeout time.Duration // 0: requests never time out
	MaxMessage     int           // largest line accepted from a child
	// ResumeWindow: see [DefaultResumeWindow], used when 0.
	ResumeWindow time.Duration
	// PoolSize is the most children one user's 2026-07-28 requests may use (default 2).
	PoolSize int
	// PoolIdle ends a pooled child unused this long; 0: the idle timeout.
	PoolIdle time.Duration
	// Spares is how many started children wait for a session or a pool, so that nobody
	// waits for a runtime to boot; 0: none.
	Spares int
	// ModernVersions are the 2026-07-28-era versions served; LegacyVersion is the 2025
	// version the bridge initializes a 2025 child with for them.
	ModernVersions []string
	LegacyVersion  string
	// ProbeTimeout bounds the first child's answer to server/discover (default 15s).
	ProbeTimeout time.Duration
	// NewID mints session ids; default 128 random bits in hex. Replicas name
	// themselves in their ids (package replica).
	NewID func() (string, error)
	// StateKey signs requestState tokens; default a random key of this process.
	// Replicas share one, so that each can tell which session a token names.
	StateKey []byte
	Logger   *slog.Logger
}

// Registry creates, finds and ends sessions and the per-user pools of children that
// serve 2026-07-28 requests. Its methods are safe for concurrent use.
type Registry struct {
	opts   Options
	log    *slog.Logger
	states *states

	mu        sync.Mutex
	sessions  map[string]*Session // every child serving a user: sessions and pooled
	perUser   map[string]int      // 2025 sessions per user
	pools     map[string][]*Session
	starting  int // children being started for a user, counted in MaxSessions
	spares    []*Session
	refilling int
	// spareDeaths counts spares that exited before anyone used them, since the last
	// one that was used.
	spareDeaths int
	closing     bool
	era         int // eraUnknown until the first pooled child answered the probe

	userLocks sync.Map // user → *sync.Mutex: one pool change of a user at a time
}

const (
	eraUnknown = iota
	eraModern
	eraLegacy
)

// NewRegistry validates opts and returns an empty registry.
func NewRegistry(opts Options) (*Registry, error) {
	if len(opts.Command) == 0 {
		return nil, fmt.Errorf("session: no server command")
	}
	if opts.MaxSessions < 0 || opts.MaxPerUser < 0 || opts.IdleTimeout < 0 || opts.RequestTimeout < 0 ||
		opts.PoolSize < 0 || opts.PoolIdle < 0 || opts.Spares < 0 {
		return nil, fmt.Errorf("session: negative limit")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ResumeWindow <= 0 {
		opts.ResumeWindow = DefaultResumeWindow
	}
	if opts.PoolSize == 0 {
		opts.PoolSize = 2
	}
	if opts.PoolIdle == 0 {
		opts.PoolIdle = opts.IdleTimeout
	}
	if opts.ProbeTimeout <= 0 {
		opts.ProbeTimeout = 15 * time.Second
	}
	if opts.NewID == nil {
		opts.NewID = newID
	}
	states, err := newStates(opts.StateKey)
	if err != nil {
		return nil, err
	}
	return &Registry{opts: opts, log: opts.Logger, states: states, sessions: map[string]*Session{}, perUser: map[string]int{},
		pools: map[string][]*Session{}}, nil
}

// Len returns the number of children serving users.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sessions)
}

// Create starts (or takes a spare) child for a new 2025 session of user. At the user's
// limit, the user's least recently used idle session ends to make room: no ordinary
// client behaviour (clients that never send DELETE) may lock a user out. Only when every
// one of the user's sessions is busy is the limit an error.
func (r *Registry) Create(user string) (*Session, error) {
	return r.start(user, false)
}

func (r *Registry) start(user string, pooled bool) (*Session, error) {
	r.mu.Lock()
	if r.closing {
		r.mu.Unlock()
		return nil, ErrShuttingDown
	}
	if !pooled && r.opts.MaxPerUser > 0 && r.perUser[user] >= r.opts.MaxPerUser {
		victim := r.idlestLocked(user)
		if victim == nil {
			r.mu.Unlock()
			return nil, fmt.Errorf("%w: the limit is %d and every one is in use", ErrTooManyUserSessions, r.opts.MaxPerUser)
		}
		// Its slots are free from now on; the child exits in the background.
		r.forgetLocked(victim)
		go victim.Close(context.Background(), "the user's session limit was reached: least recently used")
	}
	if r.opts.MaxSessions > 0 && len(r.sessions)+r.starting >= r.opts.MaxSessions {
		r.mu.Unlock()
		return nil, fmt.Errorf("%w: the limit is %d", ErrTooManySessions, r.opts.MaxSessions)
	}
	r.starting++
	if !pooled {
		r.perUser[user]++
	}
	var s *Session
	for len(r.spares) > 0 && s == nil {
		s, r.spares = r.spares[0], r.spares[1:]
		if s.isClosed() {
			s = nil // it died waiting; its exit is on its way
		}
	}
	if s != nil {
		r.spareDeaths = 0
	}
	r.mu.Unlock()
	go r.Refill()

	var err error
	if s == nil {
		s, err = r.spawn()
	}
	r.mu.Lock()
	r.starting--
	if err == nil && r.closing {
		err = ErrShuttingDown
	}
	if err != nil {
		if !pooled {
			r.decUserLocked(user)
		}
		r.mu.Unlock()
		if s != nil {
			s.Close(context.Background(), "shutdown")
		}
		return nil, err
	}
	s.User, s.pooled, s.owned = user, pooled, true
	r.sessions[s.ID] = s
	r.mu.Unlock()
	kind := "session created"
	if pooled {
		kind = "pooled child created"
	}
	s.log.Info(kind, "user", user, "pid", s.proc.Pid())
	return s, nil
}

// idlestLocked returns user's least recently used 2025 session that no request is using.
func (r *Registry) idlestLocked(user string) *Session {
	var best *Session
	var bestAt time.Time
	for _, s := range r.sessions {
		if s.User != user || s.pooled {
			continue
		}
		s.mu.Lock()
		idle := !s.closed && s.busy == 0 && len(s.calls) == 0
		at := s.lastActive
		s.mu.Unlock()
		if idle && (best == nil || at.Before(bestAt)) {
			best, bestAt = s, at
		}
	}
	return best
}

// spawn starts a child that belongs to nobody yet.
func (r *Registry) spawn() (*Session, error) {
	id, err := r.opts.NewID()
	if err != nil {
		return nil, err
	}
	s := &Session{
		ID:         id,
		states:     r.states,
		log:        r.log.With("session", id[:8]),
		reqTimeout: r.opts.RequestTimeout,
		resume:     r.opts.ResumeWindow,
		standalone: NewMailbox(standaloneKey, standaloneLimit),
		streams:    map[string]*Exchange{},
		calls:      map[int64]*call{},
		byClient:   map[string]*call{},
		progress:   map[string]*call{},
		listeners:  map[*Exchange]*listener{},
		lastActive: time.Now(),
		ended:      make(chan struct{}),
		onEnd:      r.remove,
	}
	started := time.Now()
	proc, err := child.Start(child.Options{
		Command:    r.opts.Command,
		Env:        r.opts.Env,
		MaxMessage: r.opts.MaxMessage,
		Logger:     s.log,
		OnMessage:  s.onMessage,
		OnExit:     s.onExit,
	})
	if err != nil {
		return nil, err
	}
	metrics.ChildStart.Observe(time.Since(started).Seconds())
	s.mu.Lock()
	s.proc = proc
	s.mu.Unlock()
	return s, nil
}

// Counts returns the children serving 2025 sessions, serving 2026-07-28 pools, and
// waiting as spares, and the users that have a pool.
func (r *Registry) Counts() (sessions, pooled, spares, pools int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.sessions {
		if s.pooled {
			pooled++
		} else {
			sessions++
		}
	}
	return sessions, pooled, len(r.spares), len(r.pools)
}

// Refill starts spares until there are as many as configured.
func (r *Registry) Refill() {
	for {
		r.mu.Lock()
		if r.closing || len(r.spares)+r.refilling >= r.opts.Spares {
			r.mu.Unlock()
			return
		}
		r.refilling++
		r.mu.Unlock()
		s, err := r.spawn()
		r.mu.Lock()
		r.refilling--
		if err != nil {
			r.mu.Unlock()
			r.log.Error("starting a spare MCP server failed", "error", err)
			return
		}
		if r.closing {
			r.mu.Unlock()
			s.Close(context.Background(), "shutdown")
			return
		}
		r.spares = append(r.spares, s)
		r.mu.Unlock()
		s.log.Debug("spare child started", "pid", s.proc.Pid())
	}
}

// Pooled returns a child of user's pool for a 2026-07-28 request: an idle one, else a
// new one while the pool is below its size, else the least busy. A child never serves
// two users. A new child is initialized by the bridge (a 2025 server) or used as it is
// (a 2026-07-28 server: the first child's answer to server/discover decides, once).
func (r *Registry) Pooled(ctx context.Context, user string) (*Session, error) {
	lock, _ := r.userLocks.LoadOrStore(user, &sync.Mutex{})
	lock.(*sync.Mutex).Lock()
	defer lock.(*sync.Mutex).Unlock()
	r.mu.Lock()
	var best *Session
	bestLoad := 0
	pool := r.pools[user]
	r.mu.Unlock()
	for _, s := range pool {
		if l := s.load(); best == nil || l < bestLoad {
			best, bestLoad = s, l
		}
	}
	if best != nil && (bestLoad == 0 || len(pool) >= r.opts.PoolSize) {
		return best, nil
	}
	s, err := r.start(user, true)
	if err == nil {
		if err = r.prepare(ctx, s); err != nil {
			r.log.Error("preparing a pooled MCP server failed", "error", err)
			s.Close(context.Background(), "preparing for 2026-07-28 requests failed")
		}
	}
	if err != nil {
		if best != nil {
			return best, nil
		}
		return nil, err
	}
	r.mu.Lock()
	if r.sessions[s.ID] == s {
		r.pools[user] = append(r.pools[user], s)
	}
	r.mu.Unlock()
	return s, nil
}

// Resume finds the suspended 2026-07-28 call a retry's requestState names, in user's
// pool, and continues it (see [Session.Resume]).
func (r *Registry) Resume(user, state string, id, responses json.RawMessage, streaming bool) (*Session, *Stream, error) {
	sid, callID, err := r.states.parse(user, state)
	if err != nil {
		return nil, nil, err
	}
	r.mu.Lock()
	s, ok := r.sessions[sid]
	r.mu.Unlock()
	if !ok || !s.pooled || s.User != user {
		return nil, nil, ErrBadRequestState
	}
	st, err := s.Resume(callID, id, responses, streaming)
	return s, st, err
}

// StateSession returns the session a requestState of user names, or
// [ErrBadRequestState]: with replicas, the session id says which replica holds the
// suspended call.
func (r *Registry) StateSession(user, state string) (string, error) {
	sid, _, err := r.states.parse(user, state)
	return sid, err
}

// prepare makes a new pooled child ready for 2026-07-28 requests.
func (r *Registry) prepare(ctx context.Context, s *Session) error {
	r.mu.Lock()
	era := r.era
	r.mu.Unlock()
	if era == eraUnknown {
		pctx, cancel := context.WithTimeout(ctx, r.opts.ProbeTimeout)
		modern, err := s.probeModern(pctx, r.opts.ModernVersions)
		cancel()
		if err != nil {
			return err
		}
		era = eraLegacy
		if modern {
			era = eraModern
		}
		r.mu.Lock()
		r.era = era
		r.mu.Unlock()
		r.log.Info("the MCP server's protocol era", "speaks_2026_07_28", modern)
	}
	if era == eraModern {
		s.modern = true
		return nil
	}
	return s.initialize(ctx, r.opts.LegacyVersion)
}

// Get returns the session with id if it belongs to user. Another user's session is
// reported exactly like an unknown one, so ids cannot be probed.
func (r *Registry) Get(id, user string) (*Session, error) {
	r.mu.Lock()
	s, ok := r.sessions[id]
	r.mu.Unlock()
	if !ok || s.User != user || s.pooled {
		return nil, ErrNotFound
	}
	return s, nil
}

func (r *Registry) remove(s *Session) {
	r.mu.Lock()
	r.forgetLocked(s)
	spare := !s.owned
	for i, sp := range r.spares {
		if sp == s {
			r.spares = append(r.spares[:i:i], r.spares[i+1:]...)
			break
		}
	}
	kind := "spare"
	if !spare {
		kind = "serving"
	}
	metrics.ChildExits.WithLabelValues(kind).Inc()
	if s.crashed {
		metrics.ChildCrashes.WithLabelValues(kind).Inc()
	}
	if !spare {
		r.mu.Unlock()
		go r.Refill()
		return
	}
	// A spare that exits on its own (a server that cannot start) is replaced after a
	// growing pause, not at once: no restart storm.
	r.spareDeaths++
	wait := min(100*time.Millisecond<<min(r.spareDeaths, 10), 30*time.Second)
	r.mu.Unlock()
	time.AfterFunc(wait, r.Refill)
}

// forgetLocked drops s from the sessions, its user's count and its pool.
func (r *Registry) forgetLocked(s *Session) {
	if r.sessions[s.ID] != s {
		return
	}
	delete(r.sessions, s.ID)
	if !s.pooled {
		r.decUserLocked(s.User)
		return
	}
	pool := r.pools[s.User]
	for i, p := range pool {
		if p == s {
			pool = append(pool[:i:i], pool[i+1:]...)
			break
		}
	}
	if len(pool) == 0 {
		delete(r.pools, s.User)
	} else {
		r.pools[s.User] = pool
	}
}

func (r *Registry) decUserLocked(user string) {
	if r.perUser[user]--; r.perUser[user] <= 0 {
		delete(r.perUser, user)
	}
}

// Reap ends the sessions idle for longer than the idle timeout, every interval, until
// ctx ends.
func (r *Registry) Reap(ctx context.Context, interval time.Duration) {
	if r.opts.IdleTimeout <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, s := range r.snapshot() {
				limit := r.opts.IdleTimeout
				if s.pooled {
					limit = r.opts.PoolIdle
				}
				if s.idleSince(now) > limit {
					go s.Close(context.Background(), "idle timeout")
				}
			}
		}
	}
}

func (r *Registry) snapshot() []*Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Session, 0, len(r.sessions))
	for _, s := range r.sessions {
		out = append(out, s)
	}
	return out
}

// CloseAll refuses new sessions and ends every session, waiting for the children to be
// gone or ctx to end.
func (r *Registry) CloseAll(ctx context.Context) {
	r.mu.Lock()
	r.closing = true
	spares := r.spares
	r.spares = nil
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range append(r.snapshot(), spares...) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Close(ctx, "shutdown")
		}()
	}
	wg.Wait()
}

// newID returns 128 random bits in hex: visible ASCII, as Mcp-Session-Id requires.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("session: random id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
