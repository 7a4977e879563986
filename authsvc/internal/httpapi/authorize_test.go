package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/oauthtest"
	"github.com/mcp-oauth-gateway/gateway/internal/githubstub"
)

const (
	authorizeRedirect = "https://app.example.com/oauth/callback"
	authorizeVerifier = "a-verifier-that-is-long-enough-to-be-valid-1234567890"
)

var authorizeChallenge = auth.PKCEChallenge(authorizeVerifier)

// authURL builds an /authorize URL for clientID; mod edits the parameters.
func authURL(env *oauthtest.Env, clientID string, mod func(url.Values)) string {
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {clientID},
		"redirect_uri":          {authorizeRedirect},
		"state":                 {"st&te=é 1"},
		"code_challenge":        {authorizeChallenge},
		"code_challenge_method": {"S256"},
	}
	if mod != nil {
		mod(q)
	}
	return env.URL + "/authorize?" + q.Encode()
}

// first fetches u without following any redirect.
func first(t *testing.T, u string, header http.Header) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestAuthorizeErrorPages(t *testing.T) {
	env := oauthtest.New(t, nil)
	c := env.Register(t, "client_secret_basic", authorizeRedirect, nil)
	two := env.Register(t, "client_secret_basic", authorizeRedirect, map[string]any{"redirect_uris": []string{authorizeRedirect, "https://app.example.com/other"}})
	loop := env.Register(t, "none", "http://127.0.0.1:33418/cb", nil)
	tests := []struct {
		name     string
		client   string
		redirect string // "-" removes redirect_uri
	}{
		{"unknown client", "no-such-client", authorizeRedirect},
		{"missing client_id", "", authorizeRedirect},
		{"missing redirect_uri with two registered", two.ID, "-"},
		{"trailing slash", c.ID, authorizeRedirect + "/"},
		{"extra path", c.ID, authorizeRedirect + "/x"},
		{"dot segment", c.ID, "https://app.example.com/oauth/../oauth/callback"},
		{"case change in path", c.ID, "https://app.example.com/OAuth/callback"},
		{"case change in host", c.ID, "https://APP.example.com/oauth/callback"},
		{"added query", c.ID, authorizeRedirect + "?x=1"},
		{"explicit default port", c.ID, "https://app.example.com:443/oauth/callback"},
		{"user@host", c.ID, "https://app.example.com@evil.example/oauth/callback"},
		{"percent-encoded separator", c.ID, "https://app.example.com/oauth%2Fcallback"},
		{"fragment", c.ID, authorizeRedirect + "#f"},
		{"http instead of https", c.ID, "http://app.example.com/oauth/callback"},
		{"javascript scheme", c.ID, "javascript:alert(1)//app.example.com/oauth/callback"},
		{"JAVASCRIPT scheme upper case", c.ID, "JAVASCRIPT:alert(1)"},
		{"data scheme", c.ID, "data:text/html,<script>alert(1)</script>"},
		{"file scheme", c.ID, "file:///etc/passwd"},
		{"control character", c.ID, "https://app.example.com/oauth/callback\x00"},
		{"tab in scheme", c.ID, "java\tscript:alert(1)"},
		{"look-alike unicode host", c.ID, "https://аpp.example.com/oauth/callback"},
		{"loopback other path", loop.ID, "http://127.0.0.1:40000/other"},
		{"loopback localhost instead of IP", loop.ID, "http://localhost:33418/cb"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := authURL(env, tc.client, func(q url.Values) {
				if tc.client == "" {
					q.Del("client_id")
				}
				if tc.redirect == "-" {
					q.Del("redirect_uri")
				} else {
					q.Set("redirect_uri", tc.redirect)
				}
			})
			resp := first(t, u, nil)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400", resp.StatusCode)
			}
			if loc := resp.Header.Get("Location"); loc != "" {
				t.Fatalf("Location = %q, want none", loc)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Fatalf("Content-Type = %q, want an HTML page", ct)
			}
		})
	}
}

func TestAuthorizeRedirectedErrors(t *testing.T) {
	env := oauthtest.New(t, nil)
	c := env.Register(t, "client_secret_basic", authorizeRedirect, map[string]any{"scope": "read write"})
	tests := []struct {
		name string
		mod  func(url.Values)
		want string
	}{
		{"no code_challenge", func(q url.Values) { q.Del("code_challenge") }, "invalid_request"},
		{"method absent", func(q url.Values) { q.Del("code_challenge_method") }, "invalid_request"},
		{"method plain", func(q url.Values) { q.Set("code_challenge_method", "plain") }, "invalid_request"},
		{"method s256 lower case", func(q url.Values) { q.Set("code_challenge_method", "s256") }, "invalid_request"},
		{"challenge 42 chars", func(q url.Values) { q.Set("code_challenge", strings.Repeat("a", 42)) }, "invalid_request"},
		{"challenge 129 chars", func(q url.Values) { q.Set("code_challenge", strings.Repeat("a", 129)) }, "invalid_request"},
		{"challenge with +/=", func(q url.Values) { q.Set("code_challenge", strings.Repeat("a", 40)+"+/=") }, "invalid_request"},
		{"two challenges", func(q url.Values) { q.Add("code_challenge", authorizeChallenge) }, "invalid_request"},
		{"response_type token", func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type"},
		{"no response_type", func(q url.Values) { q.Del("response_type") }, "unsupported_response_type"},
		{"relative resource", func(q url.Values) { q.Set("resource", "/mcp") }, "invalid_target"},
		{"resource with fragment", func(q url.Values) { q.Set("resource", "https://files.example.com/mcp#x") }, "invalid_target"},
		{"resource with space", func(q url.Values) { q.Set("resource", "https://files.example.com/m cp") }, "invalid_target"},
		{"scope beyond registration", func(q url.Values) { q.Set("scope", "read admin") }, "invalid_scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := first(t, authURL(env, c.ID, tc.mod), nil)
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("status = %d, want 302", resp.StatusCode)
			}
			loc, err := url.Parse(resp.Header.Get("Location"))
			if err != nil || !strings.HasPrefix(loc.String(), authorizeRedirect+"?") {
				t.Fatalf("Location = %q, want the client's redirect URI", resp.Header.Get("Location"))
			}
			q := loc.Query()
			if q.Get("error") != tc.want || q.Get("state") != "st&te=é 1" || q.Get("iss") != env.URL || q.Get("code") != "" {
				t.Fatalf("redirect query = %v, want error %s with state and iss, no code", q, tc.want)
			}
		})
	}
}

func TestAuthorizeStartsLoginWithoutCORS(t *testing.T) {
	env := oauthtest.New(t, nil)
	c := env.Register(t, "client_secret_basic", authorizeRedirect, nil)
	loop := env.Register(t, "none", "http://127.0.0.1:33418/cb", nil)
	tests := []struct {
		name, client, redirect string
	}{
		{"exact redirect", c.ID, authorizeRedirect},
		{"redirect omitted, one registered", c.ID, ""},
		{"loopback IP, other port", loop.ID, "http://127.0.0.1:51000/cb"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := first(t, authURL(env, tc.client, func(q url.Values) {
				if tc.redirect == "" {
					q.Del("redirect_uri")
				} else {
					q.Set("redirect_uri", tc.redirect)
				}
			}), http.Header{"Origin": {"https://evil.example"}})
			loc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, env.Stub.URL+"/login/oauth/authorize?") {
				t.Fatalf("status %d Location %q, want 302 to GitHub", resp.StatusCode, loc)
			}
			u, _ := url.Parse(loc)
			if u.Query().Get("code_challenge_method") != "S256" || len(u.Query().Get("state")) < 43 {
				t.Fatalf("GitHub URL %s: want PKCE S256 and a random state", loc)
			}
			for k := range resp.Header {
				if strings.HasPrefix(k, "Access-Control-") {
					t.Fatalf("/authorize sent CORS header %s", k)
				}
			}
			var login *http.Cookie
			for _, ck := range resp.Cookies() {
				if strings.Contains(ck.Name, "mcpgw_login") {
					login = ck
				}
			}
			if login == nil || !login.HttpOnly || login.SameSite != http.SameSiteLaxMode || login.MaxAge <= 0 || login.MaxAge > 600 {
				t.Fatalf("login cookie = %+v, want HttpOnly, SameSite=Lax, max 10 minutes", login)
			}
		})
	}
}

func TestCallbackRefusals(t *testing.T) {
	env := oauthtest.New(t, &oauthtest.Options{Allowed: []string{"Alice", "bob"}})
	c := env.Register(t, "client_secret_basic", authorizeRedirect, nil)
	alice := githubstub.User{ID: 11, Login: "alice", Name: "Alice"}

	// loginRedirect starts a flow in b and returns GitHub's redirect back to /callback.
	loginRedirect := func(t *testing.T, b *oauthtest.Browser) string {
		t.Helper()
		b.HTTP.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), env.URL+"/callback") {
				return http.ErrUseLastResponse
			}
			return nil
		}
		p := b.Get(t, authURL(env, c.ID, nil))
		if p.Location == nil || p.Location.Path != "/callback" {
			t.Fatalf("expected a redirect to /callback, got %d %v", p.Status, p.Location)
		}
		return p.Location.String()
	}
	follow := func(t *testing.T, b *oauthtest.Browser, u string) *oauthtest.Page {
		t.Helper()
		b.HTTP.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		return b.Get(t, u)
	}

	tests := []struct {
		name       string
		setup      func()
		run        func(t *testing.T) *oauthtest.Page
		wantStatus int
		wantError  string // for redirects to the client
	}{
		{"no state", nil, func(t *testing.T) *oauthtest.Page {
			return follow(t, env.NewBrowser(), env.URL+"/callback?code=x")
		}, http.StatusBadRequest, ""},
		{"unknown state", nil, func(t *testing.T) *oauthtest.Page {
			return follow(t, env.NewBrowser(), env.URL+"/callback?code=x&state=forged")
		}, http.StatusBadRequest, ""},
		{"replayed state", nil, func(t *testing.T) *oauthtest.Page {
			b := env.NewBrowser()
			cb := loginRedirect(t, b)
			if p := follow(t, b, cb); p.Status != http.StatusOK {
				t.Fatalf("first callback = %d, want the consent page", p.Status)
			}
			return follow(t, b, cb)
		}, http.StatusBadRequest, ""},
		{"callback in another browser", nil, func(t *testing.T) *oauthtest.Page {
			cb := loginRedirect(t, env.NewBrowser())
			return follow(t, env.NewBrowser(), cb)
		}, http.StatusBadRequest, ""},
		{"GitHub answers 200 with error", func() { env.Stub.SetTokenError("bad_verification_code") }, func(t *testing.T) *oauthtest.Page {
			b := env.NewBrowser()
			return follow(t, b, loginRedirect(t, b))
		}, http.StatusBadGateway, ""},
		{"user not on the allow-list", func() { env.Stub.LoginAs(githubstub.User{ID: 66, Login: "mallory"}) }, func(t *testing.T) *oauthtest.Page {
			b := env.NewBrowser()
			return follow(t, b, loginRedirect(t, b))
		}, http.StatusForbidden, ""},
		{"renamed off the allow-list", func() {
			env.Stub.LoginAs(githubstub.User{ID: 12, Login: "bob"})
			env.Stub.Rename(12, "not-bob", "")
		}, func(t *testing.T) *oauthtest.Page {
			b := env.NewBrowser()
			return follow(t, b, loginRedirect(t, b))
		}, http.StatusForbidden, ""},
		{"user denies at GitHub", func() { env.Stub.SetDeny(true) }, func(t *testing.T) *oauthtest.Page {
			b := env.NewBrowser()
			return follow(t, b, loginRedirect(t, b))
		}, http.StatusFound, "access_denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env.Stub.LoginAs(alice)
			env.Stub.SetTokenError("")
			env.Stub.SetDeny(false)
			if tc.setup != nil {
				tc.setup()
			}
			p := tc.run(t)
			if p.Status != tc.wantStatus {
				t.Fatalf("status = %d, want %d: %.300s", p.Status, tc.wantStatus, p.Body)
			}
			if tc.wantError == "" {
				if p.Location != nil {
					t.Fatalf("Location = %s, want none", p.Location)
				}
				if strings.Contains(p.Body, `name="consent_id"`) {
					t.Fatal("a refused callback showed the consent page")
				}
				return
			}
			q := p.Location.Query()
			if q.Get("error") != tc.wantError || q.Get("code") != "" || q.Get("iss") != env.URL || q.Get("state") != "st&te=é 1" {
				t.Fatalf("redirect %v, want error %s with state and iss", q, tc.wantError)
			}
		})
	}
	// The allow-list is case-insensitive: "Alice" in the list admits "alice".
	env.Stub.SetDeny(false)
	env.Stub.LoginAs(alice)
	if p := env.NewBrowser().Authorize(t, authURL(env, c.ID, nil)); p.Location == nil || p.Location.Query().Get("code") == "" {
		t.Fatalf("allowed user got %d, want a code", p.Status)
	}
}

func TestConsentPage(t *testing.T) {
	env := oauthtest.New(t, nil)
	hostile := `<script>alert(1)</script><img src=x onerror=alert(2)> "quoted" שלום`
	c := env.Register(t, "client_secret_basic", authorizeRedirect, map[string]any{"client_name": hostile, "scope": "read write"})
	b := env.NewBrowser()
	p := b.Get(t, authURL(env, c.ID, func(q url.Values) {
		q.Set("resource", "https://files.example.com/mcp")
		q.Set("scope", "read")
	}))
	if p.Status != http.StatusOK {
		t.Fatalf("consent page status = %d: %.300s", p.Status, p.Body)
	}
	if strings.Contains(p.Body, `id="loopback-warning"`) {
		t.Error("the consent page warns of a loopback redirect for https://app.example.com")
	}
	for _, want := range []string{"frame-ancestors 'none'"} {
		if !strings.Contains(p.Header.Get("Content-Security-Policy"), want) {
			t.Errorf("CSP = %q, want %s", p.Header.Get("Content-Security-Policy"), want)
		}
	}
	if p.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("X-Frame-Options = %q, want DENY", p.Header.Get("X-Frame-Options"))
	}
	if strings.Contains(p.Body, "<script>alert") || strings.Contains(p.Body, "<img src=x") {
		t.Fatal("client_name was rendered as markup")
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&#34;quoted&#34; שלום", "https://app.example.com", "https://files.example.com/mcp", ">read<"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	id, csrf, ok := oauthtest.ConsentForm(p)
	if !ok {
		t.Fatal("no consent form")
	}

	tests := []struct {
		name    string
		browser *oauthtest.Browser
		id      string
		csrf    string
		origin  string
		want    int
	}{
		{"wrong CSRF token", b, id, "forged", env.URL, http.StatusForbidden},
		{"no CSRF token", b, id, "", env.URL, http.StatusForbidden},
		{"another browser with the right token", env.NewBrowser(), id, csrf, env.URL, http.StatusForbidden},
		{"cross-site Origin", b, id, csrf, "https://evil.example", http.StatusForbidden},
		{"unknown consent id", b, "nope", csrf, env.URL, http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"consent_id": {tc.id}, "csrf_token": {tc.csrf}, "decision": {"approve"}}
			req, _ := http.NewRequest(http.MethodPost, env.URL+"/consent", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", tc.origin)
			resp, err := tc.browser.HTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want || resp.Header.Get("Location") != "" {
				t.Fatalf("status %d Location %q, want %d and no redirect", resp.StatusCode, resp.Header.Get("Location"), tc.want)
			}
		})
	}

	// The refusals above did not spend the form: the real decision still works, once.
	got := b.Decide(t, id, csrf, "approve")
	if got.Status != http.StatusSeeOther || got.Location.Query().Get("code") == "" || got.Location.Query().Get("state") != "st&te=é 1" {
		t.Fatalf("approve = %d %v, want 303 with code and state", got.Status, got.Location)
	}
	if again := b.Decide(t, id, csrf, "approve"); again.Status != http.StatusForbidden {
		t.Fatalf("second decision with the same form = %d, want 403", again.Status)
	}
	// Approval is remembered for this scope and this resource; a wider scope, another
	// resource (another MCP service), or the default audience asks again.
	files := "https://files.example.com/mcp"
	ask := func(scope string, resources ...string) *oauthtest.Page {
		return b.Get(t, authURL(env, c.ID, func(q url.Values) {
			q.Set("scope", scope)
			q["resource"] = resources
		}))
	}
	if p := ask("read", files); p.Location == nil || p.Location.Query().Get("code") == "" {
		t.Fatalf("remembered consent: got %d, want a redirect with a code", p.Status)
	}
	for name, p := range map[string]*oauthtest.Page{
		"a wider scope":                  ask("read write", files),
		"another resource":               ask("read", "https://memory.example.com/mcp"),
		"the approved and another":       ask("read", files, "https://memory.example.com/mcp"),
		"no resource (default audience)": ask("read"),
	} {
		if p.Location != nil {
			t.Errorf("%s skipped the consent page", name)
		}
	}
	// Approving the other service adds to what is remembered; the first still holds.
	p2 := ask("read", "https://memory.example.com/mcp")
	id2, csrf2, ok := oauthtest.ConsentForm(p2)
	if !ok {
		t.Fatalf("no consent form for the second service: %d", p2.Status)
	}
	if got := b.Decide(t, id2, csrf2, "approve"); got.Location == nil || got.Location.Query().Get("code") == "" {
		t.Fatalf("approving the second service: %d", got.Status)
	}
	for _, res := range []string{files, "https://memory.example.com/mcp"} {
		if p := ask("read", res); p.Location == nil {
			t.Errorf("%s asks again after both approvals", res)
		}
	}
}

func TestConsentDeny(t *testing.T) {
	env := oauthtest.New(t, nil)
	c := env.Register(t, "none", authorizeRedirect, nil)
	b := env.NewBrowser()
	p := b.Get(t, authURL(env, c.ID, nil))
	id, csrf, ok := oauthtest.ConsentForm(p)
	if !ok {
		t.Fatalf("no consent page: %d", p.Status)
	}
	got := b.Decide(t, id, csrf, "deny")
	q := got.Location.Query()
	if q.Get("error") != "access_denied" || q.Get("code") != "" || q.Get("iss") != env.URL || q.Get("state") != "st&te=é 1" {
		t.Fatalf("deny redirect = %v, want access_denied with state and iss", q)
	}
	// Denial is not remembered as approval.
	if p := b.Get(t, authURL(env, c.ID, nil)); p.Location != nil {
		t.Fatal("after a denial the next request skipped consent")
	}
}

func TestClientDeleteForgetsConsent(t *testing.T) {
	env := oauthtest.New(t, nil)
	c := env.Register(t, "client_secret_post", authorizeRedirect, nil)
	b := env.NewBrowser()
	b.Code(t, authURL(env, c.ID, nil), "st&te=é 1")
	env.DeleteClient(t, c)
	if n, _ := env.Redis.Exists(t.Context(), "oauth:consents:"+c.ID).Result(); n != 0 {
		t.Fatal("consents of a deleted client are still stored")
	}
	resp := first(t, authURL(env, c.ID, nil), nil)
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Fatalf("deleted client: %d, want the 400 page", resp.StatusCode)
	}
}

// TestConsentStorageFailure: when the storage fails for one step of a consent decision
// (faults made with Redis ACLs on the running server: the session key, the client key, or
// the command that spends the form), the user gets a 503 page that says to try again,
// never "Consent expired" or "Unknown application"; and once the storage works, the
// same form still goes through. Then a whole stall of Redis (longer than authsvc's 2 s
// read timeout and its one retry) gets the same page.
func TestConsentStorageFailure(t *testing.T) {
	env := oauthtest.New(t, nil)
	ctx := context.Background()
	acl := func(args ...any) {
		t.Helper()
		if err := env.Redis.Do(ctx, append([]any{"ACL", "SETUSER", "default"}, args...)...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { acl("allkeys", "+@all") })
	// The keys a consent decision touches, but for the one that fails.
	keysBut := func(skip string) []any {
		out := []any{"resetkeys"}
		for _, k := range []string{"session", "consent_req", "consents", "client", "code"} {
			if k != skip {
				out = append(out, "~oauth:"+k+":*")
			}
		}
		return out
	}
	c := env.Register(t, "none", authorizeRedirect, nil)
	b := env.NewBrowser()
	faults := []struct {
		name  string
		set   []any
		clear []any
	}{
		{"session lookup", keysBut("session"), []any{"allkeys"}},
		{"client lookup", keysBut("client"), []any{"allkeys"}},
		{"spending the form", []any{"-getdel"}, []any{"+getdel"}},
	}
	for _, f := range faults {
		p := b.Get(t, authURL(env, c.ID, nil))
		id, csrf, ok := oauthtest.ConsentForm(p)
		if !ok {
			t.Fatalf("%s: no consent form: %d", f.name, p.Status)
		}
		acl(f.set...)
		got := b.Decide(t, id, csrf, "approve")
		acl(f.clear...)
		if got.Status != http.StatusServiceUnavailable || !strings.Contains(got.Body, "Temporarily unavailable") ||
			!strings.Contains(got.Body, "Try again") {
			t.Errorf("%s fails: %d %.300s, want the 503 try-again page", f.name, got.Status, got.Body)
		}
		if got := b.Decide(t, id, csrf, "approve"); got.Status != http.StatusSeeOther || got.Location.Query().Get("code") == "" {
			t.Errorf("%s: the same form once storage works: %d, want 303 with a code", f.name, got.Status)
		}
		// Forget the approval, so that the next round shows the consent page again.
		if err := env.Redis.Del(ctx, "oauth:consents:"+c.ID).Err(); err != nil {
			t.Fatal(err)
		}
	}

	p := b.Get(t, authURL(env, c.ID, nil))
	id, csrf, ok := oauthtest.ConsentForm(p)
	if !ok {
		t.Fatalf("no consent form: %d", p.Status)
	}
	if err := env.Redis.Do(ctx, "CLIENT", "PAUSE", "7000", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	if got := b.Decide(t, id, csrf, "approve"); got.Status != http.StatusServiceUnavailable || !strings.Contains(got.Body, "Try again") {
		t.Fatalf("decision while Redis stalls: %d %.300s, want the 503 try-again page", got.Status, got.Body)
	}
	deadline := time.Now().Add(20 * time.Second)
	for env.Redis.Ping(ctx).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("Redis did not come back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := b.Decide(t, id, csrf, "approve"); got.Status != http.StatusSeeOther || got.Location.Query().Get("code") == "" {
		t.Fatalf("the same form after the stall: %d %v, want 303 with a code", got.Status, got.Location)
	}
}
