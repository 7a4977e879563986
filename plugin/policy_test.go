package mcpauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/jwtvectors"
	mcpauth "github.com/mcp-oauth-gateway/gateway/plugin"
)

func TestConfigErrors(t *testing.T) {
	k := testKeys(t)
	tests := []struct {
		name   string
		change func(m map[string]interface{})
		want   string // substring of the error, "" = valid
	}{
		{"valid inline", func(m map[string]interface{}) {}, ""},
		{"missing issuer", func(m map[string]interface{}) { delete(m, "issuer") }, "issuer"},
		{"relative resource", func(m map[string]interface{}) { m["resource"] = "/mcp" }, "resource"},
		{"resource with fragment", func(m map[string]interface{}) { m["resource"] = jwtvectors.Resource + "#x" }, "resource"},
		{"no key source", func(m map[string]interface{}) { delete(m, "jwks") }, "exactly one of"},
		{"two key sources", func(m map[string]interface{}) { m["hmacSecret"] = jwtvectors.HMACSecret }, "exactly one of"},
		{"short hmac secret", func(m map[string]interface{}) { delete(m, "jwks"); m["hmacSecret"] = "short" }, "hmacSecret"},
		{"HS256 with jwks", func(m map[string]interface{}) { m["algorithms"] = []interface{}{"RS256", "HS256"} }, "HS256 is only allowed"},
		{"RS256 with hmac", func(m map[string]interface{}) {
			delete(m, "jwks")
			m["hmacSecret"] = jwtvectors.HMACSecret
			m["algorithms"] = []interface{}{"RS256"}
		}, "RS256 needs"},
		{"alg none", func(m map[string]interface{}) { m["algorithms"] = []interface{}{"none"} }, "unsupported"},
		{"skew too large", func(m map[string]interface{}) { m["clockSkew"] = "61s" }, "clockSkew"},
		{"skew garbage", func(m map[string]interface{}) { m["clockSkew"] = "soon" }, "clockSkew"},
		{"bad jwks", func(m map[string]interface{}) { m["jwks"] = "{" }, "jwks"},
		{"bad revocation interval", func(m map[string]interface{}) {
			m["revocationURL"] = "http://127.0.0.1:1/internal/revocations"
			m["revocationInterval"] = "1ns"
		}, "revocationInterval"},
		{"bad header name", func(m map[string]interface{}) { m["headers"] = map[string]interface{}{"userId": "X User"} }, "headers.userid"},
		{"unknown header key", func(m map[string]interface{}) { m["headers"] = map[string]interface{}{"email": "X-Email"} }, "unknown key"},
		{"header renamed to Authorization", func(m map[string]interface{}) { m["headers"] = map[string]interface{}{"userId": "authorization"} }, "reserved"},
		{"required scope with quote", func(m map[string]interface{}) { m["requiredScopes"] = []interface{}{`a"b`} }, "requiredScopes"},
		{"every problem at once", func(m map[string]interface{}) { delete(m, "issuer"); m["clockSkew"] = "2m" }, "clockSkew"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := k.ConfigMap(jwtvectors.ModeJWKS, "")
			tc.change(m)
			_, err := mcpauth.New(context.Background(), http.NotFoundHandler(), configFrom(t, m), "cfg")
			if tc.want == "" {
				if err != nil {
					t.Fatalf("New: %v, want success", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, mcpauth.ErrConfig) {
				t.Fatalf("New error = %v, want ErrConfig mentioning %q", err, tc.want)
			}
		})
	}
}

func TestNewDoesNotBlockOnDeadJWKS(t *testing.T) {
	k := testKeys(t)
	// A listener that accepts and never answers: the worst case for a blocking New.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer hang.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	h, err := mcpauth.New(ctx, http.NotFoundHandler(), configFrom(t, k.ConfigMap(jwtvectors.ModeJWKS, hang.URL)), "dead")
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("New took %v with a hanging JWKS URL", d)
	}
	cancel() // ends the background prefetch
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, jwtvectors.Bearer(http.MethodGet, "/mcp", k.Valid(time.Now(), "1")))
	if rec.Code == http.StatusOK {
		t.Fatalf("status 200 without keys")
	}
}

func TestJWKSRotationRefetchesUnknownKid(t *testing.T) {
	k := testKeys(t)
	var mu sync.Mutex
	jwks := `{"keys":[]}`
	fetches := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fetches++
		_, _ = w.Write([]byte(jwks))
	}))
	defer srv.Close()
	do := nativeDoer(t, srv.URL, nil)
	token := k.Valid(time.Now(), "rot")
	// The first request creates the instance; its fetch finds no key.
	if res := do(t, jwtvectors.ModeJWKS, jwtvectors.Bearer("GET", "/mcp", token)); res.Reached {
		t.Fatalf("token accepted before its key was published")
	}
	mu.Lock()
	if fetches != 1 {
		t.Errorf("%d fetches after the first request, want 1 (prefetch and lookup single-flighted)", fetches)
	}
	mu.Unlock()
	mu.Lock()
	jwks = k.JWKS()
	mu.Unlock()
	// A hostile kid flood must not cause a fetch per request.
	for i := 0; i < 20; i++ {
		do(t, jwtvectors.ModeJWKS, jwtvectors.Bearer("GET", "/mcp", token))
	}
	mu.Lock()
	n := fetches
	mu.Unlock()
	if n > 2 {
		t.Fatalf("%d JWKS fetches for 21 requests within the refetch period, want ≤ 2", n)
	}
	// After the refetch period the new kid is found.
	waitFor(t, func() bool {
		return do(t, jwtvectors.ModeJWKS, jwtvectors.Bearer("GET", "/mcp", token)).Reached
	})
}

func TestPolicy(t *testing.T) {
	k := testKeys(t)
	now := time.Now()
	tokenFor := func(sub, login, scope string) string {
		c := jwtvectors.Claims(now, sub)
		c["login"], c["scope"] = login, scope
		return jwtvectors.Sign("RS256", k.RSA, map[string]interface{}{"typ": "at+jwt", "kid": jwtvectors.RSAKid}, c)
	}
	tests := []struct {
		name   string
		change func(m map[string]interface{})
		token  string
		status int
	}{
		{"scopes present", func(m map[string]interface{}) { m["requiredScopes"] = []interface{}{"mcp:tools"} }, tokenFor("1", "ann", "mcp:tools x"), 200},
		{"scope missing", func(m map[string]interface{}) { m["requiredScopes"] = []interface{}{"mcp:admin"} }, tokenFor("1", "ann", "mcp:tools"), 403},
		{"scope prefix is not the scope", func(m map[string]interface{}) { m["requiredScopes"] = []interface{}{"mcp:tool"} }, tokenFor("1", "ann", "mcp:tools"), 403},
		{"user by login any case", func(m map[string]interface{}) { m["allowedUsers"] = []interface{}{"Ann"} }, tokenFor("1", "ann", ""), 200},
		{"user by sub", func(m map[string]interface{}) { m["allowedUsers"] = []interface{}{"12"} }, tokenFor("12", "bob", ""), 200},
		{"user not allowed", func(m map[string]interface{}) { m["allowedUsers"] = []interface{}{"ann"} }, tokenFor("2", "eve", ""), 403},
		{"star allows all", func(m map[string]interface{}) { m["allowedUsers"] = []interface{}{"*"} }, tokenFor("2", "eve", ""), 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := nativeDoer(t, "", tc.change)(t, jwtvectors.ModeJWKS, jwtvectors.Bearer("POST", "/mcp", tc.token))
			if res.Status != tc.status || res.Reached != (tc.status == 200) {
				t.Fatalf("status %d reached %v, want %d", res.Status, res.Reached, tc.status)
			}
			if tc.status == 403 && !strings.Contains(res.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
				t.Errorf("WWW-Authenticate = %q, want insufficient_scope", res.Header.Get("WWW-Authenticate"))
			}
		})
	}
	t.Run("scope in challenge", func(t *testing.T) {
		do := nativeDoer(t, "", func(m map[string]interface{}) { m["requiredScopes"] = []interface{}{"mcp:tools", "mcp:x"} })
		res := do(t, jwtvectors.ModeJWKS, httptest.NewRequest("POST", "/mcp", nil))
		if got, want := res.Header.Get("WWW-Authenticate"), `Bearer resource_metadata="`+jwtvectors.PRMURL+`", scope="mcp:tools mcp:x"`; got != want {
			t.Errorf("WWW-Authenticate = %q, want %q", got, want)
		}
	})
	t.Run("forwardAuthorization", func(t *testing.T) {
		do := nativeDoer(t, "", func(m map[string]interface{}) { m["forwardAuthorization"] = true })
		token := k.Valid(now, "fa")
		res := do(t, jwtvectors.ModeJWKS, jwtvectors.Bearer("POST", "/mcp", token))
		if got := res.Backend.Get("Authorization"); got != "Bearer "+token {
			t.Errorf("backend Authorization = %q, want the token forwarded", got)
		}
	})
	t.Run("renamed headers", func(t *testing.T) {
		do := nativeDoer(t, "", func(m map[string]interface{}) { m["headers"] = map[string]interface{}{"userId": "X-Remote-User"} })
		r := jwtvectors.Bearer("POST", "/mcp", k.Valid(now, "rn"))
		r.Header["X_remote_user"] = []string{"spoof"}
		res := do(t, jwtvectors.ModeJWKS, r)
		if got := res.Backend["X-Remote-User"]; len(got) != 1 || got[0] != "rn" {
			t.Errorf("X-Remote-User = %q, want [rn]", got)
		}
		if _, ok := res.Backend["X_remote_user"]; ok {
			t.Errorf("spoofed X_remote_user survived")
		}
	})
}

// feed is a revocation feed per docs/interfaces.md.
type feed struct {
	mu      sync.Mutex
	gen     int
	tokens  []map[string]interface{}
	users   []map[string]interface{}
	clients []map[string]interface{}
	down    bool
	auth    string
	polls   int
}

func (f *feed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.polls++
	f.auth = r.Header.Get("Authorization")
	if f.down {
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	// Always the full state with reset: valid per the contract (an unknown cursor
	// gets a reset) and it exercises replacement.
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]interface{}{
		"cursor": "c" + strings.Repeat("x", f.gen), "reset": true,
		"tokens": f.tokens, "users": f.users, "clients": f.clients,
	})
}

func (f *feed) set(fn func(f *feed)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
	f.gen++
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRevocation(t *testing.T) {
	k := testKeys(t)
	f := &feed{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	do := nativeDoer(t, "", func(m map[string]interface{}) {
		m["revocationURL"] = srv.URL + "/internal/revocations"
		m["revocationInterval"] = "200ms"
		m["revocationToken"] = "feed-secret"
	})
	now := time.Now()
	mk := func(sub, client string, iat time.Time) (string, string) {
		c := jwtvectors.Claims(iat, sub)
		c["client_id"] = client
		return jwtvectors.Sign("RS256", k.RSA, map[string]interface{}{"typ": "at+jwt", "kid": jwtvectors.RSAKid}, c), c["jti"].(string)
	}
	passes := func(tok string) bool {
		return do(t, jwtvectors.ModeJWKS, jwtvectors.Bearer("POST", "/mcp", tok)).Reached
	}
	tokA, jtiA := mk("100", "cl-a", now.Add(-time.Minute))
	tokB, _ := mk("200", "cl-b", now.Add(-time.Minute))
	tokC, _ := mk("300", "cl-c", now.Add(-time.Minute))
	for _, tok := range []string{tokA, tokB, tokC} {
		if !passes(tok) {
			t.Fatalf("fresh token refused")
		}
	}
	before := now.Add(-30 * time.Second).Unix()
	f.set(func(f *feed) {
		f.tokens = append(f.tokens, map[string]interface{}{"jti": jtiA, "exp": now.Add(time.Hour).Unix()})
		f.users = append(f.users, map[string]interface{}{"sub": "200", "before": before})
		f.clients = append(f.clients, map[string]interface{}{"client_id": "cl-c", "before": before})
	})
	for _, tok := range []string{tokA, tokB, tokC} {
		tok := tok
		waitFor(t, func() bool { return !passes(tok) })
	}
	res := do(t, jwtvectors.ModeJWKS, jwtvectors.Bearer("POST", "/mcp", tokA))
	if res.Status != 401 || !strings.Contains(res.Body, "token revoked") {
		t.Errorf("revoked token: status %d body %s, want 401 token revoked", res.Status, res.Body)
	}
	// Tokens issued after the user's or client's cut-off still work.
	tokB2, _ := mk("200", "cl-b", now)
	tokC2, _ := mk("301", "cl-c", now)
	if !passes(tokB2) || !passes(tokC2) {
		t.Errorf("token issued after the revocation cut-off refused")
	}
	f.mu.Lock()
	if f.auth != "Bearer feed-secret" {
		t.Errorf("feed saw Authorization %q, want Bearer feed-secret", f.auth)
	}
	f.mu.Unlock()

	// Feed down: keep serving with what is known.
	f.set(func(f *feed) { f.down = true })
	time.Sleep(500 * time.Millisecond)
	for i := 0; i < 5; i++ {
		if passes(tokA) || !passes(tokB2) {
			t.Fatalf("with the feed down, known revocations must hold and good tokens pass")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A reset without the entries lifts them (the feed is the source of truth).
	f.set(func(f *feed) { f.down = false; f.tokens = nil; f.users = nil; f.clients = nil })
	waitFor(t, func() bool { return passes(tokA) && passes(tokB) && passes(tokC) })
}

// TestStdlibOnly keeps the plugin interpretable by Traefik: its non-test imports must
// all be standard library packages.
func TestStdlibOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	std, err := exec.Command("go", "list", "std").Output()
	if err != nil {
		t.Fatalf("go list std: %v", err)
	}
	stdSet := map[string]bool{}
	for _, p := range strings.Fields(string(std)) {
		stdSet[p] = true
	}
	imports := strings.Fields(string(out))
	if len(imports) < 5 {
		t.Fatalf("go list found only %v", imports)
	}
	for _, p := range imports {
		if !stdSet[p] {
			t.Errorf("plugin imports %s, which is not in the standard library", p)
		}
	}
}

// TestRevocationSharedFeed: two middleware instances on one feed (two routes, or a
// configuration rebuild) share its state. Traffic through one triggers the polls; a
// token cached by the other, on its fast path, is refused within the interval plus
// the short re-sync while a poll runs, not one interval later.
func TestRevocationSharedFeed(t *testing.T) {
	k := testKeys(t)
	f := &feed{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	const interval = 300 * time.Millisecond
	change := func(m map[string]interface{}) {
		m["revocationURL"] = srv.URL + "/shared"
		m["revocationInterval"] = interval.String()
	}
	a, b := nativeDoer(t, "", change), nativeDoer(t, "", change)
	c := jwtvectors.Claims(time.Now(), "400")
	tok := jwtvectors.Sign("RS256", k.RSA, map[string]interface{}{"typ": "at+jwt", "kid": jwtvectors.RSAKid}, c)
	other := k.Valid(time.Now(), "401")
	for i := 0; i < 3; i++ { // cached, and on a's fast path
		if !a(t, jwtvectors.ModeJWKS, jwtvectors.Bearer("POST", "/mcp", tok)).Reached {
			t.Fatal("fresh token refused")
		}
	}
	// Steady state first: polls every interval, triggered by whichever instance.
	for warm := time.Now(); time.Since(warm) < 2*interval+interval/3; time.Sleep(10 * time.Millisecond) {
		b(t, jwtvectors.ModeJWKS, jwtvectors.Bearer("POST", "/mcp", other))
		a(t, jwtvectors.ModeJWKS, jwtvectors.Bearer("POST", "/mcp", tok))
	}
	f.set(func(f *feed) {
		f.tokens = append(f.tokens, map[string]interface{}{"jti": c["jti"], "exp": time.Now().Add(time.Hour).Unix()})
	})
	published := time.Now()
	for {
		// b's traffic keeps the polls going; a sees only the revoked token.
		b(t, jwtvectors.ModeJWKS, jwtvectors.Bearer("POST", "/mcp", other))
		if !a(t, jwtvectors.ModeJWKS, jwtvectors.Bearer("POST", "/mcp", tok)).Reached {
			break
		}
		if time.Since(published) > interval+interval/2 {
			t.Fatalf("revoked token still passes instance a %v after publication (interval %v)", time.Since(published), interval)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("refused %v after publication (interval %v)", time.Since(published).Round(time.Millisecond), interval)
}

// TestConcurrentRequests sends requests from many goroutines through one instance
// (run with -race in CI) for 700 ms at least: cached and new tokens, a revoked user's,
// a forged one, while the revocation feed is polled every 100 ms (the least allowed)
// and each poll is a reset, so that cached entries keep being re-checked against a
// new state generation. Every answer must be right, and each admitted request carries
// its own token's identity.
func TestConcurrentRequests(t *testing.T) {
	k := testKeys(t)
	f := &feed{}
	f.set(func(f *feed) {
		f.users = append(f.users, map[string]interface{}{"sub": "revoked", "before": time.Now().Add(time.Hour).Unix()})
	})
	srv := httptest.NewServer(f)
	defer srv.Close()
	m := k.ConfigMap(jwtvectors.ModeJWKS, "")
	m["revocationURL"] = srv.URL
	m["revocationInterval"] = "100ms"
	cfg, err := decodeConfig(m)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h, err := mcpauth.New(ctx, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-User", r.Header.Get("X-User-Id"))
	}), cfg, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	send := func(tok string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, jwtvectors.Bearer("POST", "/mcp", tok))
		return rec.Code, rec.Header().Get("X-Seen-User")
	}
	revoked := k.Valid(time.Now(), "revoked")
	waitFor(t, func() bool { code, _ := send(revoked); return code == http.StatusUnauthorized })
	forged := jwtvectors.Sign("RS256", k.Rogue, map[string]interface{}{"typ": "at+jwt", "kid": jwtvectors.RSAKid}, jwtvectors.Claims(time.Now(), "forged"))
	start := time.Now()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			own := fmt.Sprintf("g%d", g)
			ownTok := k.Valid(time.Now(), own)
			for i := 0; i < 120 || time.Since(start) < 700*time.Millisecond; i++ {
				tok, want := ownTok, own
				switch i % 4 {
				case 1: // a new token
					want = fmt.Sprintf("g%d-%d", g, i)
					tok = k.Valid(time.Now(), want)
				case 2:
					tok, want = revoked, ""
				case 3:
					tok, want = forged, ""
				}
				code, seen := send(tok)
				if (want == "" && code != http.StatusUnauthorized) || (want != "" && (code != http.StatusOK || seen != want)) {
					t.Errorf("goroutine %d request %d: status %d, backend saw user %q; want user %q (\"\": 401)", g, i, code, seen, want)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	f.mu.Lock()
	polls := f.polls
	f.mu.Unlock()
	if polls < 4 {
		t.Errorf("the feed was polled %d times in %v, want one per 100 ms", polls, time.Since(start))
	}
}

// TestRevocationWhileIdle: the feed is read on the interval whether or not requests
// arrive, so after an idle spell the first request with a token revoked meanwhile is
// refused at once (before, polls were started only by requests, and one arriving after
// less than three idle intervals was served with the old state while its poll ran).
func TestRevocationWhileIdle(t *testing.T) {
	k := testKeys(t)
	f := &feed{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	const interval = time.Second
	do := nativeDoer(t, "", func(m map[string]interface{}) {
		m["revocationURL"] = srv.URL
		m["revocationInterval"] = interval.String()
	})
	c := jwtvectors.Claims(time.Now(), "500")
	tok := jwtvectors.Sign("RS256", k.RSA, map[string]interface{}{"typ": "at+jwt", "kid": jwtvectors.RSAKid}, c)
	if !do(t, jwtvectors.ModeJWKS, jwtvectors.Bearer("POST", "/mcp", tok)).Reached {
		t.Fatal("fresh token refused")
	}
	f.mu.Lock()
	before := f.polls
	f.mu.Unlock()
	f.set(func(f *feed) {
		f.tokens = append(f.tokens, map[string]interface{}{"jti": c["jti"], "exp": time.Now().Add(time.Hour).Unix()})
	})
	time.Sleep(2*interval + interval/4) // idle: no request at all
	f.mu.Lock()
	idlePolls := f.polls - before
	f.mu.Unlock()
	if idlePolls < 2 {
		t.Errorf("%d polls in %v without traffic, want one per interval", idlePolls, 2*interval+interval/4)
	}
	if res := do(t, jwtvectors.ModeJWKS, jwtvectors.Bearer("POST", "/mcp", tok)); res.Reached || res.Status != http.StatusUnauthorized {
		t.Errorf("first request after the idle spell: status %d reached %v, want the revoked token refused", res.Status, res.Reached)
	}
}

// TestRevocationMaxStale: with revocationMaxStale, once the feed has been unreachable
// for longer than the bound, tokens issued before the last good read are refused (they
// may have been revoked since); tokens issued after it pass; when the feed is back, so
// are the older tokens. Without the bound (the default) they pass until they expire.
func TestRevocationMaxStale(t *testing.T) {
	k := testKeys(t)
	sign := func(sub string, iat time.Time) string {
		c := jwtvectors.Claims(iat, sub)
		return jwtvectors.Sign("RS256", k.RSA, map[string]interface{}{"typ": "at+jwt", "kid": jwtvectors.RSAKid}, c)
	}
	for _, bounded := range []bool{true, false} {
		f := &feed{}
		srv := httptest.NewServer(f)
		const interval, maxStale = 200 * time.Millisecond, 700 * time.Millisecond
		do := nativeDoer(t, "", func(m map[string]interface{}) {
			m["revocationURL"] = srv.URL
			m["revocationInterval"] = interval.String()
			if bounded {
				m["revocationMaxStale"] = maxStale.String()
			}
		})
		old := sign("600", time.Now().Add(-time.Minute))
		pass := func(tok string) bool {
			return do(t, jwtvectors.ModeJWKS, jwtvectors.Bearer("POST", "/mcp", tok)).Reached
		}
		if !pass(old) {
			t.Fatal("token refused while the feed works")
		}
		waitFor(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.polls >= 2 })
		f.set(func(f *feed) { f.down = true })
		down := time.Now()
		if !pass(old) {
			t.Errorf("bounded %v: token refused %v after the feed went down (bound %v)", bounded, time.Since(down), maxStale)
		}
		time.Sleep(maxStale + 2*interval)
		if got := pass(old); got == bounded {
			t.Errorf("bounded %v: a token issued before the last good read passes = %v past the bound", bounded, got)
		}
		if !pass(sign("601", time.Now())) {
			t.Errorf("bounded %v: a token issued after the last good read was refused", bounded)
		}
		f.set(func(f *feed) { f.down = false })
		waitFor(t, func() bool { return pass(old) })
		srv.Close()
	}
}
