package main

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/oauthtest"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/store"
	"github.com/mcp-oauth-gateway/gateway/internal/githubstub"
)

const adminVerifier = "admin-test-verifier-0123456789-abcdefghijklmnopqrstuvwxyz"

func obtain(t *testing.T, env *oauthtest.Env, c *oauthtest.Client) (string, string) {
	t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {c.RedirectURI}, "state": {"s"},
		"code_challenge": {auth.PKCEChallenge(adminVerifier)}, "code_challenge_method": {"S256"}}
	code := env.NewBrowser().Code(t, env.URL+"/authorize?"+q.Encode(), "s")
	form, id, sec := oauthtest.ClientAuth(c, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {adminVerifier}, "redirect_uri": {c.RedirectURI}})
	status, body, _ := env.PostForm(t, "/token", form, id, sec)
	if status != 200 {
		t.Fatalf("token: %d %v", status, body)
	}
	return body["access_token"].(string), body["refresh_token"].(string)
}

func jti(t *testing.T, at string) string {
	c := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(at, c); err != nil {
		t.Fatal(err)
	}
	return c["jti"].(string)
}

func live(t *testing.T, env *oauthtest.Env, at string) bool {
	ok, err := env.Store.AccessLive(context.Background(), jti(t, at))
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestAdminOperations(t *testing.T) {
	env := oauthtest.New(t, nil)
	env.Stub.LoginAs(githubstub.User{ID: 31337, Login: "Erin", Name: "Erin"})
	c := env.Register(t, "none", "http://127.0.0.1:9999/cb", map[string]any{"client_name": "Admin test"})
	at1, rt1 := obtain(t, env, c)
	at2, _ := obtain(t, env, c)
	var out bytes.Buffer
	a := &Admin{Store: env.Store, Out: &out, AccessLifetime: time.Hour}
	ctx := context.Background()

	steps := []struct {
		name    string
		run     func() error
		want    []string
		wantErr error
	}{
		{"list-clients", func() error { return a.ListClients(ctx) }, []string{c.ID, "1 client(s)"}, nil},
		{"list-tokens by login", func() error { return a.ListTokens(ctx, "erin") }, []string{jti(t, at1), jti(t, at2), "2 access token(s), 2 refresh token(s)"}, nil},
		{"list-tokens unknown login", func() error { return a.ListTokens(ctx, "nobody") }, nil, auth.ErrNotFound},
		{"list-tokens no user", func() error { return a.ListTokens(ctx, "") }, nil, ErrUsage},
		{"revoke-token by jti", func() error { return a.RevokeToken(ctx, jti(t, at1)) }, []string{"revoked access token"}, nil},
		{"revoke-token by refresh token", func() error { return a.RevokeToken(ctx, rt1) }, []string{"revoked the refresh token family"}, nil},
		{"revoke-user by id", func() error { return a.RevokeUser(ctx, "31337") }, []string{"revoked every token of user 31337"}, nil},
		{"purge-expired", func() error { return a.PurgeExpired(ctx) }, []string{"purged"}, nil},
		{"delete-client", func() error { return a.DeleteClient(ctx, c.ID) }, []string{"deleted client " + c.ID}, nil},
		{"delete-client again", func() error { return a.DeleteClient(ctx, c.ID) }, nil, auth.ErrNotFound},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			out.Reset()
			err := s.run()
			if s.wantErr != nil {
				if err == nil || (!errors.Is(err, s.wantErr) && !strings.Contains(err.Error(), "no tokens were ever issued")) {
					t.Fatalf("err = %v, want %v", err, s.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range s.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if strings.Contains(out.String(), "\x1b") {
				t.Error("output carries a terminal escape from client_name")
			}
		})
	}
	if live(t, env, at1) || live(t, env, at2) {
		t.Fatal("tokens still live after revoke-user")
	}
	entries, _, err := env.Store.Revocations(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var user, client bool
	for _, e := range entries {
		user = user || (e.Kind == store.KindUser && e.ID == "31337")
		client = client || (e.Kind == store.KindClient && e.ID == c.ID)
	}
	if !user || !client {
		t.Fatalf("revocation log %v lacks the user or the client", entries)
	}
}
