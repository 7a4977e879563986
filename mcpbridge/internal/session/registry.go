package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/child"
)

// Options configure a [Registry]. Command is required.
type Options struct {
	Command        []string      // argv of the stdio MCP server
	Env            []string      // environment of every child (the bridge's own)
	MaxSessions    int           // 0: unlimited
	MaxPerUser     int           // sessions one X-User-Id may hold; 0: unlimited
	IdleTimeout    time.Duration // 0: sessions are never reaped
	RequestTimeout time.Duration // 0: requests never time out
	MaxMessage     int           // largest line accepted from a child
	// ResumeWindow: see [DefaultResumeWindow], used when 0.
	ResumeWindow time.Duration
	Logger       *slog.Logger
}

// Registry creates, finds and ends sessions. Its methods are safe for concurrent use.
type Registry struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	sessions map[string]*Session
	perUser  map[string]int
	closing  bool
}

// NewRegistry validates opts and returns an empty registry.
func NewRegistry(opts Options) (*Registry, error) {
	if len(opts.Command) == 0 {
		return nil, fmt.Errorf("session: no server command")
	}
	if opts.MaxSessions < 0 || opts.MaxPerUser < 0 || opts.IdleTimeout < 0 || opts.RequestTimeout < 0 {
		return nil, fmt.Errorf("session: negative limit")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ResumeWindow <= 0 {
		opts.ResumeWindow = DefaultResumeWindow
	}
	return &Registry{opts: opts, log: opts.Logger, sessions: map[string]*Session{}, perUser: map[string]int{}}, nil
}

// Len returns the number of live sessions.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sessions)
}

// Create starts a child process and registers a new session for user.
func (r *Registry) Create(user string) (*Session, error) {
	id, err := newID()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if r.closing {
		r.mu.Unlock()
		return nil, ErrShuttingDown
	}
	if r.opts.MaxSessions > 0 && len(r.sessions) >= r.opts.MaxSessions {
		r.mu.Unlock()
		return nil, fmt.Errorf("%w: the limit is %d", ErrTooManySessions, r.opts.MaxSessions)
	}
	if r.opts.MaxPerUser > 0 && r.perUser[user] >= r.opts.MaxPerUser {
		r.mu.Unlock()
		return nil, fmt.Errorf("%w: the limit is %d", ErrTooManyUserSessions, r.opts.MaxPerUser)
	}
	r.perUser[user]++
	s := &Session{
		ID: id, User: user,
		log:        r.log.With("session", id[:8]),
		reqTimeout: r.opts.RequestTimeout,
		resume:     r.opts.ResumeWindow,
		standalone: NewMailbox(standaloneKey, standaloneLimit),
		streams:    map[string]*Exchange{},
		calls:      map[int64]*call{},
		byClient:   map[string]*call{},
		progress:   map[string]*call{},
		lastActive: time.Now(),
		ended:      make(chan struct{}),
		onEnd:      r.remove,
	}
	// Reserve the slot before the (slow) process start so the limit holds under a burst.
	r.sessions[id] = s
	r.mu.Unlock()

	proc, err := child.Start(child.Options{
		Command:    r.opts.Command,
		Env:        r.opts.Env,
		MaxMessage: r.opts.MaxMessage,
		Logger:     s.log,
		OnMessage:  s.onMessage,
		OnExit:     s.onExit,
	})
	if err != nil {
		r.remove(s)
		return nil, err
	}
	s.mu.Lock()
	s.proc = proc
	closed := s.closed
	s.mu.Unlock()
	if closed {
		// CloseAll ran while the process was starting.
		proc.Stop(context.Background())
		return nil, ErrShuttingDown
	}
	s.log.Info("session created", "user", user, "pid", proc.Pid())
	return s, nil
}

// Get returns the session with id if it belongs to user. Another user's session is
// reported exactly like an unknown one, so ids cannot be probed.
func (r *Registry) Get(id, user string) (*Session, error) {
	r.mu.Lock()
	s, ok := r.sessions[id]
	r.mu.Unlock()
	if !ok || s.User != user {
		return nil, ErrNotFound
	}
	return s, nil
}

func (r *Registry) remove(s *Session) {
	r.mu.Lock()
	if r.sessions[s.ID] == s {
		delete(r.sessions, s.ID)
		if r.perUser[s.User]--; r.perUser[s.User] <= 0 {
			delete(r.perUser, s.User)
		}
	}
	r.mu.Unlock()
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
				if s.idleSince(now) > r.opts.IdleTimeout {
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
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range r.snapshot() {
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
