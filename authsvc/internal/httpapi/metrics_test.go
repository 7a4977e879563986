package httpapi_test

import (
	"net/url"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

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
		"invalid_grant errors":     testutil.ToFloat64(metrics.OAuthErrors.WithLabelValues("invalid_grant")) - grant0,
	} {
		if d != 1 {
			t.Errorf("%s moved by %v, want 1", name, d)
		}
	}
}
