// Package keys manages the keys that sign access tokens: RS256 (default) or ES256
// key pairs that rotate, or a static HS256 secret in compatibility mode.
//
// The key set is persisted (Redis by default, so every authsvc replica signs with the
// same key and publishes the same JWKS; or a directory for a single instance). It is
// created on first use when none exists. [Manager.Rotate] makes a new key current and
// keeps the previous one published, for verification only, until every token it
// signed has expired: the access-token lifetime plus a minute of clock skew.
//
// [Codec] (accesstoken.go) mints and verifies the RFC 9068 access tokens with that
// key set.
package keys

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
)

// Algorithms.
const (
	RS256 = "RS256"
	ES256 = "ES256"
	HS256 = "HS256"
)

// HS256KeyID is the kid of the shared secret in HS256 mode (docs/interfaces.md).
const HS256KeyID = "hs256"

// Skew is added to a retired key's publication so verifiers with a slow clock still
// find it.
const Skew = time.Minute

var (
	// ErrAlgorithm is an unsupported or mismatched algorithm.
	ErrAlgorithm = errors.New("keys: unsupported algorithm")
	// ErrUnknownKey is a kid that is not (or no longer) in the key set.
	ErrUnknownKey = errors.New("keys: unknown key id")
	// ErrStaticKey means the key comes from configuration and cannot be rotated here.
	ErrStaticKey = errors.New("keys: the signing key is configured (JWT_PRIVATE_KEY or GATEWAY_JWT_SECRET); change the variable to rotate")
)

// Key is one signing key. Exactly one of Signer (RS256/ES256) and Secret (HS256) is set.
type Key struct {
	ID     string // kid: RFC 7638 thumbprint, or "hs256"
	Alg    string
	Signer crypto.Signer
	Secret []byte
	// Created is when the key was generated or first seen.
	Created time.Time
	// Retired is when the key stopped signing; zero for the current key.
	Retired time.Time
	// NotAfter is when a retired key leaves the JWKS; zero for the current key.
	NotAfter time.Time
}

// SigningKey is what jwt.Token.SignedString takes: *rsa.PrivateKey,
// *ecdsa.PrivateKey or []byte.
func (k *Key) SigningKey() any {
	if k.Secret != nil {
		return k.Secret
	}
	return k.Signer
}

// VerificationKey is what a jwt.Keyfunc returns: the public key, or the HS256 secret.
func (k *Key) VerificationKey() any {
	if k.Secret != nil {
		return k.Secret
	}
	return k.Signer.Public()
}

// JWK is the key's public JWK; HS256 keys have none (ok false).
func (k *Key) JWK() (JWK, bool) {
	if k.Signer == nil {
		return JWK{}, false
	}
	return publicJWK(k.Signer.Public(), k.ID, k.Alg), true
}

// Options configure [New].
type Options struct {
	// Algorithm is RS256, ES256 or HS256.
	Algorithm string
	// Secret is the HS256 key (GATEWAY_JWT_SECRET); required in HS256 mode.
	Secret []byte
	// PrivateKeyPEM, if set, is the signing key (JWT_PRIVATE_KEY). When it changes
	// between starts, the previous key is retired like in a rotation.
	PrivateKeyPEM string
	// AccessTokenLifetime is how long a retired key stays published.
	AccessTokenLifetime time.Duration
	// Refresh is how long the current key is cached before the store is read again;
	// default 30s. Lookups of unknown kids always re-read.
	Refresh time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Backend persists the key set document. Swap is a compare-and-swap: it writes next
// only if the stored document still equals prev (nil prev: only if none exists), and
// reports whether it did. Load returns nil, nil when nothing is stored.
type Backend interface {
	Load(ctx context.Context) ([]byte, error)
	Swap(ctx context.Context, prev, next []byte) (bool, error)
}

// Manager hands out the current signing key, finds keys by kid and builds the JWKS.
// It is safe for concurrent use.
type Manager struct {
	opts    Options
	backend Backend
	static  crypto.Signer // parsed PrivateKeyPEM, if any
	hs      *Key          // HS256 mode

	mu       sync.Mutex
	set      []*Key
	loadedAt time.Time
	lastRaw  []byte // the stored document m.set was decoded from
}

// New validates opts and returns a Manager. It does not touch the backend: the key
// set is loaded (and created if missing) on first use or by [Manager.Ensure], so a
// Redis that is still starting does not stop authsvc. backend may be nil in HS256 mode.
func New(backend Backend, opts Options) (*Manager, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Refresh <= 0 {
		opts.Refresh = 30 * time.Second
	}
	if opts.AccessTokenLifetime <= 0 {
		return nil, errors.New("keys: AccessTokenLifetime must be positive")
	}
	m := &Manager{opts: opts, backend: backend}
	switch opts.Algorithm {
	case HS256:
		if len(opts.Secret) < 32 {
			return nil, errors.New("keys: HS256 needs a secret of at least 32 bytes")
		}
		m.hs = &Key{ID: HS256KeyID, Alg: HS256, Secret: opts.Secret}
		return m, nil
	case RS256, ES256:
	default:
		return nil, fmt.Errorf("%w: %q", ErrAlgorithm, opts.Algorithm)
	}
	if backend == nil {
		return nil, errors.New("keys: a backend is required for " + opts.Algorithm)
	}
	if opts.PrivateKeyPEM != "" {
		k, err := ParsePEM(opts.PrivateKeyPEM, opts.Algorithm)
		if err != nil {
			return nil, fmt.Errorf("keys: JWT_PRIVATE_KEY %w", err)
		}
		m.static = k
	}
	return m, nil
}

// Ensure loads the key set, creating the first key (or adopting JWT_PRIVATE_KEY) if
// needed. Call it at start-up to fail or warn early.
func (m *Manager) Ensure(ctx context.Context) error {
	if m.hs != nil {
		return nil
	}
	_, err := m.reload(ctx)
	return err
}

// Signing returns the key to sign new tokens with.
func (m *Manager) Signing(ctx context.Context) (*Key, error) {
	if m.hs != nil {
		return m.hs, nil
	}
	m.mu.Lock()
	fresh := m.set != nil && m.opts.Now().Sub(m.loadedAt) < m.opts.Refresh
	set := m.set
	m.mu.Unlock()
	if !fresh {
		var err error
		if set, err = m.reload(ctx); err != nil {
			return nil, err
		}
	}
	return current(set)
}

// Lookup returns the key with kid, current or still-published retired, for
// verifying a token. An unknown kid re-reads the store once (another replica may
// have rotated) before answering [ErrUnknownKey].
func (m *Manager) Lookup(ctx context.Context, kid string) (*Key, error) {
	if m.hs != nil {
		if kid == HS256KeyID {
			return m.hs, nil
		}
		return nil, ErrUnknownKey
	}
	m.mu.Lock()
	set := m.set
	m.mu.Unlock()
	if k := find(set, kid, m.opts.Now()); k != nil {
		return k, nil
	}
	set, err := m.reload(ctx)
	if err != nil {
		return nil, err
	}
	if k := find(set, kid, m.opts.Now()); k != nil {
		return k, nil
	}
	return nil, ErrUnknownKey
}

// JWKS returns the public keys to publish: the current key first, then retired keys
// whose tokens may still be valid. It re-reads the store so a rotation on another
// replica shows at once; if the store fails it serves the last known set.
func (m *Manager) JWKS(ctx context.Context) (JWKS, error) {
	out := JWKS{Keys: []JWK{}}
	if m.hs != nil {
		return out, nil
	}
	set, err := m.reload(ctx)
	if err != nil {
		m.mu.Lock()
		set = m.set
		m.mu.Unlock()
		if set == nil {
			return out, err
		}
		m.opts.Logger.Warn("serving cached JWKS; key store unavailable", "error", err)
	}
	now := m.opts.Now()
	for _, k := range set {
		if k.Retired.IsZero() || now.Before(k.NotAfter) {
			if j, ok := k.JWK(); ok {
				out.Keys = append(out.Keys, j)
			}
		}
	}
	return out, nil
}

// Rotate makes a freshly generated key current and retires the previous one, which
// stays published until AccessTokenLifetime+Skew from now. It returns the new key.
func (m *Manager) Rotate(ctx context.Context) (*Key, error) {
	if m.hs != nil || m.static != nil {
		return nil, ErrStaticKey
	}
	signer, err := Generate(m.opts.Algorithm)
	if err != nil {
		return nil, err
	}
	set, err := m.update(ctx, func(set []*Key) []*Key {
		return m.promote(set, signer)
	})
	if err != nil {
		return nil, err
	}
	return current(set)
}

func current(set []*Key) (*Key, error) {
	for _, k := range set {
		if k.Retired.IsZero() {
			return k, nil
		}
	}
	return nil, errors.New("keys: key set has no current key")
}

func find(set []*Key, kid string, now time.Time) *Key {
	for _, k := range set {
		if k.ID == kid && (k.Retired.IsZero() || now.Before(k.NotAfter)) {
			return k
		}
	}
	return nil
}

// promote retires the current key of set and adds signer as the new current one,
// dropping retired keys whose publication ended.
func (m *Manager) promote(set []*Key, signer crypto.Signer) []*Key {
	now := m.opts.Now()
	out := []*Key{{ID: Thumbprint(signer.Public()), Alg: m.opts.Algorithm, Signer: signer, Created: now}}
	for _, k := range set {
		if k.Retired.IsZero() {
			k.Retired, k.NotAfter = now, now.Add(m.opts.AccessTokenLifetime+Skew)
		}
		if now.Before(k.NotAfter) && k.ID != out[0].ID {
			out = append(out, k)
		}
	}
	return out
}

// reload reads the set, repairing it if needed: creating the first key, adopting a
// configured key, dropping expired retired keys, discarding keys of another
// algorithm (JWT_ALGORITHM changed).
func (m *Manager) reload(ctx context.Context) ([]*Key, error) {
	return m.update(ctx, func(set []*Key) []*Key {
		cur, _ := current(set)
		switch {
		case m.static != nil && (cur == nil || cur.ID != Thumbprint(m.static.Public())):
			return m.promote(set, m.static)
		case cur == nil || cur.Alg != m.opts.Algorithm:
			signer, err := Generate(m.opts.Algorithm)
			if err != nil {
				return nil
			}
			return m.promote(set, signer)
		}
		return nil // nothing to change
	})
}

// update loads the set, applies change (nil result = no change), and writes it back
// with compare-and-swap, retrying when another replica wrote in between.
func (m *Manager) update(ctx context.Context, change func([]*Key) []*Key) ([]*Key, error) {
	for attempt := 0; attempt < 5; attempt++ {
		raw, err := m.backend.Load(ctx)
		if err != nil {
			return nil, fmt.Errorf("keys: load key set: %w: %w", auth.ErrUnavailable, err)
		}
		set, err := m.decode(raw)
		if err != nil {
			return nil, err
		}
		next := change(set)
		if next == nil {
			next = pruned(set, m.opts.Now())
			m.remember(next, raw)
			return next, nil
		}
		b, err := encodeSet(next)
		if err != nil {
			return nil, err
		}
		ok, err := m.backend.Swap(ctx, raw, b)
		if err != nil {
			return nil, fmt.Errorf("keys: store key set: %w: %w", auth.ErrUnavailable, err)
		}
		if ok {
			m.remember(next, b)
			if cur, err := current(next); err == nil {
				m.opts.Logger.Info("signing key set updated", "current_kid", cur.ID, "alg", cur.Alg, "published", len(next))
			}
			return next, nil
		}
	}
	return nil, errors.New("keys: key set changed concurrently too often; try again")
}

func pruned(set []*Key, now time.Time) []*Key {
	out := set[:0:0]
	for _, k := range set {
		if k.Retired.IsZero() || now.Before(k.NotAfter) {
			out = append(out, k)
		}
	}
	return out
}

func (m *Manager) remember(set []*Key, raw []byte) {
	m.mu.Lock()
	m.set, m.loadedAt, m.lastRaw = set, m.opts.Now(), raw
	m.mu.Unlock()
}

// decode parses a stored set, reusing the cached keys when the document is the one
// they came from: parsing RSA keys on every JWKS request would be wasted work. The
// cached keys are copied because change functions modify what they get.
func (m *Manager) decode(raw []byte) ([]*Key, error) {
	m.mu.Lock()
	same := raw != nil && m.lastRaw != nil && bytes.Equal(raw, m.lastRaw)
	cached := m.set
	m.mu.Unlock()
	if !same {
		return decodeSet(raw)
	}
	out := make([]*Key, len(cached))
	for i, k := range cached {
		c := *k
		out[i] = &c
	}
	return out, nil
}
