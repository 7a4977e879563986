package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/oauthtest"
	"github.com/mcp-oauth-gateway/gateway/internal/githubstub"
	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/redistest"
)

const resource = "https://files.example.com/mcp"

// obtain runs the browser flow for c and exchanges the code with x/oauth2.
func obtain(t *testing.T, env *oauthtest.Env, b *oauthtest.Browser, c *oauthtest.Client, scopes ...string) *oauth2.Token {
	t.Helper()
	cfg := env.OAuth2(c, scopes...)
	verifier := oauth2.GenerateVerifier()
	state := "st-" + strings.Repeat("x", 5) + "&=é"
	authURL := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", resource))
	code := b.Code(t, authURL, state)
	tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", resource))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok
}

func introspect(t *testing.T, env *oauthtest.Env, c *oauthtest.Client, token string) map[string]any {
	t.Helper()
	form, id, secret := oauthtest.ClientAuth(c, url.Values{"token": {token}})
	status, body, _ := env.PostForm(t, "/introspect", form, id, secret)
	if status != http.StatusOK {
		t.Fatalf("introspect status = %d (%v), want 200", status, body)
	}
	return body
}

func TestFullFlows(t *testing.T) {
	for _, method := range []string{"client_secret_basic", "client_secret_post", "none"} {
		t.Run(method, func(t *testing.T) {
			env := oauthtest.New(t, nil)
			env.Stub.LoginAs(githubstub.User{ID: 1234, Login: "alice", Name: "Alice Doe"})
			c := env.Register(t, method, "http://127.0.0.1:8976/callback", map[string]any{"scope": "read write"})
			tok := obtain(t, env, env.NewBrowser(), c, "read")

			if tok.TokenType != "Bearer" || tok.RefreshToken == "" || !strings.HasPrefix(tok.RefreshToken, "rt-") || tok.Expiry.IsZero() {
				t.Fatalf("token = %+v, want Bearer with an rt- refresh token and expiry", tok)
			}
			if got := tok.Extra("scope"); got != "read" {
				t.Fatalf("scope = %v, want read", got)
			}
			claims := jwt.MapClaims{}
			parsed, _, err := jwt.NewParser().ParseUnverified(tok.AccessToken, claims)
			if err != nil {
				t.Fatal(err)
			}
			if parsed.Header["typ"] != "at+jwt" || parsed.Header["kid"] == nil || parsed.Header["alg"] != "RS256" {
				t.Fatalf("header = %v, want typ at+jwt, kid, RS256", parsed.Header)
			}
			want := map[string]any{"iss": env.URL, "sub": "1234", "login": "alice", "name": "Alice Doe", "client_id": c.ID, "scope": "read"}
			for k, v := range want {
				if claims[k] != v {
					t.Errorf("claim %s = %v, want %v", k, claims[k], v)
				}
			}
			if aud, _ := claims["aud"].([]any); len(aud) != 1 || aud[0] != resource {
				t.Errorf("aud = %v, want [%s]", claims["aud"], resource)
			}
			if claims["nbf"] != claims["iat"] || claims["jti"] == "" {
				t.Errorf("nbf %v iat %v jti %v: want nbf = iat and a jti", claims["nbf"], claims["iat"], claims["jti"])
			}
			if method == "none" {
				// RFC 7662 §2.1: a public client's client_id authenticates nobody.
				form, id, secret := oauthtest.ClientAuth(c, url.Values{"token": {tok.AccessToken}})
				if status, body, _ := env.PostForm(t, "/introspect", form, id, secret); status != http.StatusUnauthorized || body["error"] != "invalid_client" || body["active"] != nil {
					t.Fatalf("introspection by a public client = %d %v, want 401 invalid_client", status, body)
				}
			} else if got := introspect(t, env, c, tok.AccessToken); got["active"] != true || got["sub"] != "1234" {
				t.Fatalf("introspect = %v, want active for sub 1234", got)
			}
			// The second authorization of the same client skips consent.
			cfg := env.OAuth2(c, "read")
			ver := oauth2.GenerateVerifier()
			b := env.NewBrowser()
			_ = obtain(t, env, b, c, "read")
			p := b.Get(t, cfg.AuthCodeURL("again", oauth2.S256ChallengeOption(ver), oauth2.SetAuthURLParam("resource", resource)))
			if p.Location == nil || p.Location.Query().Get("code") == "" {
				t.Fatalf("second authorization = %d, want a code without consent", p.Status)
			}
		})
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	env := oauthtest.New(t, nil)
	c := env.Register(t, "client_secret_basic", "http://127.0.0.1:8976/callback", nil)
	tok := obtain(t, env, env.NewBrowser(), c)
	cfg := env.OAuth2(c)

	first := tok.RefreshToken
	ts := cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: first, Expiry: time.Now().Add(-time.Hour)})
	next, err := ts.Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if next.RefreshToken == first || next.AccessToken == tok.AccessToken {
		t.Fatal("refresh did not rotate the tokens")
	}
	// Reusing the rotated token revokes the whole family.
	_, err = cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: first}).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("reuse: err = %v, want invalid_grant", err)
	}
	for name, tk := range map[string]string{"first access": tok.AccessToken, "rotated access": next.AccessToken, "rotated refresh": next.RefreshToken} {
		if got := introspect(t, env, c, tk); got["active"] != false || len(got) != 1 {
			t.Errorf("%s after reuse: introspect = %v, want only active:false", name, got)
		}
	}
}

func TestRevokeThenIntrospect(t *testing.T) {
	env := oauthtest.New(t, nil)
	c := env.Register(t, "client_secret_post", "http://127.0.0.1:8976/callback", nil)
	other := env.Register(t, "client_secret_post", "http://127.0.0.1:8977/callback", nil)
	tok := obtain(t, env, env.NewBrowser(), c)

	// Another client can neither see nor revoke it.
	if got := introspect(t, env, other, tok.AccessToken); got["active"] != false || len(got) != 1 {
		t.Fatalf("other client's introspection = %v, want only active:false", got)
	}
	form, _, _ := oauthtest.ClientAuth(other, url.Values{"token": {tok.AccessToken}})
	if status, _, _ := env.PostForm(t, "/revoke", form, "", ""); status != http.StatusOK {
		t.Fatalf("other client's revoke = %d, want 200", status)
	}
	if got := introspect(t, env, c, tok.AccessToken); got["active"] != true {
		t.Fatal("another client's revoke killed the token")
	}
	for _, tk := range []string{tok.AccessToken, tok.RefreshToken} {
		form, _, _ := oauthtest.ClientAuth(c, url.Values{"token": {tk}})
		if status, _, h := env.PostForm(t, "/revoke", form, "", ""); status != http.StatusOK || h.Get("Cache-Control") != "no-store" {
			t.Fatalf("revoke = %d, want 200 with no-store", status)
		}
		if got := introspect(t, env, c, tk); got["active"] != false || len(got) != 1 {
			t.Fatalf("after revoke introspect = %v, want only active:false", got)
		}
	}
}

func TestClientDeleteKillsTokens(t *testing.T) {
	env := oauthtest.New(t, nil)
	c := env.Register(t, "client_secret_basic", "http://127.0.0.1:8976/callback", nil)
	tok := obtain(t, env, env.NewBrowser(), c)
	env.DeleteClient(t, c)

	jti := jtiOf(t, tok.AccessToken)
	if live, err := env.Store.AccessLive(context.Background(), jti); err != nil || live {
		t.Fatalf("access token record live = %v (%v) after DELETE, want gone", live, err)
	}
	_, err := env.OAuth2(c).TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response.StatusCode != http.StatusUnauthorized {
		t.Fatalf("refresh after DELETE: %v, want 401 invalid_client", err)
	}
	entries, _, err := env.Store.Revocations(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var sawClient, sawToken bool
	for _, e := range entries {
		sawClient = sawClient || (e.Kind == "client" && e.ID == c.ID)
		sawToken = sawToken || (e.Kind == "token" && e.ID == jti)
	}
	if !sawClient || !sawToken {
		t.Fatalf("revocation log %v: want the client and the token", entries)
	}
}

func jtiOf(t *testing.T, at string) string {
	t.Helper()
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(at, claims); err != nil {
		t.Fatal(err)
	}
	s, _ := claims["jti"].(string)
	return s
}

func TestExpiryWithClock(t *testing.T) {
	env := oauthtest.New(t, &oauthtest.Options{AccessLifetime: 5 * time.Minute, RefreshLifetime: time.Hour})
	// Confidential, so that introspection (which needs client authentication) can
	// watch the tokens.
	c := env.Register(t, "client_secret_basic", "http://127.0.0.1:8976/callback", nil)
	b := env.NewBrowser()
	tok := obtain(t, env, b, c)

	// A code older than its lifetime is refused, even though Redis still holds it.
	cfg := env.OAuth2(c)
	ver := oauth2.GenerateVerifier()
	code := b.Code(t, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(ver)), "s")
	env.Clock.Advance(11 * time.Minute)
	if _, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(ver)); err == nil {
		t.Fatal("expired code was accepted")
	}
	if got := introspect(t, env, c, tok.AccessToken); got["active"] != false {
		t.Fatalf("access token after its lifetime: %v, want inactive", got)
	}
	if _, err := cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
		t.Fatalf("refresh within its lifetime: %v", err)
	}
	env.Clock.Advance(2 * time.Hour)
	_, err := cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err == nil {
		t.Fatal("refresh token used after its lifetime")
	}
}

func TestParallelCodeRedemption(t *testing.T) {
	env := oauthtest.New(t, nil)
	// Confidential, so that introspection (which needs client authentication) can
	// watch the tokens.
	c := env.Register(t, "client_secret_basic", "http://127.0.0.1:8976/callback", nil)
	cfg := env.OAuth2(c)
	ver := oauth2.GenerateVerifier()
	code := env.NewBrowser().Code(t, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(ver)), "s")

	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {ver},
		"redirect_uri": {c.RedirectURI}}
	statuses, tokens := together(t, env, c, 50, form, "access_token")
	ok, winner := 0, ""
	for i, s := range statuses {
		if s == http.StatusOK {
			ok++
			winner = tokens[i]
		} else if s != http.StatusBadRequest {
			t.Errorf("redemption %d: status %d, want 200 or 400", i, s)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d parallel redemptions succeeded (%v), want exactly 1", ok, len(statuses), statuses)
	}
	// The replays revoked what the winner got.
	if got := introspect(t, env, c, winner); got["active"] != false {
		t.Fatalf("winner's token after replays: %v, want revoked", got)
	}
}

func TestParallelRefresh(t *testing.T) {
	env := oauthtest.New(t, nil)
	// Confidential, so that introspection (which needs client authentication) can
	// watch the tokens.
	c := env.Register(t, "client_secret_basic", "http://127.0.0.1:8976/callback", nil)
	tok := obtain(t, env, env.NewBrowser(), c)

	const n = 20
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
	statuses, refresh := together(t, env, c, n, form, "refresh_token")
	ok, winner := 0, ""
	for i, s := range statuses {
		if s == http.StatusOK {
			ok++
			winner = refresh[i]
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d parallel refreshes succeeded (%v), want exactly 1", ok, n, statuses)
	}
	// The losers presented a rotated token: reuse, so the winner's family is dead too.
	if got := introspect(t, env, c, winner); got["active"] != false {
		t.Fatalf("winner's refresh token after concurrent reuse: %v, want revoked", got)
	}
}

// together posts form to /token as c n times at once and returns each status and the
// named field of each answer.
func together(t *testing.T, env *oauthtest.Env, c *oauthtest.Client, n int, form url.Values, field string) ([]int, []string) {
	t.Helper()
	form, id, secret := oauthtest.ClientAuth(c, form)
	statuses := make([]int, n)
	values := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			st, body, _ := env.PostForm(t, "/token", form, id, secret)
			statuses[i] = st
			values[i], _ = body[field].(string)
		}()
	}
	close(start)
	wg.Wait()
	return statuses, values
}

func decodeJSON(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

func TestRevokeUserEndsTokensAndSessions(t *testing.T) {
	env := oauthtest.New(t, nil)
	env.Stub.LoginAs(githubstub.User{ID: 777, Login: "frank"})
	// Confidential, so that introspection (which needs client authentication) can
	// watch the tokens.
	c := env.Register(t, "client_secret_basic", "http://127.0.0.1:8976/callback", nil)
	b := env.NewBrowser()
	tok := obtain(t, env, b, c)
	logins := env.Stub.Count("token")

	if _, err := env.Store.RevokeUser(context.Background(), "777"); err != nil {
		t.Fatal(err)
	}
	if got := introspect(t, env, c, tok.AccessToken); got["active"] != false {
		t.Fatalf("access token after revoke-user: %v, want inactive", got)
	}
	if got := introspect(t, env, c, tok.RefreshToken); got["active"] != false {
		t.Fatalf("refresh token after revoke-user: %v, want inactive", got)
	}
	// The browser session ended: the next authorization logs in at GitHub again.
	_ = obtain(t, env, b, c)
	if got := env.Stub.Count("token"); got != logins+1 {
		t.Fatalf("GitHub code exchanges = %d, want %d (a new login after revoke-user)", got, logins+1)
	}
}

func TestTokensNeverOutliveTheClient(t *testing.T) {
	env := oauthtest.New(t, &oauthtest.Options{ClientLifetime: 10 * time.Minute, AccessLifetime: time.Hour})
	c := env.Register(t, "client_secret_post", "http://127.0.0.1:8976/callback", nil)
	tok := obtain(t, env, env.NewBrowser(), c)
	if left := time.Until(tok.Expiry); left > 10*time.Minute+5*time.Second {
		t.Fatalf("access token lives %v, beyond the client's 10 minutes", left)
	}
	env.Clock.Advance(11 * time.Minute)
	_, err := env.OAuth2(c).TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response.StatusCode != http.StatusUnauthorized {
		t.Fatalf("refresh after the client expired: %v, want 401 invalid_client", err)
	}
}

// TestRetryWindow: within TOKEN_RETRY_WINDOW, spending the same refresh token again (a
// client that never saw its answer, or two processes sharing the token) gets the very
// same tokens and revokes nothing; so does retrying a code exchange with the same
// verifier. After the window, or with another verifier, it is a replay and the family
// is revoked.
func TestRetryWindow(t *testing.T) {
	const window = 1500 * time.Millisecond
	env := oauthtest.New(t, &oauthtest.Options{RetryWindow: window})
	c := env.Register(t, "client_secret_basic", "http://127.0.0.1:8976/callback", nil)
	tok := obtain(t, env, env.NewBrowser(), c)

	// A family revoked in between answers no retry, even within the window.
	other := obtain(t, env, env.NewBrowser(), c)
	form, id, secret := oauthtest.ClientAuth(c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {other.RefreshToken}})
	st, body, _ := env.PostForm(t, "/token", form, id, secret)
	if st != http.StatusOK {
		t.Fatalf("refresh: %d %v", st, body)
	}
	rform, rid, rsecret := oauthtest.ClientAuth(c, url.Values{"token": {body["refresh_token"].(string)}})
	if st, _, _ := env.PostForm(t, "/revoke", rform, rid, rsecret); st != http.StatusOK {
		t.Fatalf("revoke: %d", st)
	}
	if st, body, _ := env.PostForm(t, "/token", form, id, secret); st != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("a retry within the window after the family was revoked: %d %v, want invalid_grant", st, body)
	}

	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
	statuses, access := together(t, env, c, 10, refresh, "access_token")
	for i, st := range statuses {
		if st != http.StatusOK || access[i] != access[0] {
			t.Fatalf("parallel refresh %d within the window: %d %q, want 200 and the same tokens for all", i, st, access[i])
		}
	}
	if got := introspect(t, env, c, access[0]); got["active"] != true {
		t.Fatalf("the shared answer's token: %v, want active (nothing revoked)", got)
	}
	time.Sleep(window + 300*time.Millisecond)
	form, id, secret = oauthtest.ClientAuth(c, refresh)
	if st, body, _ := env.PostForm(t, "/token", form, id, secret); st != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("the spent refresh token after the window: %d %v, want invalid_grant", st, body)
	}
	if got := introspect(t, env, c, access[0]); got["active"] != false {
		t.Fatalf("after a replay past the window: %v, want the family revoked", got)
	}

	// The code exchange: a retry with the same verifier gets the same tokens; another
	// verifier on the spent code is a replay.
	cfg := env.OAuth2(c)
	ver := oauth2.GenerateVerifier()
	code := env.NewBrowser().Code(t, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(ver)), "s")
	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {ver}, "redirect_uri": {c.RedirectURI}}
	form, id, secret = oauthtest.ClientAuth(c, exchange)
	st1, b1, _ := env.PostForm(t, "/token", form, id, secret)
	st2, b2, _ := env.PostForm(t, "/token", form, id, secret)
	if st1 != http.StatusOK || st2 != http.StatusOK || b1["access_token"] != b2["access_token"] || b1["refresh_token"] != b2["refresh_token"] {
		t.Fatalf("code exchange and its retry: %d %d, want 200 twice with the same tokens", st1, st2)
	}
	exchange.Set("code_verifier", oauth2.GenerateVerifier())
	form, id, secret = oauthtest.ClientAuth(c, exchange)
	if st, body, _ := env.PostForm(t, "/token", form, id, secret); st != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("the spent code with another verifier: %d %v, want invalid_grant", st, body)
	}
	if got := introspect(t, env, c, b1["access_token"].(string)); got["active"] != false {
		t.Fatalf("after the code's replay: %v, want the family revoked", got)
	}
}

// TestRedisStall: clients refresh in a loop (and exchange codes) while Redis is stopped
// (SIGSTOP) for longer than authsvc's client timeout, then continued, and then while
// Redis pauses writes (CLIENT PAUSE WRITE) as long. Requests caught
// in the stall answer 503, though some of their steps ran once Redis woke up (a reply
// lost after the rotation happened); every client retries with the credential it holds,
// as clients do. No grant may be lost: every retry succeeds (the retry window), no
// family is revoked, and the tokens finally held work, refresh tokens included.
func TestRedisStall(t *testing.T) {
	env := oauthtest.New(t, &oauthtest.Options{RetryWindow: time.Minute})
	const refreshers, exchangers = 12, 6
	c := env.Register(t, "client_secret_basic", "http://127.0.0.1:8976/callback", nil)
	cfg := env.OAuth2(c)
	rts := make([]string, refreshers)
	for i := range rts {
		rts[i] = obtain(t, env, env.NewBrowser(), c).RefreshToken
	}
	exchanges := make([]url.Values, exchangers)
	for i := range exchanges {
		ver := oauth2.GenerateVerifier()
		code := env.NewBrowser().Code(t, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(ver)), "s")
		exchanges[i] = url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {ver}, "redirect_uri": {c.RedirectURI}}
	}
	post := func(f url.Values) (int, map[string]any) {
		form, id, secret := oauthtest.ClientAuth(c, f)
		st, body, _ := env.PostForm(t, "/token", form, id, secret)
		return st, body
	}

	var stalled, spent atomic.Int64
	stop := make(chan struct{})
	errs := make(chan string, refreshers+exchangers)
	var wg sync.WaitGroup
	// Refreshers: rotate again and again; on 5xx retry the same refresh token.
	for i := range rts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				st, body := post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rts[i]}})
				switch {
				case st == http.StatusOK:
					rts[i], _ = body["refresh_token"].(string)
					spent.Add(1)
				case st >= 500:
					stalled.Add(1)
					time.Sleep(200 * time.Millisecond)
				default:
					errs <- fmt.Sprintf("refresher %d: %d %v", i, st, body)
					return
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond) // load running
	// authsvc gives up after about 4 s (2 s, one retry)
	resumed := redistest.Stall(t, 5*time.Second)
	// Code exchanges start inside the stall and retry until they get their tokens.
	codeTokens := make([]map[string]any, exchangers)
	for i, f := range exchanges {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for try := 0; try < 100; try++ {
				st, body := post(f)
				switch {
				case st == http.StatusOK:
					codeTokens[i] = body
					return
				case st >= 500:
					stalled.Add(1)
					time.Sleep(200 * time.Millisecond)
				default:
					errs <- fmt.Sprintf("exchange %d: %d %v", i, st, body)
					return
				}
			}
			errs <- fmt.Sprintf("exchange %d: no answer after 100 tries", i)
		}()
	}
	<-resumed
	time.Sleep(time.Second) // refreshing on after the stall
	// A stall of writes only: every refresh reads its token and then waits in the
	// rotation step, which runs once the pause ends, after authsvc answered 503. This
	// is the case where a 503 hides work that was done.
	if err := env.Redis.Do(context.Background(), "CLIENT", "PAUSE", "5000", "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(6 * time.Second)
	time.Sleep(time.Second) // refreshing on after the pause
	close(stop)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if stalled.Load() == 0 {
		t.Fatal("no request met the stall: the test proves nothing")
	}
	// Every grant survived: each refresher's last refresh token and each exchange's
	// tokens still work.
	for i, rt := range rts {
		if st, body := post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}); st != http.StatusOK {
			t.Errorf("refresher %d after the stall: %d %v", i, st, body)
		}
	}
	for i, body := range codeTokens {
		if body == nil {
			continue
		}
		at, _ := body["access_token"].(string)
		if got := introspect(t, env, c, at); got["active"] != true {
			t.Errorf("exchange %d: its access token is %v, want active", i, got)
		}
	}
	t.Logf("%d refreshes, %d answers of 503 during the stall; every grant kept", spent.Load(), stalled.Load())
}
