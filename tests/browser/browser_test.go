// Package browser drives authsvc's HTML pages — the GitHub stand-in's login page,
// the consent page and the error pages — in a real headless Chromium (chromedp),
// against the real authsvc binary, a real redis-server and internal/githubstub.
package browser

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mcp-oauth-gateway/gateway/tests/internal/browsertest"

	"github.com/mcp-oauth-gateway/gateway/internal/githubstub"
	"github.com/mcp-oauth-gateway/gateway/internal/localstack"
	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/redistest"
)

// The authsvc under test, started once by TestMain.
var (
	issuer string
	stub   *githubstub.Server
)

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "browser tests:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	redisAddr, stopRedis, err := redistest.Start()
	if err != nil {
		return 0, fmt.Errorf("%w (run `just deps-redis`)", err)
	}
	defer stopRedis()

	dir, err := os.MkdirTemp("", "browser-authsvc-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "authsvc")
	build := exec.Command("go", "build", "-o", bin, "./authsvc")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("go build ./authsvc: %v\n%s", err, out)
	}

	stub = githubstub.New(&githubstub.Options{LoginPage: true, Users: []githubstub.User{{ID: 9001, Login: "alice", Name: "Alice"}}})
	defer stub.Close()

	port, err := localstack.FreePort()
	if err != nil {
		return 0, err
	}
	issuer = "http://127.0.0.1:" + strconv.Itoa(port)
	stub.SetRedirectURL(issuer + "/callback")
	logFile, err := os.Create(filepath.Join(dir, "authsvc.log"))
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"LISTEN_ADDR=127.0.0.1:"+strconv.Itoa(port), "AUTH_ISSUER_URL="+issuer,
		"REDIS_URL=redis://"+redisAddr+"/0", "REDIS_PASSWORD=",
		"GITHUB_CLIENT_ID="+stub.ClientID(), "GITHUB_CLIENT_SECRET="+stub.ClientSecret(),
		"GITHUB_URL="+stub.URL, "GITHUB_API_URL="+stub.URL, "ALLOWED_GITHUB_USERS=alice",
		"JWT_ALGORITHM=ES256", "JWT_PRIVATE_KEY=", "JWT_KEY_DIR=", "SESSION_SECRET=", "LOG_FORMAT=text",
		"REGISTRATION_RATE_LIMIT=0",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	if err := waitHealthy(issuer+"/health", 60*time.Second); err != nil {
		log, _ := os.ReadFile(logFile.Name())
		return 0, fmt.Errorf("authsvc did not become healthy: %v\n%s", err, log)
	}
	code := m.Run()
	if code != 0 {
		log, _ := os.ReadFile(logFile.Name())
		fmt.Fprintf(os.Stderr, "--- authsvc log ---\n%s\n", tail(log, 4000))
	}
	return code, nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func waitHealthy(u string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return last
}

// newBrowser starts a fresh headless Chromium (its own profile, so no cookies).
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return browsertest.New(t, ctx)
}

// clientApp is the OAuth client's redirect listener: it records where the browser
// lands and shows a small page.
type clientApp struct {
	redirectURI string
	got         chan url.Values
}

func newClientApp(t *testing.T) *clientApp {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := &clientApp{redirectURI: "http://" + ln.Addr().String() + "/callback", got: make(chan url.Values, 4)}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/callback" {
			select {
			case app.got <- r.URL.Query():
			default:
			}
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<!DOCTYPE html><title>client</title><p id=done>done</p>")
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return app
}

type registered struct {
	ID, Secret string
}

func register(t *testing.T, name, redirectURI string) registered {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"redirect_uris": []string{redirectURI}, "client_name": name,
		"token_endpoint_auth_method": "client_secret_post", "grant_types": []string{"authorization_code", "refresh_token"}})
	resp, err := http.Post(issuer+"/register", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d %s", resp.StatusCode, raw)
	}
	var out struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	_ = json.Unmarshal(raw, &out)
	return registered{out.ClientID, out.ClientSecret}
}

const (
	verifier = "browser-test-verifier-0123456789-abcdefghijklmnopqrstuvwxyz"
	state    = "state with spaces & symbols=é"
)

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func authorizeURL(c registered, redirectURI string) string {
	q := url.Values{"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {redirectURI}, "state": {state},
		"code_challenge": {s256(verifier)}, "code_challenge_method": {"S256"},
		"resource": {"https://files.example.com/mcp"}, "scope": {"read"}}
	return issuer + "/authorize?" + q.Encode()
}

// loginToConsent loads the authorize URL, clicks through the stand-in's login page
// and waits for the consent page.
func loginToConsent(ctx context.Context, authURL string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return chromedp.Do(ctx,
		chromedp.Navigate(authURL),
		chromedp.WaitVisible(chromedp.ID("authorize")),
		chromedp.Click(chromedp.ID("authorize")),
		chromedp.WaitVisible(chromedp.ID("approve")),
	)
}

// text reads the visible text of the element with id.
func text(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		t.Fatalf("text of #%s: %v", id, err)
	}
	return v
}

func TestBrowserFullFlow(t *testing.T) {
	ctx := newBrowser(t)
	app := newClientApp(t)
	c := register(t, "Browser Test App", app.redirectURI)

	if err := loginToConsent(ctx, authorizeURL(c, app.redirectURI)); err != nil {
		t.Fatalf("login to consent: %v", err)
	}
	name, redirectHost, login := text(t, ctx, "client-name"), text(t, ctx, "redirect-host"), text(t, ctx, "login")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("approve"))); err != nil {
		t.Fatalf("click approve: %v", err)
	}
	if name != "Browser Test App" || login != "alice" || !strings.HasPrefix(app.redirectURI, redirectHost) {
		t.Fatalf("consent page shows name %q login %q redirect host %q", name, login, redirectHost)
	}
	var q url.Values
	select {
	case q = <-app.got:
	case <-time.After(60 * time.Second):
		t.Fatal("the browser never reached the client's redirect URI")
	}
	if q.Get("code") == "" || q.Get("state") != state || q.Get("iss") != issuer {
		t.Fatalf("redirect query %v: want code, the exact state and iss", q)
	}
	// The code works at the token endpoint.
	form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "code_verifier": {verifier},
		"redirect_uri": {app.redirectURI}, "client_id": {c.ID}, "client_secret": {c.Secret}}
	resp, err := http.PostForm(issuer+"/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	if resp.StatusCode != 200 || tok["access_token"] == nil || tok["refresh_token"] == nil {
		t.Fatalf("token exchange: %d %v", resp.StatusCode, tok)
	}
}

func TestBrowserHostileClientName(t *testing.T) {
	ctx := newBrowser(t)
	app := newClientApp(t)
	hostile := `<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"><b>bold</b> "q" 'a' שלום עליכם`
	c := register(t, hostile, app.redirectURI)
	if err := loginToConsent(ctx, authorizeURL(c, app.redirectURI)); err != nil {
		t.Fatalf("login to consent: %v", err)
	}
	// Let a broken image's onerror fire, if there were one.
	if err := chromedp.Do(ctx, chromedp.Sleep(500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	shown := text(t, ctx, "client-name")
	pwned, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.__pwned !== "undefined"`))
	if err != nil {
		t.Fatal(err)
	}
	markup, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#client-name *, #client-name-detail *, img, script").length`))
	if err != nil {
		t.Fatal(err)
	}
	if pwned {
		t.Fatal("a script from client_name ran")
	}
	if markup != 0 {
		t.Fatalf("client_name produced %d elements, want plain text", markup)
	}
	if shown != hostile {
		t.Fatalf("client name shown as %q, want the literal %q", shown, hostile)
	}
}

func TestBrowserConsentRefusesFraming(t *testing.T) {
	ctx := newBrowser(t)
	app := newClientApp(t)
	c := register(t, "Framed App", app.redirectURI)
	authURL := authorizeURL(c, app.redirectURI)
	// Log in first, so that the framed URL renders the consent page itself.
	if err := loginToConsent(ctx, authURL); err != nil {
		t.Fatalf("login to consent: %v", err)
	}
	// Loaded top-level again, the same URL is the consent page (a control).
	if err := chromedp.Do(ctx, chromedp.Navigate(authURL), chromedp.WaitVisible(chromedp.ID("approve"))); err != nil {
		t.Fatalf("consent page top-level: %v", err)
	}

	// The attacker's page (another origin) frames the consent page and, as a second
	// control, the stand-in's login page, which allows framing.
	stub.SetRedirectURL("")
	control := stub.URL + "/login/oauth/authorize?" + url.Values{"client_id": {stub.ClientID()}, "redirect_uri": {"http://127.0.0.1:9/cb"},
		"state": {"x"}, "code_challenge": {s256(verifier)}, "code_challenge_method": {"S256"}}.Encode()
	defer stub.SetRedirectURL(issuer + "/callback")
	attacker := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!DOCTYPE html><title>attacker</title>
<iframe id="victim" src="%s" width="800" height="600"></iframe>
<iframe id="control" src="%s" width="800" height="600"></iframe>`, htmlAttr(authURL), htmlAttr(control))
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = attacker.Serve(ln) }()
	defer attacker.Close()

	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+ln.Addr().String()+"/")); err != nil {
		t.Fatal(err)
	}
	iframes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll("iframe"), chromedp.NodeVisible))
	if err != nil {
		t.Fatal(err)
	}
	if len(iframes) != 2 {
		t.Fatalf("found %d iframes, want 2", len(iframes))
	}
	// The control frame renders: the technique sees content in a framed page.
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(cctx, chromedp.WaitVisible(chromedp.ID("authorize"), chromedp.FromNode(iframes[1]))); err != nil {
		t.Fatalf("control frame did not render: %v", err)
	}
	// The consent page must not render in the victim frame. A rendered page would
	// live in the same renderer as the control (same site), so a bounded search that
	// finds nothing means it was refused.
	vctx, cancelV := context.WithTimeout(ctx, 5*time.Second)
	defer cancelV()
	found, err := chromedp.Run(vctx, chromedp.Nodes(chromedp.CSSAll("#approve, #client-name, form"), chromedp.AtLeast(0), chromedp.FromNode(iframes[0])))
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("query victim frame: %v", err)
	}
	if len(found) != 0 {
		t.Fatal("the consent page rendered inside a cross-origin frame")
	}
}

func htmlAttr(s string) string {
	return strings.NewReplacer("&", "&amp;", `"`, "&quot;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func TestBrowserErrorPages(t *testing.T) {
	ctx := newBrowser(t)
	app := newClientApp(t)
	c := register(t, "Error Page App", app.redirectURI)
	tests := []struct {
		name      string
		url       string
		user      *githubstub.User
		login     bool // the stand-in's login page comes first
		wantTitle string
		wantText  string
	}{
		{"unknown client", issuer + "/authorize?response_type=code&client_id=nope&redirect_uri=" + url.QueryEscape(app.redirectURI), nil, false,
			"Unknown application", "Reconnect the application"},
		{"redirect URI mismatch", strings.Replace(authorizeURL(c, app.redirectURI), url.QueryEscape("/callback"), url.QueryEscape("/elsewhere"), 1), nil, false,
			"Redirect URI mismatch", "not one the application registered"},
		{"user not on the allow-list", authorizeURL(c, app.redirectURI), &githubstub.User{ID: 666, Login: "mallory"}, true,
			"Access denied", "mallory is not allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.user != nil {
				stub.LoginAs(*tc.user)
				defer stub.LoginAs(githubstub.User{ID: 9001, Login: "alice", Name: "Alice"})
			}
			tctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			steps := []chromedp.Action[chromedp.Void]{chromedp.Navigate(tc.url)}
			if tc.login {
				steps = append(steps, chromedp.WaitVisible(chromedp.ID("authorize")), chromedp.Click(chromedp.ID("authorize")))
			}
			steps = append(steps, chromedp.WaitVisible(chromedp.ID("message")))
			if err := chromedp.Do(tctx, steps...); err != nil {
				t.Fatalf("error page: %v", err)
			}
			title, err := chromedp.Run(tctx, chromedp.Title())
			if err != nil {
				t.Fatal(err)
			}
			body := text(t, tctx, "message") + " " + text(t, tctx, "hint")
			loc, err := chromedp.Run(tctx, chromedp.Location())
			if err != nil {
				t.Fatal(err)
			}
			if title != tc.wantTitle || !strings.Contains(body, tc.wantText) || !strings.HasPrefix(loc, issuer) {
				t.Fatalf("title %q text %q at %s; want %q with %q on authsvc", title, body, loc, tc.wantTitle, tc.wantText)
			}
			select {
			case q := <-app.got:
				t.Fatalf("the client was called back with %v", q)
			default:
			}
		})
	}
}
