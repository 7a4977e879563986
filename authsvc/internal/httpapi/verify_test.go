package httpapi_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/oauthtest"
	"github.com/mcp-oauth-gateway/gateway/internal/githubstub"
)

const (
	verifyRedirect = "https://app.example.com/cb"
	verifyResource = "https://files.example.com/mcp"
	verifyVerifier = "verify-test-verifier-0123456789-abcdefghijklmnopqrstuvwxyz"
)

type issued struct {
	access, refresh string
}

func obtainIssued(t *testing.T, env *oauthtest.Env, c *oauthtest.Client) issued {
	t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {c.RedirectURI}, "state": {"s"},
		"code_challenge": {auth.PKCEChallenge(verifyVerifier)}, "code_challenge_method": {"S256"}, "resource": {verifyResource}, "scope": {"read"}}
	code := env.NewBrowser().Code(t, env.URL+"/authorize?"+q.Encode(), "s")
	form, id, sec := oauthtest.ClientAuth(c, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifyVerifier}, "redirect_uri": {c.RedirectURI}})
	status, body, _ := env.PostForm(t, "/token", form, id, sec)
	if status != 200 {
		t.Fatalf("token: %d %v", status, body)
	}
	return issued{body["access_token"].(string), body["refresh_token"].(string)}
}

func verifyReq(t *testing.T, env *oauthtest.Env, auth []string, host, uri string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, env.URL+"/verify", nil)
	for _, a := range auth {
		req.Header.Add("Authorization", a)
	}
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-Host", host)
	req.Header.Set("X-Forwarded-Uri", uri)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// forge signs claims with the real signing key (or the given method/key), with
// header overrides.
func forge(t *testing.T, env *oauthtest.Env, mod func(jwt.MapClaims, map[string]any)) string {
	t.Helper()
	k, err := env.Keys.Signing(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	now := env.Clock.Now().Unix()
	claims := jwt.MapClaims{"iss": env.URL, "sub": "77", "aud": []string{verifyResource}, "client_id": "c", "scope": "read",
		"jti": "forged-jti", "iat": now, "nbf": now, "exp": now + 600, "login": "eve", "name": "Eve"}
	header := map[string]any{"typ": "at+jwt", "kid": k.ID}
	if mod != nil {
		mod(claims, header)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	for h, v := range header {
		tok.Header[h] = v
	}
	s, err := tok.SignedString(k.SigningKey())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerify(t *testing.T) {
	env := oauthtest.New(t, nil)
	env.Stub.LoginAs(githubstub.User{ID: 4242, Login: "carol", Name: "Carol\r\nX-Evil: 1"})
	c := env.Register(t, "client_secret_basic", verifyRedirect, map[string]any{"scope": "read"})
	tok := obtainIssued(t, env, c)

	resp := verifyReq(t, env, []string{"Bearer " + tok.access}, "files.example.com", "/mcp")
	if resp.StatusCode != 200 {
		t.Fatalf("valid token: %d %v", resp.StatusCode, resp.Header)
	}
	want := map[string]string{"X-User-Id": "4242", "X-User-Login": "carol", "X-User-Name": "CarolX-Evil: 1", "X-Auth-Client-Id": c.ID, "X-Auth-Scopes": "read"}
	for h, v := range want {
		if got := resp.Header.Get(h); got != v {
			t.Errorf("%s = %q, want %q", h, got, v)
		}
	}
	if resp.Header.Get("X-Evil") != "" {
		t.Error("a claim injected a header")
	}

	k, _ := env.Keys.Signing(context.Background())
	pubDER, _ := x509.MarshalPKIXPublicKey(k.Signer.Public())
	hsWithPublic := func() string {
		tk := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": env.URL, "sub": "1", "aud": []string{verifyResource}, "jti": "j", "iat": time.Now().Unix(), "exp": time.Now().Unix() + 60})
		tk.Header["typ"], tk.Header["kid"] = "at+jwt", k.ID
		s, _ := tk.SignedString(pubDER)
		return s
	}()
	none := func() string {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt","kid":"` + k.ID + `"}`))
		p, _ := json.Marshal(map[string]any{"iss": env.URL, "sub": "1", "aud": []string{verifyResource}, "jti": "j", "iat": time.Now().Unix(), "exp": time.Now().Unix() + 60})
		return h + "." + base64.RawURLEncoding.EncodeToString(p) + "."
	}()
	parts := strings.Split(tok.access, ".")
	tests := []struct {
		name  string
		auth  []string
		host  string
		uri   string
		error bool // want error="invalid_token" (else a bare challenge)
	}{
		{"no token", nil, "files.example.com", "/mcp", false},
		{"wrong host", []string{"Bearer " + tok.access}, "other.example.com", "/mcp", true},
		{"path outside the resource", []string{"Bearer " + tok.access}, "files.example.com", "/mcpx", true},
		{"refresh token as bearer", []string{"Bearer " + tok.refresh}, "files.example.com", "/mcp", true},
		{"alg none", []string{"Bearer " + none}, "files.example.com", "/mcp", true},
		{"HS256 signed with the RSA public key", []string{"Bearer " + hsWithPublic}, "files.example.com", "/mcp", true},
		{"typ JWT", []string{"Bearer " + forge(t, env, func(_ jwt.MapClaims, h map[string]any) { h["typ"] = "JWT" })}, "files.example.com", "/mcp", true},
		{"unknown kid", []string{"Bearer " + forge(t, env, func(_ jwt.MapClaims, h map[string]any) { h["kid"] = "../../etc/passwd" })}, "files.example.com", "/mcp", true},
		{"expired", []string{"Bearer " + forge(t, env, func(c jwt.MapClaims, _ map[string]any) { c["exp"] = time.Now().Unix() - 120 })}, "files.example.com", "/mcp", true},
		{"iat in the future", []string{"Bearer " + forge(t, env, func(c jwt.MapClaims, _ map[string]any) { c["iat"] = time.Now().Unix() + 600 })}, "files.example.com", "/mcp", true},
		{"nbf in the future", []string{"Bearer " + forge(t, env, func(c jwt.MapClaims, _ map[string]any) { c["nbf"] = time.Now().Unix() + 600 })}, "files.example.com", "/mcp", true},
		{"iss with trailing slash", []string{"Bearer " + forge(t, env, func(c jwt.MapClaims, _ map[string]any) { c["iss"] = env.URL + "/" })}, "files.example.com", "/mcp", true},
		{"no aud", []string{"Bearer " + forge(t, env, func(c jwt.MapClaims, _ map[string]any) { delete(c, "aud") })}, "files.example.com", "/mcp", true},
		{"valid signature but never issued", []string{"Bearer " + forge(t, env, nil)}, "files.example.com", "/mcp", true},
		{"two segments", []string{"Bearer " + parts[0] + "." + parts[1]}, "files.example.com", "/mcp", true},
		{"four segments", []string{"Bearer " + tok.access + ".x"}, "files.example.com", "/mcp", true},
		{"bad base64", []string{"Bearer " + parts[0] + ".%%%." + parts[2]}, "files.example.com", "/mcp", true},
		{"10 KB token", []string{"Bearer " + strings.Repeat("a", 10<<10)}, "files.example.com", "/mcp", true},
		{"two Authorization headers", []string{"Bearer " + tok.access, "Bearer " + tok.access}, "files.example.com", "/mcp", true},
		{"Basic scheme", []string{"Basic " + tok.access}, "files.example.com", "/mcp", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := verifyReq(t, env, tc.auth, tc.host, tc.uri)
			if resp.StatusCode != 401 {
				t.Fatalf("status = %d, want 401", resp.StatusCode)
			}
			ch := resp.Header.Get("WWW-Authenticate")
			if !strings.HasPrefix(ch, `Bearer resource_metadata="https://`+tc.host+`/.well-known/oauth-protected-resource`) {
				t.Fatalf("WWW-Authenticate = %q, want the RFC 9728 challenge", ch)
			}
			if strings.Contains(ch, "error=") != tc.error {
				t.Fatalf("WWW-Authenticate = %q, error present = %v, want %v", ch, !tc.error, tc.error)
			}
			if resp.Header.Get("X-User-Id") != "" {
				t.Fatal("a refused request carried identity headers")
			}
		})
	}

	// A revoked token stops working.
	f, id, sec := oauthtest.ClientAuth(c, url.Values{"token": {tok.access}})
	env.PostForm(t, "/revoke", f, id, sec)
	if resp := verifyReq(t, env, []string{"Bearer " + tok.access}, "files.example.com", "/mcp"); resp.StatusCode != 401 {
		t.Fatalf("revoked token: %d, want 401", resp.StatusCode)
	}
}

type feed struct {
	Cursor string `json:"cursor"`
	Reset  bool   `json:"reset"`
	Tokens []struct {
		JTI string `json:"jti"`
		Exp int64  `json:"exp"`
	} `json:"tokens"`
	Users []struct {
		Sub    string `json:"sub"`
		Before int64  `json:"before"`
	} `json:"users"`
	Clients []struct {
		ClientID string `json:"client_id"`
		Before   int64  `json:"before"`
	} `json:"clients"`
}

func getFeed(t *testing.T, env *oauthtest.Env, since, bearer string) (int, *feed, http.Header) {
	t.Helper()
	u := env.URL + "/internal/revocations"
	if since != "" {
		u += "?since=" + url.QueryEscape(since)
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var f feed
	_ = json.NewDecoder(resp.Body).Decode(&f)
	return resp.StatusCode, &f, resp.Header
}

func jti(t *testing.T, at string) string {
	t.Helper()
	c := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(at, c); err != nil {
		t.Fatal(err)
	}
	return c["jti"].(string)
}

func TestRevocationFeed(t *testing.T) {
	env := oauthtest.New(t, &oauthtest.Options{FeedToken: "feed-secret"})
	env.Stub.LoginAs(githubstub.User{ID: 500, Login: "dave"})
	c := env.Register(t, "client_secret_basic", verifyRedirect, map[string]any{"scope": "read"})

	for _, bearer := range []string{"", "wrong"} {
		if status, _, h := getFeed(t, env, "", bearer); status != 401 || h.Get("WWW-Authenticate") == "" {
			t.Fatalf("feed with bearer %q: %d, want 401 with a challenge", bearer, status)
		}
	}
	status, full, h := getFeed(t, env, "", "feed-secret")
	if status != 200 || !full.Reset || full.Cursor == "" || full.Tokens == nil || full.Users == nil || full.Clients == nil || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("empty full state: %d %+v, want reset, a cursor, empty arrays, no-store", status, full)
	}

	one, two := obtainIssued(t, env, c), obtainIssued(t, env, c)
	f, id, sec := oauthtest.ClientAuth(c, url.Values{"token": {one.access}})
	env.PostForm(t, "/revoke", f, id, sec)

	_, delta, _ := getFeed(t, env, full.Cursor, "feed-secret")
	if delta.Reset || len(delta.Tokens) != 1 || delta.Tokens[0].JTI != jti(t, one.access) || delta.Tokens[0].Exp <= time.Now().Unix() {
		t.Fatalf("delta after revoking one token: %+v, want exactly that jti with its exp", delta)
	}
	if _, again, _ := getFeed(t, env, delta.Cursor, "feed-secret"); len(again.Tokens)+len(again.Users)+len(again.Clients) != 0 || again.Reset {
		t.Fatalf("delta with the newest cursor: %+v, want nothing new", again)
	}

	// Admin "revoke user" and client deletion appear as users / clients entries.
	if _, err := env.Store.RevokeUser(context.Background(), "500"); err != nil {
		t.Fatal(err)
	}
	env.DeleteClient(t, c)
	_, later, _ := getFeed(t, env, delta.Cursor, "feed-secret")
	if len(later.Users) != 1 || later.Users[0].Sub != "500" || len(later.Clients) != 1 || later.Clients[0].ClientID != c.ID {
		t.Fatalf("after revoke-user and client delete: %+v, want the user and the client", later)
	}
	var sawTwo bool
	for _, tk := range later.Tokens {
		sawTwo = sawTwo || tk.JTI == jti(t, two.access)
	}
	if !sawTwo {
		t.Fatalf("the user's other token is not in the feed: %+v", later.Tokens)
	}

	for _, cursor := range []string{"garbage", "0000.5", strings.Split(full.Cursor, ".")[0] + ".999999"} {
		_, reset, _ := getFeed(t, env, cursor, "feed-secret")
		if !reset.Reset || len(reset.Users) != 1 || len(reset.Clients) != 1 {
			t.Fatalf("unknown cursor %q: %+v, want the full state with reset", cursor, reset)
		}
	}
}
