package keys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// storedKey is the persisted form of a [Key].
type storedKey struct {
	ID       string `json:"kid"`
	Alg      string `json:"alg"`
	PEM      string `json:"pem"`
	Created  int64  `json:"created"`
	Retired  int64  `json:"retired,omitempty"`
	NotAfter int64  `json:"not_after,omitempty"`
}

func encodeSet(set []*Key) ([]byte, error) {
	out := struct {
		Keys []storedKey `json:"keys"`
	}{}
	for _, k := range set {
		p, err := encodePEM(k.Signer)
		if err != nil {
			return nil, err
		}
		sk := storedKey{ID: k.ID, Alg: k.Alg, PEM: p, Created: k.Created.Unix()}
		if !k.Retired.IsZero() {
			sk.Retired, sk.NotAfter = k.Retired.Unix(), k.NotAfter.Unix()
		}
		out.Keys = append(out.Keys, sk)
	}
	return json.Marshal(out)
}

func decodeSet(raw []byte) ([]*Key, error) {
	if raw == nil {
		return nil, nil
	}
	var in struct {
		Keys []storedKey `json:"keys"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, fmt.Errorf("keys: stored key set is corrupt: %w", err)
	}
	var set []*Key
	for _, sk := range in.Keys {
		signer, err := ParsePEM(sk.PEM, sk.Alg)
		if err != nil {
			return nil, fmt.Errorf("keys: stored key %s: %v", sk.ID, err)
		}
		k := &Key{ID: sk.ID, Alg: sk.Alg, Signer: signer, Created: time.Unix(sk.Created, 0)}
		if sk.Retired != 0 {
			k.Retired, k.NotAfter = time.Unix(sk.Retired, 0), time.Unix(sk.NotAfter, 0)
		}
		set = append(set, k)
	}
	return set, nil
}

// RedisKey is where [RedisBackend] keeps the key set. The private keys are in it:
// Redis must be private and password-protected (the stack does both).
const RedisKey = "oauth:keys"

// RedisBackend keeps the key set in one Redis string, so that every replica agrees.
type RedisBackend struct{ rdb redis.UniversalClient }

// NewRedisBackend returns a [Backend] on rdb.
func NewRedisBackend(rdb redis.UniversalClient) *RedisBackend { return &RedisBackend{rdb: rdb} }

var _ Backend = (*RedisBackend)(nil)

// Load implements [Backend].
func (b *RedisBackend) Load(ctx context.Context) ([]byte, error) {
	v, err := b.rdb.Get(ctx, RedisKey).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return v, err
}

// swapScript sets KEYS[1] to ARGV[2] only if it currently equals ARGV[1] ("" meaning
// absent), atomically.
var swapScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if (cur == false and ARGV[1] == '') or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0`)

// Swap implements [Backend].
func (b *RedisBackend) Swap(ctx context.Context, prev, next []byte) (bool, error) {
	n, err := swapScript.Run(ctx, b.rdb, []string{RedisKey}, string(prev), string(next)).Int()
	return n == 1, err
}

// DirBackend keeps the key set in dir/keyset.json (mode 0600). It serialises writers
// within one process only: use it for a single authsvc instance.
type DirBackend struct {
	path string
	mu   sync.Mutex
}

var _ Backend = (*DirBackend)(nil)

// NewDirBackend returns a [Backend] in dir, creating dir (0700) if needed.
func NewDirBackend(dir string) (*DirBackend, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keys: JWT_KEY_DIR: %w", err)
	}
	return &DirBackend{path: filepath.Join(dir, "keyset.json")}, nil
}

// Load implements [Backend].
func (b *DirBackend) Load(ctx context.Context) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.read()
}

func (b *DirBackend) read() ([]byte, error) {
	v, err := os.ReadFile(b.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return v, err
}

// Swap implements [Backend].
func (b *DirBackend) Swap(ctx context.Context, prev, next []byte) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cur, err := b.read()
	if err != nil {
		return false, err
	}
	if !bytes.Equal(cur, prev) || (cur == nil) != (prev == nil) {
		return false, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(b.path), ".keyset-*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(next); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	return true, os.Rename(tmp.Name(), b.path)
}
