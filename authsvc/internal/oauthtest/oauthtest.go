// Package oauthtest runs the real authsvc OAuth handlers (registration and the whole
// flow) on an httptest server against a real Redis (internal/testsupport/redistest) and the
// GitHub stand-in (internal/githubstub), with an injectable clock, and drives them
// as a browser and as a golang.org/x/oauth2 client would. Only tests import it.
package oauthtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/config"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/httpapi"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/keys"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/store"
	"github.com/mcp-oauth-gateway/gateway/internal/githubstub"
	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/redistest"
)

// Clock is a settable clock; the zero value reads the real time.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now returns the real time plus the offset.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// Options tune [New].
type Options struct {
	Algorithm       string // default RS256
	Allowed         []string
	AccessLifetime  time.Duration
	RefreshLifetime time.Duration
	ClientLifetime  time.Duration
	FeedToken       string
	LoginPage       bool
	// RetryWindow is TOKEN_RETRY_WINDOW (0: none, the default here).
	RetryWindow time.Duration
	// CIMDTransport trusts a test document server; with it, documents may be fetched
	// from loopback (CIMD_ALLOW_PRIVATE_ADDRESSES) unless CIMDPublicOnly.
	CIMDTransport  *http.Transport
	CIMDPublicOnly bool
	// Redis, when set, is the client to use instead of the package's redis-server
	// (a Sentinel failover client, say); WaitReplicas is the store's.
	Redis        *redis.Client
	WaitReplicas int
	// Replicas, above 1, runs that many authsvc handlers on the one Redis behind a
	// round-robin front (Env.URL): each request goes to the next replica, as a load
	// balancer sends them. Each replica has its own store client and key manager,
	// which finds (or, first, creates) the signing key in Redis as the real program
	// does with no JWT_PRIVATE_KEY.
	Replicas int
	// RegistrationRateLimit is REGISTRATION_RATE_LIMIT (0: off, the default here).
	RegistrationRateLimit int
}

// Env is a running authsvc flow.
type Env struct {
	URL    string
	Stub   *githubstub.Server
	Store  *store.Store
	Redis  *redis.Client
	Clock  *Clock
	Config *config.Config
	Keys   *keys.Manager
	// ReplicaURLs and ReplicaKeys are each replica's own address and key manager
	// (one entry without Options.Replicas).
	ReplicaURLs []string
	ReplicaKeys []*keys.Manager
	srv         *httptest.Server
}

var (
	pemOnce sync.Once
	pemKey  = map[string]string{}
)

func signingPEM(tb testing.TB, alg string) string {
	pemOnce.Do(func() {
		for _, a := range []string{keys.RS256, keys.ES256} {
			k, err := keys.GeneratePEM(a)
			if err != nil {
				panic(err)
			}
			pemKey[a] = k
		}
	})
	return pemKey[alg]
}

// New starts an environment; it is closed when the test ends. The package's tests
// must call redistest.Main from TestMain.
func New(tb testing.TB, o *Options) *Env {
	tb.Helper()
	if o == nil {
		o = &Options{}
	}
	if o.Algorithm == "" {
		o.Algorithm = keys.RS256
	}
	if o.Allowed == nil {
		o.Allowed = []string{"*"}
	}
	if o.AccessLifetime == 0 {
		o.AccessLifetime = time.Hour
	}
	if o.RefreshLifetime == 0 {
		o.RefreshLifetime = 30 * 24 * time.Hour
	}
	rdb := o.Redis
	if rdb == nil {
		ro := &redis.Options{Addr: redistest.Addr(tb), PoolSize: 64}
		store.Tune(ro) // the timeouts authsvc runs with
		rdb = redis.NewClient(ro)
	}
	tb.Cleanup(func() { rdb.Close() })
	clock := &Clock{}
	st := store.New(rdb, &store.Options{Now: clock.Now, WaitReplicas: o.WaitReplicas, WaitTimeout: 250 * time.Millisecond})
	stub := githubstub.New(&githubstub.Options{LoginPage: o.LoginPage})
	tb.Cleanup(stub.Close)

	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	tb.Cleanup(srv.Close)
	stub.SetRedirectURL(srv.URL + "/callback")

	cfg := &config.Config{
		IssuerURL:      srv.URL,
		GitHubClientID: stub.ClientID(), GitHubClientSecret: stub.ClientSecret(),
		GitHubURL: stub.URL, GitHubAPIURL: stub.URL,
		AllowedGitHubUsers: o.Allowed, ClientLifetime: o.ClientLifetime,
		AccessTokenLifetime: o.AccessLifetime, RefreshTokenLifetime: o.RefreshLifetime,
		AuthCodeLifetime: 10 * time.Minute, SessionLifetime: time.Hour,
		JWTAlgorithm: o.Algorithm, DefaultAudience: "urn:mcp-oauth-gateway:default",
		RevocationFeedToken: o.FeedToken, MaxBodyBytes: 64 << 10, TokenRetryWindow: o.RetryWindow,
		CIMDAllowPrivate: o.CIMDTransport != nil && !o.CIMDPublicOnly,
	}
	cfg.RegistrationRateLimit = o.RegistrationRateLimit
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	env := &Env{URL: srv.URL, Stub: stub, Store: st, Redis: rdb, Clock: clock, Config: cfg, srv: srv}
	// replica builds one authsvc handler on st with its own key manager; pem "" lets
	// the manager find (or first create) the key in Redis.
	replica := func(st *store.Store, rdb *redis.Client, pem string) (http.Handler, *keys.Manager) {
		km, err := keys.New(keys.NewRedisBackend(rdb), keys.Options{Algorithm: o.Algorithm, PrivateKeyPEM: pem,
			AccessTokenLifetime: o.AccessLifetime, Now: clock.Now, Logger: log})
		if err != nil {
			tb.Fatal(err)
		}
		h, err := httpapi.New(httpapi.Deps{Config: cfg, Store: st, Keys: km, Logger: log, Now: clock.Now, CIMDTransport: o.CIMDTransport})
		if err != nil {
			tb.Fatal(err)
		}
		return h, km
	}
	if o.Replicas <= 1 {
		h, km := replica(st, rdb, signingPEM(tb, o.Algorithm))
		srv.Config.Handler = h
		env.Keys, env.ReplicaURLs, env.ReplicaKeys = km, []string{srv.URL}, []*keys.Manager{km}
		return env
	}
	var handlers []http.Handler
	for range o.Replicas {
		rrdb := redis.NewClient(rdb.Options())
		tb.Cleanup(func() { rrdb.Close() })
		rst := store.New(rrdb, &store.Options{Now: clock.Now, WaitReplicas: o.WaitReplicas, WaitTimeout: 250 * time.Millisecond})
		h, km := replica(rst, rrdb, "")
		own := httptest.NewServer(h)
		tb.Cleanup(own.Close)
		handlers = append(handlers, h)
		env.ReplicaURLs = append(env.ReplicaURLs, own.URL)
		env.ReplicaKeys = append(env.ReplicaKeys, km)
	}
	env.Keys = env.ReplicaKeys[0]
	var next atomic.Int64
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers[(next.Add(1)-1)%int64(len(handlers))].ServeHTTP(w, r)
	})
	return env
}

// Client is a registered client as the registration response described it.
type Client struct {
	ID, Secret, AuthMethod, RedirectURI, RegistrationToken string
}

// Register registers a client via POST /register. authMethod is
// client_secret_basic, client_secret_post or none.
func (e *Env) Register(tb testing.TB, authMethod, redirectURI string, extra map[string]any) *Client {
	tb.Helper()
	body := map[string]any{"redirect_uris": []string{redirectURI}, "token_endpoint_auth_method": authMethod,
		"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"}, "client_name": "Test client"}
	for k, v := range extra {
		body[k] = v
	}
	b, _ := json.Marshal(body)
	resp, err := http.Post(e.URL+"/register", "application/json", bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		RegToken     string `json:"registration_access_token"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		tb.Fatalf("register: status %d: %s", resp.StatusCode, raw)
	}
	_ = json.Unmarshal(raw, &out)
	return &Client{ID: out.ClientID, Secret: out.ClientSecret, AuthMethod: authMethod, RedirectURI: redirectURI, RegistrationToken: out.RegToken}
}

// DeleteClient deletes a client through RFC 7592.
func (e *Env) DeleteClient(tb testing.TB, c *Client) {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodDelete, e.URL+"/register/"+c.ID, nil)
	req.Header.Set("Authorization", "Bearer "+c.RegistrationToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		tb.Fatalf("DELETE client: status %d, want 204", resp.StatusCode)
	}
}

// OAuth2 returns an x/oauth2 config for c.
func (e *Env) OAuth2(c *Client, scopes ...string) *oauth2.Config {
	style := oauth2.AuthStyleInHeader
	if c.AuthMethod != "client_secret_basic" {
		style = oauth2.AuthStyleInParams
	}
	return &oauth2.Config{ClientID: c.ID, ClientSecret: c.Secret, RedirectURL: c.RedirectURI, Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: e.URL + "/authorize", TokenURL: e.URL + "/token", AuthStyle: style}}
}

// Browser is a user agent with its own cookie jar that follows redirects until the
// client's redirect URI.
type Browser struct {
	HTTP *http.Client
	env  *Env
}

// NewBrowser returns a fresh browser (no cookies).
func (e *Env) NewBrowser() *Browser {
	jar, _ := cookiejar.New(nil)
	b := &Browser{env: e}
	b.HTTP = &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if !strings.HasPrefix(req.URL.String(), e.URL) && !strings.HasPrefix(req.URL.String(), e.Stub.URL) {
			return http.ErrUseLastResponse
		}
		if len(via) > 10 {
			return fmt.Errorf("too many redirects")
		}
		return nil
	}}
	return b
}

// Page is what the browser ended on.
type Page struct {
	Status   int
	Location *url.URL // set when the last answer redirected out of authsvc
	Body     string
	Header   http.Header
}

// Get follows u.
func (b *Browser) Get(tb testing.TB, u string) *Page {
	tb.Helper()
	resp, err := b.HTTP.Get(u)
	if err != nil {
		tb.Fatal(err)
	}
	return page(tb, resp)
}

func page(tb testing.TB, resp *http.Response) *Page {
	tb.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := &Page{Status: resp.StatusCode, Body: string(body), Header: resp.Header}
	if loc := resp.Header.Get("Location"); loc != "" {
		p.Location, _ = url.Parse(loc)
	}
	return p
}

var (
	consentIDRe = regexp.MustCompile(`name="consent_id" value="([^"]+)"`)
	csrfRe      = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
)

// ConsentForm extracts the consent form's hidden fields from a consent page.
func ConsentForm(p *Page) (id, csrf string, ok bool) {
	a, b := consentIDRe.FindStringSubmatch(p.Body), csrfRe.FindStringSubmatch(p.Body)
	if a == nil || b == nil {
		return "", "", false
	}
	return a[1], b[1], true
}

// Decide posts the consent form.
func (b *Browser) Decide(tb testing.TB, id, csrf, decision string) *Page {
	tb.Helper()
	form := url.Values{"consent_id": {id}, "csrf_token": {csrf}, "decision": {decision}}
	req, _ := http.NewRequest(http.MethodPost, b.env.URL+"/consent", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.env.URL)
	resp, err := b.HTTP.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	return page(tb, resp)
}

// Authorize runs the browser through /authorize, the GitHub login and (approving)
// the consent page, and returns the final redirect to the client. When the consent
// page does not appear (already approved) the redirect comes straight back.
func (b *Browser) Authorize(tb testing.TB, authURL string) *Page {
	tb.Helper()
	p := b.Get(tb, authURL)
	if p.Location != nil {
		return p
	}
	id, csrf, ok := ConsentForm(p)
	if !ok {
		tb.Fatalf("expected a consent page, got %d: %.400s", p.Status, p.Body)
	}
	return b.Decide(tb, id, csrf, "approve")
}

// Code runs a full authorization and returns the code; it fails the test unless the
// redirect carries a code, the state and the issuer.
func (b *Browser) Code(tb testing.TB, authURL, state string) string {
	tb.Helper()
	p := b.Authorize(tb, authURL)
	if p.Location == nil {
		tb.Fatalf("no redirect to the client: %d %.300s", p.Status, p.Body)
	}
	q := p.Location.Query()
	if q.Get("code") == "" || q.Get("state") != state || q.Get("iss") != b.env.URL {
		tb.Fatalf("redirect %s: want code, state %q and iss %q", p.Location, state, b.env.URL)
	}
	return q.Get("code")
}

// PostForm posts a form to authsvc with optional Basic credentials.
func (e *Env) PostForm(tb testing.TB, path string, form url.Values, basicID, basicSecret string) (int, map[string]any, http.Header) {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, resp.Header
}

// ClientAuth adds c's credentials the way its registered method says: it returns
// the form with client_id/secret added and the Basic credentials to use.
func ClientAuth(c *Client, form url.Values) (url.Values, string, string) {
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	switch c.AuthMethod {
	case "client_secret_basic":
		return f, c.ID, c.Secret
	case "client_secret_post":
		f.Set("client_id", c.ID)
		f.Set("client_secret", c.Secret)
	default:
		f.Set("client_id", c.ID)
	}
	return f, "", ""
}
