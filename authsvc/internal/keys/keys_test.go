package keys

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/redistest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newRedis(t *testing.T) redis.UniversalClient {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(t)})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func newManager(t *testing.T, b Backend, alg string, clk *clock) *Manager {
	t.Helper()
	m, err := New(b, Options{Algorithm: alg, AccessTokenLifetime: time.Hour, Now: clk.Now, Refresh: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestThumbprintRFC7638(t *testing.T) {
	// The example key of RFC 7638 §3.1.
	n, _ := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
	if got, want := Thumbprint(pub), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Errorf("Thumbprint = %s, want %s", got, want)
	}
}

func TestFirstUseCreatesAndPersists(t *testing.T) {
	for _, alg := range []string{RS256, ES256} {
		t.Run(alg, func(t *testing.T) {
			ctx := context.Background()
			rdb := newRedis(t)
			clk := &clock{t: time.Unix(1_700_000_000, 0)}
			m1 := newManager(t, NewRedisBackend(rdb), alg, clk)
			k1, err := m1.Signing(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if k1.Alg != alg || k1.ID != Thumbprint(k1.Signer.Public()) {
				t.Errorf("key alg=%s kid=%s", k1.Alg, k1.ID)
			}
			// A second manager (a restart, or another replica) finds the same key.
			m2 := newManager(t, NewRedisBackend(rdb), alg, clk)
			k2, err := m2.Signing(ctx)
			if err != nil || k2.ID != k1.ID {
				t.Fatalf("second manager kid = %v (%v), want %s", k2, err, k1.ID)
			}
			set, err := m2.JWKS(ctx)
			if err != nil || len(set.Keys) != 1 || set.Keys[0].Kid != k1.ID || set.Keys[0].Use != "sig" || set.Keys[0].Alg != alg {
				t.Fatalf("JWKS = %+v, %v", set, err)
			}
			if alg == RS256 && (set.Keys[0].Kty != "RSA" || set.Keys[0].N == "" || set.Keys[0].E != "AQAB") {
				t.Errorf("RSA JWK = %+v", set.Keys[0])
			}
			if alg == ES256 && (set.Keys[0].Kty != "EC" || set.Keys[0].Crv != "P-256" || len(set.Keys[0].X) != 43) {
				t.Errorf("EC JWK = %+v", set.Keys[0])
			}
		})
	}
}

func TestConcurrentFirstUseAgrees(t *testing.T) {
	ctx := context.Background()
	rdb := newRedis(t)
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	const replicas = 4
	ids := make([]string, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := New(NewRedisBackend(rdb), Options{Algorithm: ES256, AccessTokenLifetime: time.Hour, Now: clk.Now})
			if err != nil {
				t.Error(err)
				return
			}
			k, err := m.Signing(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = k.ID
		}()
	}
	wg.Wait()
	for i := 1; i < replicas; i++ {
		if ids[i] != ids[0] {
			t.Fatalf("replicas disagree on the signing key: %v", ids)
		}
	}
}

func TestRotationKeepsOldKeyUntilTokensExpire(t *testing.T) {
	ctx := context.Background()
	rdb := newRedis(t)
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	m := newManager(t, NewRedisBackend(rdb), RS256, clk)
	other := newManager(t, NewRedisBackend(rdb), RS256, clk) // another replica
	old, err := m.Signing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	token := sign(t, old)

	clk.Add(time.Minute)
	cur, err := m.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cur.ID == old.ID {
		t.Fatal("rotation kept the same key")
	}
	for name, mgr := range map[string]*Manager{"rotating": m, "other replica": other} {
		s, err := mgr.Signing(ctx)
		if err != nil || s.ID != cur.ID {
			t.Errorf("%s signs with %v (%v), want the new key %s", name, s, err, cur.ID)
		}
		set, _ := mgr.JWKS(ctx)
		if len(set.Keys) != 2 || set.Keys[0].Kid != cur.ID || set.Keys[1].Kid != old.ID {
			t.Errorf("%s JWKS after rotation = %v, want [new, old]", name, kids(set))
		}
		if _, err := verify(ctx, mgr, token); err != nil {
			t.Errorf("%s: token signed by the retired key no longer verifies: %v", name, err)
		}
	}

	// The old key stays until AccessTokenLifetime + Skew after the rotation.
	clk.Add(time.Hour + Skew - time.Second)
	if set, _ := other.JWKS(ctx); len(set.Keys) != 2 {
		t.Errorf("just before expiry JWKS = %v, want both keys", kids(set))
	}
	clk.Add(2 * time.Second)
	if set, _ := other.JWKS(ctx); len(set.Keys) != 1 || set.Keys[0].Kid != cur.ID {
		t.Errorf("after expiry JWKS = %v, want only the new key", kids(set))
	}
	if _, err := other.Lookup(ctx, old.ID); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Lookup(retired, expired) err = %v, want ErrUnknownKey", err)
	}
	if _, err := other.Lookup(ctx, "no-such-kid"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Lookup(unknown) err = %v", err)
	}
}

func sign(t *testing.T, k *Key) string {
	t.Helper()
	method := jwt.GetSigningMethod(k.Alg)
	tok := jwt.NewWithClaims(method, jwt.MapClaims{"sub": "1"})
	tok.Header["kid"] = k.ID
	s, err := tok.SignedString(k.SigningKey())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func verify(ctx context.Context, m *Manager, token string) (*jwt.Token, error) {
	return jwt.Parse(token, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		k, err := m.Lookup(ctx, kid)
		if err != nil {
			return nil, err
		}
		return k.VerificationKey(), nil
	}, jwt.WithValidMethods([]string{RS256, ES256, HS256}))
}

func kids(set JWKS) []string {
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.Kid)
	}
	return out
}

func TestConfiguredKeyIsAdoptedAndChangeRetiresPrevious(t *testing.T) {
	ctx := context.Background()
	rdb := newRedis(t)
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	pem1, _ := GeneratePEM(ES256)
	pem2, _ := GeneratePEM(ES256)
	mk := func(p string) *Manager {
		m, err := New(NewRedisBackend(rdb), Options{Algorithm: ES256, PrivateKeyPEM: p, AccessTokenLifetime: time.Hour, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	k1, err := mk(pem1).Signing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s1, _ := ParsePEM(pem1, ES256)
	if k1.ID != Thumbprint(s1.Public()) {
		t.Error("configured key not used")
	}
	m2 := mk(pem2)
	k2, _ := m2.Signing(ctx)
	if k2.ID == k1.ID {
		t.Fatal("changed JWT_PRIVATE_KEY not adopted")
	}
	if set, _ := m2.JWKS(ctx); len(set.Keys) != 2 {
		t.Errorf("JWKS after key change = %v, want new and previous", kids(set))
	}
	if _, err := m2.Rotate(ctx); !errors.Is(err, ErrStaticKey) {
		t.Errorf("Rotate with a configured key: %v, want ErrStaticKey", err)
	}
}

func TestHS256(t *testing.T) {
	ctx := context.Background()
	secret := []byte(strings.Repeat("s", 32))
	m, err := New(nil, Options{Algorithm: HS256, Secret: secret, AccessTokenLifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := m.Signing(ctx)
	if k.ID != HS256KeyID || string(k.SigningKey().([]byte)) != string(secret) {
		t.Errorf("HS256 key = %+v", k)
	}
	if set, _ := m.JWKS(ctx); len(set.Keys) != 0 {
		t.Errorf("HS256 JWKS publishes %d keys, want none", len(set.Keys))
	}
	if _, err := verify(ctx, m, sign(t, k)); err != nil {
		t.Errorf("verify HS256: %v", err)
	}
	if _, err := m.Rotate(ctx); !errors.Is(err, ErrStaticKey) {
		t.Errorf("Rotate in HS256 mode: %v", err)
	}
	if _, err := New(nil, Options{Algorithm: HS256, Secret: []byte("short"), AccessTokenLifetime: time.Hour}); err == nil {
		t.Error("short HS256 secret accepted")
	}
}

func TestDirBackend(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	b1, err := NewDirBackend(dir)
	if err != nil {
		t.Fatal(err)
	}
	k1, err := newManager(t, b1, RS256, clk).Signing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := NewDirBackend(dir)
	m2 := newManager(t, b2, RS256, clk)
	k2, _ := m2.Signing(ctx)
	if k2.ID != k1.ID {
		t.Fatal("restart with the same JWT_KEY_DIR changed the key")
	}
	if _, err := m2.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if set, _ := m2.JWKS(ctx); len(set.Keys) != 2 {
		t.Errorf("JWKS after rotation in dir = %v", kids(set))
	}
}

func TestRedisDownServesCachedJWKS(t *testing.T) {
	ctx := context.Background()
	addr, stop, err := redistest.Start()
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	m := newManager(t, NewRedisBackend(rdb), ES256, clk)
	if _, err := m.JWKS(ctx); err != nil {
		t.Fatal(err)
	}
	stop()
	set, err := m.JWKS(ctx)
	if err != nil || len(set.Keys) != 1 {
		t.Errorf("JWKS with Redis down = %v, %v; want the cached set", kids(set), err)
	}
	fresh := newManager(t, NewRedisBackend(rdb), ES256, clk)
	if _, err := fresh.JWKS(ctx); !errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("JWKS with Redis down and no cache: err = %v, want ErrUnavailable", err)
	}
}

func TestParsePEM(t *testing.T) {
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallDER, _ := x509.MarshalPKCS8PrivateKey(small)
	smallPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: smallDER}))
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalECPrivateKey(p384)
	p384PEM := string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: p384DER}))
	rsaPEM, _ := GeneratePEM(RS256)
	ecPEM, _ := GeneratePEM(ES256)
	cases := []struct {
		name, pem, alg, wantErr string
	}{
		{"rsa ok", rsaPEM, RS256, ""},
		{"rsa one line with \\n", strings.ReplaceAll(rsaPEM, "\n", `\n`), RS256, ""},
		{"ec ok", ecPEM, ES256, ""},
		{"rsa for ES256", rsaPEM, ES256, "RSA key but JWT_ALGORITHM is ES256"},
		{"ec for RS256", ecPEM, RS256, "EC key but JWT_ALGORITHM is RS256"},
		{"rsa 1024", smallPEM, RS256, "1024-bit"},
		{"p384", p384PEM, ES256, "needs P-256"},
		{"garbage", "hello", RS256, "not a PEM block"},
		{"public key", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", RS256, "not a private key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePEM(tc.pem, tc.alg)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestAlgorithmSwitch: changing JWT_ALGORITHM makes a key of the new algorithm
// current and keeps the old one published until its tokens expired.
func TestAlgorithmSwitch(t *testing.T) {
	ctx := context.Background()
	rdb := newRedis(t)
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	old, err := newManager(t, NewRedisBackend(rdb), RS256, clk).Signing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := newManager(t, NewRedisBackend(rdb), ES256, clk)
	cur, err := m.Signing(ctx)
	if err != nil || cur.Alg != ES256 {
		t.Fatalf("after switching to ES256: %v, %v", cur, err)
	}
	set, _ := m.JWKS(ctx)
	if got := kids(set); len(got) != 2 || got[1] != old.ID {
		t.Errorf("JWKS = %v, want the ES256 key and the retired RS256 key", got)
	}
}

// TestJWKSHasNoPrivateMaterial guards the published document against ever carrying
// private key members (d, p, q, dp, dq, qi) or a symmetric key (k).
func TestJWKSHasNoPrivateMaterial(t *testing.T) {
	ctx := context.Background()
	for _, alg := range []string{RS256, ES256} {
		m := newManager(t, NewRedisBackend(newRedis(t)), alg, &clock{t: time.Unix(1_700_000_000, 0)})
		set, err := m.JWKS(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(set)
		var doc struct{ Keys []map[string]any }
		_ = json.Unmarshal(b, &doc)
		for _, k := range doc.Keys {
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
				if _, ok := k[private]; ok {
					t.Errorf("%s JWK has private member %q", alg, private)
				}
			}
		}
	}
}
