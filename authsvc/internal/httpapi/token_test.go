package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/oauthtest"
)

const (
	tokenRedirect = "https://app.example.com/cb"
	tokenResource = "https://files.example.com/mcp"
	tokenVerifier = "token-test-verifier-0123456789-abcdefghijklmnopqrstuvwxyz"
)

// code runs the browser flow for c and returns a fresh code.
func code(t *testing.T, env *oauthtest.Env, b *oauthtest.Browser, c *oauthtest.Client, scope string) string {
	t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {c.RedirectURI}, "state": {"s"},
		"code_challenge": {auth.PKCEChallenge(tokenVerifier)}, "code_challenge_method": {"S256"}, "resource": {tokenResource}, "scope": {scope}}
	return b.Code(t, env.URL+"/authorize?"+q.Encode(), "s")
}

func exchangeForm(codeValue string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {codeValue}, "code_verifier": {tokenVerifier}, "redirect_uri": {tokenRedirect}}
}

func post(t *testing.T, env *oauthtest.Env, c *oauthtest.Client, form url.Values) (int, map[string]any, http.Header) {
	t.Helper()
	f, id, secret := oauthtest.ClientAuth(c, form)
	return env.PostForm(t, "/token", f, id, secret)
}

func TestCodeRefusalsDoNotBurnTheCode(t *testing.T) {
	env := oauthtest.New(t, nil)
	c := env.Register(t, "client_secret_basic", tokenRedirect, map[string]any{"scope": "read write"})
	other := env.Register(t, "client_secret_basic", tokenRedirect, nil)
	b := env.NewBrowser()
	cd := code(t, env, b, c, "read")

	tests := []struct {
		name       string
		client     *oauthtest.Client
		mod        func(url.Values)
		basic      [2]string // overrides the client's own credentials when set
		wantStatus int
		wantError  string
	}{
		{"other client's code", other, nil, [2]string{}, 400, "invalid_grant"},
		{"wrong verifier", c, func(f url.Values) { f.Set("code_verifier", strings.Repeat("w", 43)) }, [2]string{}, 400, "invalid_grant"},
		{"missing verifier", c, func(f url.Values) { f.Del("code_verifier") }, [2]string{}, 400, "invalid_grant"},
		{"verifier equal to the challenge", c, func(f url.Values) { f.Set("code_verifier", auth.PKCEChallenge(tokenVerifier)) }, [2]string{}, 400, "invalid_grant"},
		{"other redirect_uri", c, func(f url.Values) { f.Set("redirect_uri", tokenRedirect+"/x") }, [2]string{}, 400, "invalid_grant"},
		{"missing redirect_uri", c, func(f url.Values) { f.Del("redirect_uri") }, [2]string{}, 400, "invalid_grant"},
		{"other resource", c, func(f url.Values) { f.Set("resource", "https://other.example.com/mcp") }, [2]string{}, 400, "invalid_target"},
		{"malformed resource", c, func(f url.Values) { f.Set("resource", "not a uri") }, [2]string{}, 400, "invalid_target"},
		{"wrong secret", c, nil, [2]string{c.ID, "wrong"}, 401, "invalid_client"},
		{"unknown client", c, nil, [2]string{"nobody", "x"}, 401, "invalid_client"},
		{"duplicate code parameter", c, func(f url.Values) { f.Add("code", "other") }, [2]string{}, 400, "invalid_request"},
		{"unsupported grant", c, func(f url.Values) { f.Set("grant_type", "password") }, [2]string{}, 400, "unsupported_grant_type"},
		{"no grant_type", c, func(f url.Values) { f.Del("grant_type") }, [2]string{}, 400, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			form := exchangeForm(cd)
			if tc.mod != nil {
				tc.mod(form)
			}
			var status int
			var body map[string]any
			var h http.Header
			if tc.basic[0] != "" {
				status, body, h = env.PostForm(t, "/token", form, tc.basic[0], tc.basic[1])
			} else {
				status, body, h = post(t, env, tc.client, form)
			}
			if status != tc.wantStatus || body["error"] != tc.wantError {
				t.Fatalf("got %d %v, want %d %s", status, body, tc.wantStatus, tc.wantError)
			}
			if h.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", h.Get("Cache-Control"))
			}
			if status == 401 && h.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	// None of the refusals consumed the code.
	status, body, _ := post(t, env, c, exchangeForm(cd))
	if status != http.StatusOK || body["access_token"] == nil {
		t.Fatalf("valid redemption after refusals: %d %v, want 200", status, body)
	}
	at := body["access_token"].(string)
	// A replay is refused and revokes what the first redemption issued.
	if status, body, _ := post(t, env, c, exchangeForm(cd)); status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("replay: %d %v, want invalid_grant", status, body)
	}
	f, id, secret := oauthtest.ClientAuth(c, url.Values{"token": {at}})
	if _, got, _ := env.PostForm(t, "/introspect", f, id, secret); got["active"] != false {
		t.Fatalf("first redemption's token after replay: %v, want inactive", got)
	}
}

func TestClientAuthenticationMethods(t *testing.T) {
	env := oauthtest.New(t, nil)
	basic := env.Register(t, "client_secret_basic", tokenRedirect, nil)
	postC := env.Register(t, "client_secret_post", tokenRedirect, nil)
	public := env.Register(t, "none", tokenRedirect, nil)
	tests := []struct {
		name       string
		client     *oauthtest.Client
		form       url.Values
		basicID    string
		basicSec   string
		wantStatus int
	}{
		{"basic client in the form", basic, url.Values{"client_id": {basic.ID}, "client_secret": {basic.Secret}}, "", "", 401},
		{"post client with Basic", postC, url.Values{}, postC.ID, postC.Secret, 401},
		{"post client wrong secret", postC, url.Values{"client_id": {postC.ID}, "client_secret": {"x"}}, "", "", 401},
		{"post client no secret", postC, url.Values{"client_id": {postC.ID}}, "", "", 401},
		{"public client sending a secret", public, url.Values{"client_id": {public.ID}, "client_secret": {"x"}}, "", "", 401},
		{"no client at all", public, url.Values{}, "", "", 401},
		{"Basic and a form secret", basic, url.Values{"client_secret": {basic.Secret}}, basic.ID, basic.Secret, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt-unknown"}}
			for k, v := range tc.form {
				form[k] = v
			}
			status, body, h := env.PostForm(t, "/token", form, tc.basicID, tc.basicSec)
			if status != tc.wantStatus {
				t.Fatalf("status = %d (%v), want %d", status, body, tc.wantStatus)
			}
			if status == 401 && (body["error"] != "invalid_client" || h.Get("WWW-Authenticate") == "") {
				t.Fatalf("401 body %v challenge %q, want invalid_client with WWW-Authenticate", body, h.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestMalformedTokenRequests(t *testing.T) {
	env := oauthtest.New(t, nil)
	tests := []struct {
		name        string
		contentType string
		body        string
		wantStatus  int
	}{
		{"JSON body", "application/json", `{"grant_type":"authorization_code"}`, 400},
		{"no content type", "", "grant_type=authorization_code", 400},
		{"broken form encoding", "application/x-www-form-urlencoded", "grant_type=%zz", 400},
		{"oversized body", "application/x-www-form-urlencoded", "code=" + strings.Repeat("a", 70<<10), 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, env.URL+"/token", strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || resp.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("status %d Cache-Control %q, want %d no-store", resp.StatusCode, resp.Header.Get("Cache-Control"), tc.wantStatus)
			}
		})
	}
}

func TestRefreshRules(t *testing.T) {
	env := oauthtest.New(t, nil)
	c := env.Register(t, "client_secret_post", tokenRedirect, map[string]any{"scope": "read write"})
	other := env.Register(t, "client_secret_post", tokenRedirect, nil)
	b := env.NewBrowser()
	_, body, _ := post(t, env, c, exchangeForm(code(t, env, b, c, "read write")))
	rt, _ := body["refresh_token"].(string)
	if rt == "" {
		t.Fatalf("no refresh token: %v", body)
	}
	refresh := func(cl *oauthtest.Client, token string, extra url.Values) (int, map[string]any) {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
		for k, v := range extra {
			form[k] = v
		}
		s, bd, _ := post(t, env, cl, form)
		return s, bd
	}
	tests := []struct {
		name      string
		client    *oauthtest.Client
		extra     url.Values
		wantError string
	}{
		{"another client's refresh token", other, nil, "invalid_grant"},
		{"wider scope", c, url.Values{"scope": {"read write admin"}}, "invalid_scope"},
		{"resource not granted", c, url.Values{"resource": {"https://other.example.com/mcp"}}, "invalid_target"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if s, bd := refresh(tc.client, rt, tc.extra); s != 400 || bd["error"] != tc.wantError {
				t.Fatalf("got %d %v, want 400 %s", s, bd, tc.wantError)
			}
		})
	}
	// The refusals did not consume it; a narrower scope is fine.
	s, bd := refresh(c, rt, url.Values{"scope": {"read"}, "resource": {tokenResource}})
	if s != 200 || bd["scope"] != "read" {
		t.Fatalf("narrowing refresh: %d %v, want 200 with scope read", s, bd)
	}
	next := bd["refresh_token"].(string)
	// The new refresh token keeps the family's full scope.
	if s, bd := refresh(c, next, url.Values{"scope": {"read write"}}); s != 200 {
		t.Fatalf("refresh back to the granted scope: %d %v, want 200", s, bd)
	} else {
		next = bd["refresh_token"].(string)
	}
	// After revoking, refresh fails.
	f, id, sec := oauthtest.ClientAuth(c, url.Values{"token": {next}, "token_type_hint": {"refresh_token"}})
	if st, _, _ := env.PostForm(t, "/revoke", f, id, sec); st != 200 {
		t.Fatalf("revoke = %d, want 200", st)
	}
	if s, bd := refresh(c, next, nil); s != 400 || bd["error"] != "invalid_grant" {
		t.Fatalf("refresh after revoke: %d %v, want invalid_grant", s, bd)
	}
}

func TestRevokeAndIntrospectNeedClientAuth(t *testing.T) {
	env := oauthtest.New(t, nil)
	c := env.Register(t, "client_secret_basic", tokenRedirect, nil)
	for _, path := range []string{"/revoke", "/introspect"} {
		t.Run(path, func(t *testing.T) {
			status, body, h := env.PostForm(t, path, url.Values{"token": {"x"}}, "", "")
			if status != 401 || body["error"] != "invalid_client" || h.Get("WWW-Authenticate") == "" {
				t.Fatalf("unauthenticated %s: %d %v, want 401 invalid_client with a challenge", path, status, body)
			}
			status, body, _ = env.PostForm(t, path, url.Values{"token": {"x"}}, c.ID, "wrong")
			if status != 401 {
				t.Fatalf("wrong secret on %s: %d %v, want 401", path, status, body)
			}
			status, body, _ = env.PostForm(t, path, url.Values{}, c.ID, c.Secret)
			if status != 400 || body["error"] != "invalid_request" {
				t.Fatalf("%s without token: %d %v, want invalid_request", path, status, body)
			}
		})
	}
	// Garbage tokens are inactive / silently accepted for revocation.
	for _, tok := range []string{"garbage", "rt-nope", "a.b.c", strings.Repeat("x", 9000)} {
		if s, bd, _ := env.PostForm(t, "/introspect", url.Values{"token": {tok}}, c.ID, c.Secret); s != 200 || bd["active"] != false || len(bd) != 1 {
			t.Fatalf("introspect %q: %d %v, want only active:false", tok[:min(len(tok), 10)], s, bd)
		}
		if s, _, _ := env.PostForm(t, "/revoke", url.Values{"token": {tok}}, c.ID, c.Secret); s != 200 {
			t.Fatalf("revoke %q: %d, want 200", tok[:min(len(tok), 10)], s)
		}
	}
}

func TestVerifierGuessingIsBounded(t *testing.T) {
	env := oauthtest.New(t, nil)
	c := env.Register(t, "none", tokenRedirect, nil)
	cd := code(t, env, env.NewBrowser(), c, "")
	for i := range auth.MaxVerifierFailures {
		form := exchangeForm(cd)
		form.Set("code_verifier", fmt.Sprintf("%043d", i))
		if status, body, _ := post(t, env, c, form); status != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("guess %d: %d %v, want invalid_grant", i, status, body)
		}
	}
	if status, body, _ := post(t, env, c, exchangeForm(cd)); status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("right verifier after %d wrong guesses: %d %v, want the code gone", auth.MaxVerifierFailures, status, body)
	}
}

// TestGrantTypesEnforced: a refresh token is issued only to a client registered for the
// refresh_token grant (RFC 7591 §2: absent grant_types means authorization_code alone),
// and a client that is not registered for it is refused a refresh with
// unauthorized_client (RFC 6749 §5.2), even holding a refresh token from before it
// dropped the grant.
func TestGrantTypesEnforced(t *testing.T) {
	env := oauthtest.New(t, nil)
	b := env.NewBrowser()
	for name, grants := range map[string]any{"authorization_code only": []string{"authorization_code"}, "grant_types absent": nil} {
		c := env.Register(t, "client_secret_basic", tokenRedirect, map[string]any{"grant_types": grants})
		status, body, _ := post(t, env, c, exchangeForm(code(t, env, b, c, "")))
		if status != http.StatusOK || body["access_token"] == nil {
			t.Fatalf("%s: code exchange: %d %v", name, status, body)
		}
		if rt, ok := body["refresh_token"]; ok {
			t.Errorf("%s: got a refresh token %v", name, rt)
		}
	}

	c := env.Register(t, "client_secret_basic", tokenRedirect, nil) // both grants
	status, body, _ := post(t, env, c, exchangeForm(code(t, env, b, c, "")))
	rt, _ := body["refresh_token"].(string)
	if status != http.StatusOK || rt == "" {
		t.Fatalf("code exchange of a client with both grants: %d %v", status, body)
	}
	put := fmt.Sprintf(`{"client_id":%q,"client_secret":%q,"redirect_uris":[%q],"grant_types":["authorization_code"],"token_endpoint_auth_method":"client_secret_basic"}`,
		c.ID, c.Secret, tokenRedirect)
	req, _ := http.NewRequest(http.MethodPut, env.URL+"/register/"+c.ID, strings.NewReader(put))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.RegistrationToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT registration without refresh_token: %d", resp.StatusCode)
	}
	status, body, _ = post(t, env, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	if status != http.StatusBadRequest || body["error"] != "unauthorized_client" {
		t.Errorf("refresh by a client no longer registered for it: %d %v, want 400 unauthorized_client", status, body)
	}
}
