package traefik

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/mcp-oauth-gateway/gateway/internal/githubstub"
	"github.com/mcp-oauth-gateway/gateway/internal/mcpclient"
	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/redistest"
	"github.com/mcp-oauth-gateway/gateway/tests/internal/traefiktest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

const feedToken = "plugin-test-feed-token-0123456789abcdef"

// startAuthsvc runs the real authsvc binary ($AUTHSVC_BIN) against Redis and the
// GitHub stand-in and returns its URL (also its issuer).
func startAuthsvc(t *testing.T, gh *githubstub.Server) string {
	t.Helper()
	bin := os.Getenv("AUTHSVC_BIN")
	if bin == "" {
		t.Fatal("AUTHSVC_BIN is not set: run through `just test-plugin`, which builds authsvc (go build -o <dir>/authsvc ./authsvc)")
	}
	port := traefiktest.FreePort(t)
	u := fmt.Sprintf("http://127.0.0.1:%d", port)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"LISTEN_ADDR=127.0.0.1:"+fmt.Sprint(port),
		"AUTH_ISSUER_URL="+u,
		"REDIS_URL="+redistest.URL(t),
		"GITHUB_URL="+gh.URL,
		"GITHUB_API_URL="+gh.URL,
		"GITHUB_CLIENT_ID="+gh.ClientID(),
		"GITHUB_CLIENT_SECRET="+gh.ClientSecret(),
		"ALLOWED_GITHUB_USERS=ada",
		"REVOCATION_FEED_TOKEN="+feedToken,
		"TRUSTED_PROXIES=127.0.0.0/8",
		"LOG_FORMAT=json",
	)
	logPath := filepath.Join(t.TempDir(), "authsvc.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("authsvc log:\n%s", out)
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(u + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return u
			}
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logPath)
			t.Fatalf("authsvc not healthy within 60s:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAuthsvcToken: a token minted by the real authsvc (registration, GitHub login at
// the stand-in, consent, code + PKCE exchange) passes the plugin in a real Traefik
// with authsvc's JWKS, and once revoked at authsvc's /revoke it is refused at the
// edge within seconds, through the real revocation feed.
func TestAuthsvcToken(t *testing.T) {
	gh := githubstub.New(&githubstub.Options{Users: []githubstub.User{{ID: 4242, Login: "ada", Name: "Ada Lovelace"}}})
	defer gh.Close()
	auth := startAuthsvc(t, gh)
	echo := traefiktest.EchoBackend(t)
	port := traefiktest.FreePort(t)
	resource := fmt.Sprintf("http://127.0.0.1:%d/mcp", port)
	dyn, _ := yaml.Marshal(map[string]any{"http": map[string]any{
		"routers": map[string]any{"mcp": map[string]any{
			"rule": "PathPrefix(`/`)", "service": "echo", "middlewares": []any{"auth"},
		}},
		"services": map[string]any{"echo": map[string]any{"loadBalancer": map[string]any{
			"servers": []any{map[string]any{"url": echo.URL}},
		}}},
		"middlewares": map[string]any{"auth": map[string]any{"plugin": map[string]any{"mcpauth": map[string]any{
			"issuer":             auth,
			"jwksURL":            auth + "/.well-known/jwks.json",
			"resource":           resource,
			"revocationURL":      auth + "/internal/revocations",
			"revocationToken":    feedToken,
			"revocationInterval": "1s",
		}}}},
	}})
	start := func(port int) *traefiktest.Traefik {
		return traefiktest.Start(t, traefiktest.Options{
			Port:        port,
			LocalPlugin: true,
			Dynamic:     string(dyn),
			ReadyPath:   "/.well-known/oauth-protected-resource/mcp",
			ReadyStatus: http.StatusOK,
		})
	}
	// Two Traefik replicas with the same configuration, as a deployment with several
	// runs them: each plugin instance keeps its own view of the revocation feed.
	replicas := []*traefiktest.Traefik{start(port), start(traefiktest.FreePort(t))}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	browserErr := make(chan error, 1)
	res, err := mcpclient.Authorize(ctx, mcpclient.Options{
		Issuer:     auth,
		Resources:  []string{resource},
		ClientName: "mcpauth plugin test",
		OpenBrowser: func(ctx context.Context, u string) error {
			go func() { browserErr <- browse(ctx, u) }()
			return nil
		},
		Timeout: time.Minute,
	})
	if err != nil {
		select {
		case berr := <-browserErr:
			t.Fatalf("token flow: %v (browser: %v)", err, berr)
		default:
			t.Fatalf("token flow: %v", err)
		}
	}
	token := res.Token.AccessToken

	call := func(tr *traefiktest.Traefik) (*http.Response, traefiktest.Echo) {
		resp, body, err := traefiktest.RawRequest(tr.Addr, "POST", "/mcp", fmt.Sprintf("127.0.0.1:%d", port),
			http.Header{"Authorization": {"Bearer " + token}, "X_User_Id": {"spoofed"}})
		if err != nil {
			t.Fatal(err)
		}
		var e traefiktest.Echo
		if resp.Header.Get(traefiktest.EchoHeader) == "reached" {
			_ = json.Unmarshal(body, &e)
		}
		return resp, e
	}
	for i, tr := range replicas[1:] {
		if resp, _ := call(tr); resp.StatusCode != http.StatusOK {
			t.Fatalf("authsvc's token through Traefik replica %d: %s", i+1, resp.Status)
		}
	}
	resp, e := call(replicas[0])
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("authsvc's token through the plugin: %s (WWW-Authenticate %q)", resp.Status, resp.Header.Get("WWW-Authenticate"))
	}
	for name, want := range map[string]string{"X-User-Id": "4242", "X-User-Login": "ada", "X-User-Name": "Ada Lovelace", "X-Auth-Client-Id": res.ClientID} {
		if got := e.Header[name]; len(got) != 1 || got[0] != want {
			t.Errorf("backend saw %s = %q, want %q", name, got, want)
		}
	}
	if _, ok := e.Header["X_user_id"]; ok {
		t.Errorf("spoofed X_User_Id reached the backend")
	}

	// Revoke it at authsvc (RFC 7009, public client) and watch the edge.
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}, "client_id": {res.ClientID}}
	rresp, err := http.PostForm(auth+"/revoke", form)
	if err != nil {
		t.Fatal(err)
	}
	rresp.Body.Close()
	if rresp.StatusCode != http.StatusOK {
		t.Fatalf("/revoke: %s", rresp.Status)
	}
	// Every replica's view converges within the interval, plus slack for a poll's round
	// trip on a loaded machine (2 s). A replica that ignored revocationInterval and
	// polled at the 5 s default would miss the bound in about two runs of five.
	const converged = time.Second + 2*time.Second
	revokedAt := time.Now()
	for i, tr := range replicas {
		for {
			resp, _ := call(tr)
			if resp.StatusCode == http.StatusUnauthorized {
				if wa := resp.Header.Get("WWW-Authenticate"); !strings.Contains(wa, `error="invalid_token"`) {
					t.Errorf("WWW-Authenticate = %q, want invalid_token", wa)
				}
				break
			}
			if time.Since(revokedAt) > converged {
				t.Fatalf("Traefik replica %d still accepts the revoked token after %s (revocationInterval 1s): %s", i, converged, resp.Status)
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("revocation at authsvc took effect at Traefik replica %d after %v", i, time.Since(revokedAt).Round(time.Millisecond))
	}
}

// browse is the human: it follows redirects, signs in at the stand-in (which
// redirects straight back) and submits authsvc's consent form with "approve", until
// the redirect to the client's loopback callback, which it delivers.
func browse(ctx context.Context, authURL string) error {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return err
	}
	for step := 0; step < 20; step++ {
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			loc, err := req.URL.Parse(resp.Header.Get("Location"))
			if err != nil {
				return err
			}
			if req, err = http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil); err != nil {
				return err
			}
		case resp.StatusCode == http.StatusOK && strings.Contains(string(body), "<form"):
			action, values, err := consentForm(string(body))
			if err != nil {
				return err
			}
			target, err := req.URL.Parse(action)
			if err != nil {
				return err
			}
			next, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), strings.NewReader(values.Encode()))
			if err != nil {
				return err
			}
			next.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			next.Header.Set("Origin", req.URL.Scheme+"://"+req.URL.Host)
			next.Header.Set("Referer", req.URL.String())
			req = next
		case resp.StatusCode == http.StatusOK && req.URL.Path == "/callback":
			return nil // the client's redirect listener answered
		default:
			return fmt.Errorf("%s %s: %d %.300s", req.Method, req.URL, resp.StatusCode, body)
		}
	}
	return errors.New("no redirect back after 20 steps")
}

var (
	formRE  = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	inputRE = regexp.MustCompile(`(?is)<(?:input|button)\b([^>]*)>`)
	attrRE  = regexp.MustCompile(`(?s)([a-zA-Z_:-]+)\s*=\s*"([^"]*)"`)
)

// consentForm returns the action and values of the form whose submit button has the
// value "approve" (hidden inputs, CSRF token included, plus that button).
func consentForm(page string) (string, url.Values, error) {
	for _, fm := range formRE.FindAllStringSubmatch(page, -1) {
		attrs := func(s string) map[string]string {
			m := map[string]string{}
			for _, a := range attrRE.FindAllStringSubmatch(s, -1) {
				m[strings.ToLower(a[1])] = html.UnescapeString(a[2])
			}
			return m
		}
		values := url.Values{}
		approve := false
		for _, im := range inputRE.FindAllStringSubmatch(fm[2], -1) {
			a := attrs(im[1])
			switch {
			case strings.HasPrefix(strings.ToLower(im[0]), "<button") || a["type"] == "submit":
				if a["value"] == "approve" {
					approve = true
					if a["name"] != "" {
						values.Set(a["name"], a["value"])
					}
				}
			case a["name"] != "" && a["type"] != "checkbox":
				values.Add(a["name"], a["value"])
			}
		}
		if approve {
			return attrs(fm[1])["action"], values, nil
		}
	}
	return "", nil, fmt.Errorf("no consent form with an approve button: %.500s", page)
}
