package jwtvectors

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/internal/contract"
)

// Result is what one request through the middleware produced.
type Result struct {
	Status  int
	Header  http.Header // response headers
	Body    string
	Reached bool        // the backend was called
	Backend http.Header // the request headers the backend saw
}

// Doer sends req (path-relative URL) through a plugin instance configured by
// ConfigMap(mode, …) and reports what happened. The native test, the Yaegi harness
// and the real-Traefik test each provide one, so every check runs in all three.
type Doer func(t *testing.T, mode Mode, req *http.Request) Result

// PRMURL is the metadata URL the plugin advertises for Resource.
const PRMURL = "https://mcp.test.example/.well-known/oauth-protected-resource/mcp"

// ConfigMap is the plugin configuration of the suite as Traefik hands it over:
// string values and string lists. jwksURL "" means an inline JWKS.
func (k *Keys) ConfigMap(mode Mode, jwksURL string) map[string]interface{} {
	m := map[string]interface{}{
		"issuer":             Issuer,
		"resource":           Resource,
		"resourceName":       "Test MCP",
		"audiences":          []interface{}{DefaultAudience},
		"scopesSupported":    []interface{}{"mcp:tools", "mcp:resources"},
		"clockSkew":          Skew.String(),
		"corsAllowedOrigins": []interface{}{"https://app.test.example"},
	}
	switch {
	case mode == ModeHMAC:
		m["hmacSecret"] = HMACSecret
	case jwksURL != "":
		m["jwksURL"] = jwksURL
	default:
		m["jwks"] = k.JWKS()
	}
	return m
}

// Bearer returns a request to path with the token.
func Bearer(method, path, token string) *http.Request {
	r := httptest.NewRequest(method, "http://mcp.test.example"+path, nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// CheckTokenTable runs every case and compares the plugin with the stated
// expectation and with the oracle. skip lets a transport leave out cases it cannot
// carry (a real HTTP server refuses a 1 MB header before the plugin sees it).
func CheckTokenTable(t *testing.T, k *Keys, do Doer, skip func(Case) string) {
	now := time.Now()
	for _, c := range k.Cases(now) {
		c := c
		t.Run(c.Name, func(t *testing.T) {
			if skip != nil {
				if why := skip(c); why != "" {
					t.Skip(why)
				}
			}
			oracleErr := k.Oracle(c.Mode, c.Token, time.Now())
			if (oracleErr == nil) != c.Valid {
				t.Fatalf("oracle (jwt/v5) accepts=%v (err %v), table says valid=%v", oracleErr == nil, oracleErr, c.Valid)
			}
			// Twice: the second request takes the verified-token cache when valid.
			var res Result
			for i := 0; i < 2; i++ {
				res = do(t, c.Mode, Bearer(http.MethodPost, "/mcp", c.Token))
				if res.Reached != c.Valid {
					t.Fatalf("request %d: plugin let it through=%v, want %v (status %d, body %s)", i+1, res.Reached, c.Valid, res.Status, res.Body)
				}
			}
			if c.Valid {
				if res.Status != http.StatusOK {
					t.Errorf("status = %d, want 200", res.Status)
				}
				checkIdentity(t, c.Token, res.Backend)
				return
			}
			if res.Status != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401 (body %s)", res.Status, res.Body)
			}
			wa := res.Header.Get("WWW-Authenticate")
			if !strings.HasPrefix(wa, "Bearer ") || !strings.Contains(wa, `error="invalid_token"`) || !strings.Contains(wa, `resource_metadata="`+PRMURL+`"`) {
				t.Errorf("WWW-Authenticate = %q, want Bearer error=\"invalid_token\" with resource_metadata", wa)
			}
			var body map[string]string
			if err := json.Unmarshal([]byte(res.Body), &body); err != nil || body["error"] != "invalid_token" {
				t.Errorf("body = %q, want JSON with error invalid_token", res.Body)
			}
		})
	}
}

// CheckRequests covers everything around the token: challenges, query tokens,
// duplicate headers, scheme case, methods and path tricks, metadata, preflights.
func CheckRequests(t *testing.T, k *Keys, do Doer) {
	good := k.Valid(time.Now(), "7")
	t.Run("no token challenge", func(t *testing.T) {
		res := do(t, ModeJWKS, httptest.NewRequest(http.MethodPost, "http://mcp.test.example/mcp", nil))
		wantRefused(t, res, http.StatusUnauthorized)
		// The scope to ask for: the metadata's scopes_supported (no requiredScopes here).
		if got, want := res.Header.Get("WWW-Authenticate"), `Bearer resource_metadata="`+PRMURL+`", scope="mcp:tools mcp:resources"`; got != want {
			t.Errorf("WWW-Authenticate = %q, want %q", got, want)
		}
	})
	t.Run("basic scheme is no bearer token", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "http://mcp.test.example/mcp", nil)
		r.Header.Set("Authorization", "Basic dXNlcjpwYXNz")
		res := do(t, ModeJWKS, r)
		wantRefused(t, res, http.StatusUnauthorized)
		if wa := res.Header.Get("WWW-Authenticate"); !strings.Contains(wa, "resource_metadata=") {
			t.Errorf("WWW-Authenticate = %q, want the metadata challenge", wa)
		}
	})
	for _, scheme := range []string{"bearer", "BEARER", "BeArEr"} {
		scheme := scheme
		t.Run("scheme "+scheme, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "http://mcp.test.example/mcp", nil)
			r.Header.Set("Authorization", scheme+" "+good)
			if res := do(t, ModeJWKS, r); !res.Reached || res.Status != http.StatusOK {
				t.Errorf("status %d reached %v, want 200 through", res.Status, res.Reached)
			}
		})
	}
	for _, q := range []string{"access_token=" + good, "a=1&access_token=x", "access%5Ftoken=x", "access_token",
		"%61ccess_token=x", "acc%65ss_token=x", "b=2&%61%63%63%65%73%73%5f%74%6f%6b%65%6e=" + good} {
		q := q
		t.Run("query token "+q[:10], func(t *testing.T) {
			r := Bearer(http.MethodPost, "/mcp?"+q, good)
			res := do(t, ModeJWKS, r)
			wantRefused(t, res, http.StatusBadRequest)
			if wa := res.Header.Get("WWW-Authenticate"); !strings.Contains(wa, `error="invalid_request"`) {
				t.Errorf("WWW-Authenticate = %q, want invalid_request", wa)
			}
		})
	}
	t.Run("two Authorization headers", func(t *testing.T) {
		r := Bearer(http.MethodPost, "/mcp", good)
		r.Header.Add("Authorization", "Bearer "+good)
		wantRefused(t, do(t, ModeJWKS, r), http.StatusBadRequest)
	})
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodDelete, http.MethodPut, http.MethodOptions, "PATCH"} {
		for _, p := range []string{"/mcp", "//mcp", "/%2e/mcp", "/%2Fmcp", "/mcp/../mcp", "/", "/.well-known/oauth-protected-resource/other"} {
			m, p := m, p
			t.Run("no token "+m+" "+p, func(t *testing.T) {
				wantRefused(t, do(t, ModeJWKS, httptest.NewRequest(m, "http://mcp.test.example"+p, nil)), http.StatusUnauthorized)
			})
		}
	}
	for _, p := range []string{"/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"} {
		p := p
		t.Run("metadata "+p, func(t *testing.T) {
			res := do(t, ModeJWKS, httptest.NewRequest(http.MethodGet, "http://mcp.test.example"+p, nil))
			if res.Status != http.StatusOK || res.Reached {
				t.Fatalf("status %d reached %v, want 200 from the plugin", res.Status, res.Reached)
			}
			var doc map[string]interface{}
			if err := json.Unmarshal([]byte(res.Body), &doc); err != nil {
				t.Fatalf("metadata is not JSON: %v: %s", err, res.Body)
			}
			if doc["resource"] != Resource {
				t.Errorf("resource = %v, want %s", doc["resource"], Resource)
			}
			if as, _ := doc["authorization_servers"].([]interface{}); len(as) != 1 || as[0] != Issuer {
				t.Errorf("authorization_servers = %v, want [%s]", doc["authorization_servers"], Issuer)
			}
			if bm, _ := doc["bearer_methods_supported"].([]interface{}); len(bm) != 1 || bm[0] != "header" {
				t.Errorf("bearer_methods_supported = %v, want [header]", doc["bearer_methods_supported"])
			}
			if sc, _ := doc["scopes_supported"].([]interface{}); len(sc) != 2 {
				t.Errorf("scopes_supported = %v, want 2 scopes", doc["scopes_supported"])
			}
			if doc["resource_name"] != "Test MCP" {
				t.Errorf("resource_name = %v", doc["resource_name"])
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
	t.Run("metadata POST", func(t *testing.T) {
		res := do(t, ModeJWKS, httptest.NewRequest(http.MethodPost, "http://mcp.test.example/.well-known/oauth-protected-resource", nil))
		wantRefused(t, res, http.StatusMethodNotAllowed)
	})
	for _, origin := range []string{"https://app.test.example", "https://evil.example"} {
		origin := origin
		t.Run("preflight "+origin, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodOptions, "http://mcp.test.example/mcp", nil)
			r.Header.Set("Origin", origin)
			r.Header.Set("Access-Control-Request-Method", "POST")
			r.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
			res := do(t, ModeJWKS, r)
			wantRefused(t, res, http.StatusNoContent)
			allowed := origin == "https://app.test.example"
			if got := res.Header.Get("Access-Control-Allow-Origin"); (got == origin) != allowed || (!allowed && got != "") {
				t.Errorf("Access-Control-Allow-Origin = %q for %s (allowed %v)", got, origin, allowed)
			}
		})
	}
}

// Spoofs are client-sent identity headers in every spelling the plugin must remove.
var Spoofs = []string{
	"X-User-Id", "x-user-id", "X-USER-ID", "X_User_Id", "x_user_id", "X-User_Id", "X_USER_LOGIN",
	"X-User-Login", "X-User-Name", "x_user_name", "X-Auth-Client-Id", "X_Auth_Client_Id",
	"X-Auth-Scopes", "x-auth_scopes", "X.User.Login", "x.user.id", "X-User.Name", "X.Auth.Client.Id",
	"X.Auth-Scopes",
}

// NormalizeHeaderName folds the spellings of a header name that a proxy or framework
// may treat as one header (case; '_' and '.' for '-'): the tests' oracle for what the
// plugin must strip.
func NormalizeHeaderName(name string) string {
	return strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(name))
}

// CheckIdentityHeaders sends a valid token with every spoofed spelling (each twice)
// and checks the backend sees exactly the plugin's headers.
func CheckIdentityHeaders(t *testing.T, k *Keys, do Doer) {
	now := time.Now()
	c := Claims(now, "31337")
	c["name"] = "Zoë Admin"
	token := Sign("RS256", k.RSA, map[string]interface{}{"typ": "at+jwt", "kid": RSAKid}, c)
	// Twice: a full verification, then the verified-token cache's fast path.
	for round := 1; round <= 2; round++ {
		t.Run(fmt.Sprintf("request %d", round), func(t *testing.T) { checkSpoofs(t, do, token) })
	}
}

func checkSpoofs(t *testing.T, do Doer, token string) {
	r := Bearer(http.MethodPost, "/mcp", token)
	for _, s := range Spoofs {
		// Set the map directly: Header.Add would canonicalise and merge spellings.
		r.Header[s] = append(r.Header[s], "spoofed", "spoofed-again")
	}
	res := do(t, ModeJWKS, r)
	if !res.Reached || res.Status != http.StatusOK {
		t.Fatalf("status %d reached %v, want 200 through", res.Status, res.Reached)
	}
	want := map[string]string{
		"X-User-Id":        "31337",
		"X-User-Login":     "user31337",
		"X-User-Name":      "Zoë Admin",
		"X-Auth-Client-Id": "client-31337",
		"X-Auth-Scopes":    "mcp:tools mcp:resources",
	}
	for name, v := range want {
		if got := res.Backend[name]; len(got) != 1 || got[0] != v {
			t.Errorf("backend saw %s = %q, want [%q]", name, got, v)
		}
	}
	for name, vals := range res.Backend {
		norm := NormalizeHeaderName(name)
		if _, ok := want[http.CanonicalHeaderKey(norm)]; ok && name != http.CanonicalHeaderKey(norm) {
			t.Errorf("backend saw a spoofed spelling %s = %q", name, vals)
		}
		for _, v := range vals {
			if strings.Contains(v, "spoofed") {
				t.Errorf("backend saw spoofed value in %s = %q", name, v)
			}
		}
	}
	if a := res.Backend.Get("Authorization"); a != "" {
		t.Errorf("backend saw Authorization %q, want it dropped", a)
	}
}

// IdentityHeaders are the identity headers the plugin injects, in their default
// names, each with the claim it carries.
var IdentityHeaders = [][2]string{
	{"X-User-Id", "sub"}, {"X-User-Login", "login"}, {"X-User-Name", "name"},
	{"X-Auth-Client-Id", "client_id"}, {"X-Auth-Scopes", "scope"},
}

// checkIdentity compares the identity headers the backend saw with the claims of
// token: each is the claim's value, or empty when the token lacks the claim.
func checkIdentity(t *testing.T, token string, backend http.Header) {
	t.Helper()
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]interface{}
	if err != nil || json.Unmarshal(payload, &claims) != nil {
		t.Fatalf("test token has an unreadable payload: %v", err)
	}
	for _, hc := range IdentityHeaders {
		want, _ := claims[hc[1]].(string)
		if got := backend[hc[0]]; len(got) != 1 || got[0] != want {
			t.Errorf("backend saw %s = %q, want [%q] (claim %s)", hc[0], got, want, hc[1])
		}
	}
}

func wantRefused(t *testing.T, res Result, status int) {
	t.Helper()
	if res.Reached {
		t.Fatalf("request reached the backend (status %d)", res.Status)
	}
	if res.Status != status {
		t.Fatalf("status = %d, want %d (body %s)", res.Status, status, res.Body)
	}
	if status == http.StatusUnauthorized && res.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("401 without WWW-Authenticate")
	}
}

// Backend is a next handler that records whether and with which headers a request
// reached it.
type Backend struct {
	mu      sync.Mutex
	reached bool
	header  http.Header
}

// ServeHTTP records r and answers 200.
func (b *Backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.reached, b.header = true, r.Header.Clone()
	b.mu.Unlock()
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("backend"))
}

// HandlerDoer is a Doer over in-process plugin instances: build makes the instance
// for a mode (once, on first use) in front of next; requests go through a recorder.
func HandlerDoer(build func(mode Mode, next http.Handler) (http.Handler, error)) Doer {
	type inst struct {
		h  http.Handler
		be *Backend
	}
	var mu sync.Mutex
	insts := map[Mode]*inst{}
	return func(t *testing.T, mode Mode, req *http.Request) Result {
		mu.Lock()
		in := insts[mode]
		if in == nil {
			be := &Backend{}
			h, err := build(mode, be)
			if err != nil {
				mu.Unlock()
				t.Fatalf("building the plugin for %s: %v", mode, err)
			}
			in = &inst{h: h, be: be}
			insts[mode] = in
		}
		mu.Unlock()
		in.be.mu.Lock()
		in.be.reached, in.be.header = false, nil
		in.be.mu.Unlock()
		rec := httptest.NewRecorder()
		in.h.ServeHTTP(rec, req)
		in.be.mu.Lock()
		defer in.be.mu.Unlock()
		return Result{Status: rec.Code, Header: rec.Header(), Body: rec.Body.String(), Reached: in.be.reached, Backend: in.be.header}
	}
}

// IdentitySecret is the plugin's identitySecret in [CheckIdentitySignature].
const IdentitySecret = "identity-signing-secret-of-32-bytes-or-more"

// CheckIdentitySignature: with identitySecret = [IdentitySecret] (do must configure it),
// every admitted request reaches the backend with a signature the bridge's verifier
// ([contract.VerifyIdentity]) accepts for exactly the identity, method, host and path
// the backend saw, and a signature the client sent is replaced.
func CheckIdentitySignature(t *testing.T, k *Keys, do Doer) {
	now := time.Now()
	for i, method := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
		r := Bearer(method, "/mcp", k.Valid(now, fmt.Sprintf("sig%d", i)))
		r.Header.Set(contract.HeaderIdentitySignature, "t=1,v1=forged")
		res := do(t, ModeJWKS, r)
		if !res.Reached {
			t.Fatalf("%s: refused with %d", method, res.Status)
		}
		sig := res.Backend.Values(contract.HeaderIdentitySignature)
		if len(sig) != 1 {
			t.Fatalf("%s: backend saw signature headers %q, want exactly one", method, sig)
		}
		values := contract.IdentityValues(res.Backend)
		if err := contract.VerifyIdentity([]byte(IdentitySecret), sig[0], time.Now(), method, r.Host, r.URL.Path, values); err != nil {
			t.Errorf("%s: the bridge's verifier refuses the plugin's signature %q: %v", method, sig[0], err)
		}
		if err := contract.VerifyIdentity([]byte(IdentitySecret), sig[0], time.Now(), method, r.Host, "/other", values); err == nil {
			t.Errorf("%s: the signature also verifies for another path", method)
		}
	}
}

// CheckClientSignatureDropped: without identitySecret, a signature header the client
// sent never reaches the backend.
func CheckClientSignatureDropped(t *testing.T, k *Keys, do Doer) {
	r := Bearer(http.MethodPost, "/mcp", k.Valid(time.Now(), "nosig"))
	r.Header.Set(contract.HeaderIdentitySignature, "t=1,v1=forged")
	res := do(t, ModeJWKS, r)
	if !res.Reached {
		t.Fatalf("refused with %d", res.Status)
	}
	if v := res.Backend.Values(contract.HeaderIdentitySignature); len(v) != 0 {
		t.Errorf("backend saw the client's signature header %q", v)
	}
}
