package httpapi_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/oauth2"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/metrics"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/oauthtest"
)

// TestMetricsCountGrants: a real flow moves the grant counters: a code exchange, a
// refresh, and the reuse of the rotated refresh token (refused, its family revoked).
func TestMetricsCountGrants(t *testing.T) {
	env := oauthtest.New(t, nil)
	c := env.Register(t, "none", "http://127.0.0.1:8976/callback", nil)
	code0 := testutil.ToFloat64(metrics.TokensIssued.WithLabelValues("authorization_code"))
	refresh0 := testutil.ToFloat64(metrics.TokensIssued.WithLabelValues("refresh_token"))
	reuse0 := testutil.ToFloat64(metrics.RefreshReuse)
	revoked0 := testutil.ToFloat64(metrics.Revocations.WithLabelValues(auth.RevokedForReuse))
	grant0 := testutil.ToFloat64(metrics.OAuthErrors.WithLabelValues("invalid_grant"))

	tok := obtain(t, env, env.NewBrowser(), c)
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {c.ID}}
	if status, body, _ := env.PostForm(t, "/token", form, "", ""); status != 200 {
		t.Fatalf("refresh: %d %v", status, body)
	}
	if status, _, _ := env.PostForm(t, "/token", form, "", ""); status != 400 {
		t.Fatalf("reused refresh token: %d, want 400", status)
	}
	for name, d := range map[string]float64{
		"tokens issued by code":    testutil.ToFloat64(metrics.TokensIssued.WithLabelValues("authorization_code")) - code0,
		"tokens issued by refresh": testutil.ToFloat64(metrics.TokensIssued.WithLabelValues("refresh_token")) - refresh0,
		"refresh reuse":            testutil.ToFloat64(metrics.RefreshReuse) - reuse0,
		"revocations for reuse":    testutil.ToFloat64(metrics.Revocations.WithLabelValues(auth.RevokedForReuse)) - revoked0,
		"invalid_grant errors":     testutil.ToFloat64(metrics.OAuthErrors.WithLabelValues("invalid_grant")) - grant0,
	} {
		if d != 1 {
			t.Errorf("%s moved by %v, want 1", name, d)
		}
	}
}

// TestMetricsCountRegistrationsRevocationsRefusals: registrations, each kind of
// revocation a client can cause, and a refusal sent back as a redirect from
// /authorize move their counters.
func TestMetricsCountRegistrationsRevocationsRefusals(t *testing.T) {
	env := oauthtest.New(t, nil)
	// read returns the counters this test moves: registrations, access_denied, and
	// each revocation reason.
	read := func() map[string]float64 {
		m := map[string]float64{
			"registrations": testutil.ToFloat64(metrics.Registrations),
			"access_denied": testutil.ToFloat64(metrics.OAuthErrors.WithLabelValues("access_denied")),
		}
		for _, r := range []string{auth.RevokedRefreshToken, auth.RevokedAccessToken, auth.RevokedForCodeReplay,
			auth.RevokedForReuse, auth.RevokedClientDeleted} {
			m[r] = testutil.ToFloat64(metrics.Revocations.WithLabelValues(r))
		}
		return m
	}
	before := read()

	c := env.Register(t, "none", authorizeRedirect, nil)
	other := env.Register(t, "none", authorizeRedirect, nil)
	b := env.NewBrowser()
	revoke := func(token string) {
		t.Helper()
		form := url.Values{"token": {token}, "client_id": {c.ID}}
		if status, body, _ := env.PostForm(t, "/revoke", form, "", ""); status != 200 {
			t.Fatalf("revoke: %d %v", status, body)
		}
	}
	revoke(obtain(t, env, b, c).RefreshToken)
	revoke(obtain(t, env, b, c).AccessToken)
	// A code exchanged twice: the second exchange revokes what the first issued.
	cfg := env.OAuth2(c)
	verifier := oauth2.GenerateVerifier()
	code := b.Code(t, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), "s")
	if _, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier)); err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier)); err == nil {
		t.Fatal("a code was exchanged twice")
	}
	// The user denies another client: the refusal goes back as a redirect.
	p := b.Get(t, authURL(env, other.ID, nil))
	id, csrf, ok := oauthtest.ConsentForm(p)
	if !ok {
		t.Fatalf("no consent page: %d", p.Status)
	}
	if got := b.Decide(t, id, csrf, "deny"); got.Location == nil || got.Location.Query().Get("error") != "access_denied" {
		t.Fatalf("deny: %+v", got)
	}
	env.DeleteClient(t, other)

	want := map[string]float64{"registrations": 2, "access_denied": 1, auth.RevokedRefreshToken: 1,
		auth.RevokedAccessToken: 1, auth.RevokedForCodeReplay: 1, auth.RevokedForReuse: 0, auth.RevokedClientDeleted: 1}
	after := read()
	for name, w := range want {
		if d := after[name] - before[name]; d != w {
			t.Errorf("%s moved by %v, want %v", name, d, w)
		}
	}
}
