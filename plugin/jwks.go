package mcpauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"sync"
	"time"
)

const (
	minRSABits = 2048
	// jwksRefetchEvery bounds refetches of the key set: an unknown kid (key rotation)
	// triggers one, a flood of hostile kids cannot trigger more than one per period.
	jwksRefetchEvery = 5 * time.Second
	fetchTimeout     = 5 * time.Second
	maxFetchBytes    = 1 << 20
)

// publicKey is one usable signing key from a JWKS.
type publicKey struct {
	alg string // "RS256" or "ES256": the only alg this key verifies
	rsa *rsa.PublicKey
	ec  *ecdsa.PublicKey
}

// parseJWKS reads a JSON Web Key Set into kid → key. Keys that are not signing keys
// (use other than "sig"), lack a kid, or are of a type or size we do not accept are
// skipped; a set that is not JSON or has no "keys" array is an error.
func parseJWKS(data []byte) (map[string]*publicKey, error) {
	var doc map[string]interface{}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("jwks is not a JSON object: %w", err)
	}
	list, ok := doc["keys"].([]interface{})
	if !ok {
		return nil, errors.New(`jwks has no "keys" array`)
	}
	keys := map[string]*publicKey{}
	for _, item := range list {
		// One call per entry: nothing read from an entry may outlive it (under
		// Yaegi a comma-ok form repeated in a loop keeps its previous value when it
		// fails; docs/plugin.md, Yaegi notes).
		if kid, k := jwksEntry(item); k != nil {
			keys[kid] = k
		}
	}
	return keys, nil
}

// jwksEntry returns the kid and key of one JWKS entry, or a nil key when the entry
// is to be skipped.
func jwksEntry(item interface{}) (string, *publicKey) {
	m, ok := item.(map[string]interface{})
	if !ok {
		return "", nil
	}
	kid, _ := m["kid"].(string)
	if kid == "" {
		return "", nil
	}
	if use, has := m["use"]; has && use != "sig" {
		return "", nil
	}
	k, err := parseJWK(m)
	if err != nil {
		return "", nil
	}
	return kid, k
}

func parseJWK(m map[string]interface{}) (*publicKey, error) {
	kty, _ := m["kty"].(string)
	alg, _ := m["alg"].(string)
	switch kty {
	case "RSA":
		if alg != "" && alg != algRS256 {
			return nil, errors.New("unsupported RSA alg")
		}
		n, err := b64Field(m, "n")
		if err != nil {
			return nil, err
		}
		e, err := b64Field(m, "e")
		if err != nil {
			return nil, err
		}
		bn := new(big.Int).SetBytes(n)
		be := new(big.Int).SetBytes(e)
		if bn.BitLen() < minRSABits || !be.IsInt64() || be.Int64() < 3 || be.Int64() > 1<<31-1 || be.Bit(0) == 0 {
			return nil, errors.New("weak or malformed RSA key")
		}
		return &publicKey{alg: algRS256, rsa: &rsa.PublicKey{N: bn, E: int(be.Int64())}}, nil
	case "EC":
		if alg != "" && alg != algES256 {
			return nil, errors.New("unsupported EC alg")
		}
		if crv, _ := m["crv"].(string); crv != "P-256" {
			return nil, errors.New("unsupported curve")
		}
		x, err := b64Field(m, "x")
		if err != nil {
			return nil, err
		}
		y, err := b64Field(m, "y")
		if err != nil {
			return nil, err
		}
		if len(x) != 32 || len(y) != 32 {
			return nil, errors.New("bad P-256 coordinates")
		}
		// The big.Int coordinates and IsOnCurve are deprecated, but their replacements
		// (ecdsa.ParseUncompressedPublicKey, Go 1.25) are not in the standard library
		// symbols Yaegi gives plugins; ecdsa.Verify still reads X and Y.
		bx := new(big.Int).SetBytes(x)
		by := new(big.Int).SetBytes(y)
		//lint:ignore SA1019 the Go 1.25 replacement is not available under Yaegi (above)
		if !elliptic.P256().IsOnCurve(bx, by) {
			return nil, errors.New("point not on P-256")
		}
		//lint:ignore SA1019 the Go 1.25 replacement is not available under Yaegi (above)
		return &publicKey{alg: algES256, ec: &ecdsa.PublicKey{Curve: elliptic.P256(), X: bx, Y: by}}, nil
	}
	return nil, errors.New("unsupported key type")
}

func b64Field(m map[string]interface{}, name string) ([]byte, error) {
	s, _ := m[name].(string)
	if s == "" {
		return nil, fmt.Errorf("missing %s", name)
	}
	return base64.RawURLEncoding.DecodeString(s)
}

// remoteKeys is the key set behind one JWKS URL, shared by every middleware instance
// (Traefik rebuilds middlewares on each configuration change; the keys survive).
type remoteKeys struct {
	url    string
	client *http.Client

	mu   sync.Mutex // guards keys
	keys map[string]*publicKey

	fetchMu     sync.Mutex // single-flights fetches; guards lastAttempt and lastErr
	lastAttempt time.Time
	lastErr     error
}

var (
	remoteKeysMu    sync.Mutex
	remoteKeysByURL = map[string]*remoteKeys{}
)

// sharedKeys returns the package-level key set for url.
func sharedKeys(url string) *remoteKeys {
	remoteKeysMu.Lock()
	defer remoteKeysMu.Unlock()
	rk := remoteKeysByURL[url]
	if rk == nil {
		rk = &remoteKeys{url: url, client: &http.Client{Timeout: fetchTimeout}, keys: map[string]*publicKey{}}
		remoteKeysByURL[url] = rk
	}
	return rk
}

// key returns the key for kid, fetching the set when kid is unknown and the last
// fetch attempt is older than jwksRefetchEvery. ctx bounds the fetch (the
// middleware's lifetime, not the request's: one impatient client must not abort a
// fetch others wait on).
func remoteKey(ctx context.Context, rk *remoteKeys, kid string) (*publicKey, error) {
	rk.mu.Lock()
	k := rk.keys[kid]
	rk.mu.Unlock()
	if k != nil {
		return k, nil
	}
	rk.fetchMu.Lock()
	defer rk.fetchMu.Unlock()
	rk.mu.Lock()
	k = rk.keys[kid]
	rk.mu.Unlock()
	if k != nil {
		return k, nil
	}
	if time.Since(rk.lastAttempt) < jwksRefetchEvery {
		if rk.lastErr != nil {
			return nil, fmt.Errorf("%w: %v", errKeysUnavailable, rk.lastErr)
		}
		return nil, errUnknownKey
	}
	if err := rk.fetchLocked(ctx); err != nil {
		return nil, fmt.Errorf("%w: %v", errKeysUnavailable, err)
	}
	rk.mu.Lock()
	k = rk.keys[kid]
	rk.mu.Unlock()
	if k == nil {
		return nil, errUnknownKey
	}
	return k, nil
}

// prefetch loads the key set once in the background so the first request does not
// wait; failures are left to the lazy path.
func (rk *remoteKeys) prefetch(ctx context.Context) {
	rk.fetchMu.Lock()
	defer rk.fetchMu.Unlock()
	rk.mu.Lock()
	n := len(rk.keys)
	rk.mu.Unlock()
	if n > 0 || time.Since(rk.lastAttempt) < jwksRefetchEvery {
		return
	}
	_ = rk.fetchLocked(ctx)
}

// fetchLocked fetches and replaces the key set; fetchMu must be held.
func (rk *remoteKeys) fetchLocked(ctx context.Context) error {
	rk.lastAttempt = time.Now()
	rk.lastErr = rk.fetch(ctx)
	return rk.lastErr
}

func (rk *remoteKeys) fetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rk.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := rk.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("jwks: HTTP %d", resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxFetchBytes))
	if err != nil {
		return err
	}
	keys, err := parseJWKS(data)
	if err != nil {
		return err
	}
	rk.mu.Lock()
	rk.keys = keys
	rk.mu.Unlock()
	return nil
}
