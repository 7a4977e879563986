package yaegi

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/jwtvectors"
	mcpauth "github.com/mcp-oauth-gateway/gateway/plugin"
)

// TestDifferentialClaims sends the same stream of randomly built tokens through the
// plugin compiled natively and the plugin under Yaegi, and requires the same answer
// from both: status, body, challenge and, when admitted, the identity headers. Every
// claim (and JOSE header field) is present and right most of the time, and otherwise
// absent, empty, of the wrong JSON type, or carrying a control character, in every
// combination. Yaegi bugs
// that depend on which claims a token has or on the token before it (a comma-ok
// keeping an earlier value, see docs/plugin.md) show up here as a difference. One
// instance pair has no policy, the other requiredScopes and allowedUsers.
// DIFF_SEED reproduces a run; DIFF_TOKENS changes its length.
func TestDifferentialClaims(t *testing.T) {
	seed := time.Now().UnixNano()
	if s := os.Getenv("DIFF_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	n := 1000
	if s := os.Getenv("DIFF_TOKENS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	rng := rand.New(rand.NewSource(seed))
	policies := map[string]func(map[string]any){
		"no policy": nil,
		"policy": func(m map[string]any) {
			m["requiredScopes"] = []any{"mcp:tools"}
			m["allowedUsers"] = []any{"alice", "7"}
		},
	}
	for name, policy := range policies {
		t.Run(name, func(t *testing.T) {
			native, interp := nativeDoer(t, policy), yaegiDoer(t, "", policy)
			now := time.Now()
			admitted := 0
			for i := 0; i < n; i++ {
				claims := randomClaims(rng, now)
				token := jwtvectors.Sign("HS256", keys.HMAC, randomHeader(rng), claims)
				for pass := 0; pass < 2; pass++ { // the second time from the cache, when admitted
					want := native(t, jwtvectors.ModeHMAC, jwtvectors.Bearer("POST", "/mcp", token))
					got := interp(t, jwtvectors.ModeHMAC, jwtvectors.Bearer("POST", "/mcp", token))
					if diff := compareResults(want, got); diff != "" {
						cj, _ := json.Marshal(claims)
						t.Fatalf("token %d (pass %d, DIFF_SEED=%d): native and Yaegi differ: %s\nclaims %s", i, pass+1, seed, diff, cj)
					}
					if pass == 0 && want.Reached {
						admitted++
					}
				}
			}
			// The stream must exercise both outcomes, or it proves little.
			if admitted < n/20 || admitted > n-n/20 {
				t.Errorf("%d of %d tokens admitted (DIFF_SEED=%d): the generator is off balance", admitted, n, seed)
			}
			t.Logf("%d tokens, %d admitted by both (DIFF_SEED=%d)", n, admitted, seed)
		})
	}
}

// nativeDoer is the plugin compiled natively, configured like yaegiDoer's
// instances (the suite's config map, through the plugin's json tags, as the plugin's
// own tests decode it, in a test package this module cannot import).
func nativeDoer(t *testing.T, change func(map[string]any)) jwtvectors.Doer {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return jwtvectors.HandlerDoer(func(mode jwtvectors.Mode, next http.Handler) (http.Handler, error) {
		m := keys.ConfigMap(mode, "")
		if change != nil {
			change(m)
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		cfg := mcpauth.CreateConfig()
		if err := json.Unmarshal(b, cfg); err != nil {
			return nil, err
		}
		return mcpauth.New(ctx, next, cfg, "native-"+string(mode))
	})
}

func compareResults(want, got jwtvectors.Result) string {
	switch {
	case want.Status != got.Status || want.Reached != got.Reached:
		return fmt.Sprintf("status %d reached %v, want %d reached %v (native body %s, Yaegi body %s)", got.Status, got.Reached, want.Status, want.Reached, want.Body, got.Body)
	case want.Body != got.Body:
		return fmt.Sprintf("body %s, want %s", got.Body, want.Body)
	case want.Header.Get("WWW-Authenticate") != got.Header.Get("WWW-Authenticate"):
		return fmt.Sprintf("WWW-Authenticate %q, want %q", got.Header.Get("WWW-Authenticate"), want.Header.Get("WWW-Authenticate"))
	}
	for _, hc := range jwtvectors.IdentityHeaders {
		h := hc[0]
		if w, g := fmt.Sprint(want.Backend[h]), fmt.Sprint(got.Backend[h]); w != g {
			return fmt.Sprintf("backend saw %s = %s, want %s", h, g, w)
		}
	}
	return ""
}

// randomHeader is a JOSE header (besides alg) that is mostly right: typ, crit and
// kid each take another value one time in four. Headers that verify are remembered
// by the plugin, so this also exercises that state.
func randomHeader(rng *rand.Rand) map[string]any {
	h := map[string]any{"typ": "at+jwt"}
	variants := map[string][]any{
		"typ":  {nil, "JWT", "AT+JWT", "application/at+jwt", "at+jwt ", 5, json.RawMessage("null")},
		"crit": {[]any{}, []any{"exp"}, json.RawMessage("null"), "x"},
		"kid":  {"k1", "k2", 7, json.RawMessage("null")},
	}
	for _, k := range []string{"typ", "crit", "kid"} {
		if rng.Intn(4) != 0 {
			continue
		}
		if v := variants[k][rng.Intn(len(variants[k]))]; v == nil {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	return h
}

// randomClaims starts from a valid claim set and spoils some claims: each is kept
// with probability 5/6, otherwise replaced by one of its variants (nil: absent).
func randomClaims(rng *rand.Rand, now time.Time) map[string]any {
	c := jwtvectors.Claims(now, strconv.Itoa(rng.Intn(10)))
	if rng.Intn(2) == 0 {
		c["login"] = "alice"
	}
	wrongTypes := []any{nil, 42, true, []any{}, map[string]any{}, json.RawMessage("null")}
	str := func(valid ...any) []any {
		return append(append(valid, "", "a\x00b", "line\nbreak", "\u0085"), wrongTypes...)
	}
	date := func(valid ...any) []any {
		return append(valid, "1700000000", 1.5, -1, 1e300, json.RawMessage("null"), nil, true)
	}
	variants := map[string][]any{
		"iss":       str(jwtvectors.Issuer+"/", "https://evil.example"),
		"sub":       str("7", "alice"),
		"aud":       append(str(jwtvectors.Resource, jwtvectors.DefaultAudience), []any{jwtvectors.Resource, 1}, []any{"x", jwtvectors.Resource}, []any{"x"}),
		"client_id": str("other-client"),
		"jti":       str("j"),
		"scope":     str("mcp:tools", "mcp:resources", "mcp:tools mcp:resources"),
		"login":     str("alice", "ALICE", "bob"),
		"name":      str("Zoë", "mcp:tools"),
		"exp":       date(now.Add(-time.Hour).Unix(), now.Add(-10*time.Second).Unix(), now.Add(time.Minute).Unix()),
		"iat":       date(now.Add(time.Hour).Unix(), now.Add(10*time.Second).Unix()),
		"nbf":       date(now.Add(time.Hour).Unix(), now.Add(10*time.Second).Unix()),
	}
	for _, k := range []string{"iss", "sub", "aud", "client_id", "jti", "scope", "login", "name", "exp", "iat", "nbf"} {
		if rng.Intn(6) != 0 {
			continue
		}
		v := variants[k][rng.Intn(len(variants[k]))]
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}
