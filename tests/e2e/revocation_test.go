package e2e

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestRefreshReuseRevokesFamilyAtEdge: replaying a rotated refresh token after the
// retry window is refused and kills what the family issued, at the edge too, within the
// revocation interval.
func TestRefreshReuseRevokesFamilyAtEdge(t *testing.T) {
	ctx := testContext(t)
	mcpURL := stack.MCPURL("memory")
	res := userToken(t, ctx, alice, mcpURL)
	cfgCtx := contextWithClient(ctx)
	second, err := refreshWith(cfgCtx, res.ClientID, res.Token.RefreshToken)
	if err != nil {
		t.Fatalf("first refresh: %v", err)
	}
	initSession(t, ctx, mcpURL, second.AccessToken, nil)
	// Within the retry window the same credential gets the same answer (a client whose
	// answer was lost); after it, presenting it again is a replay.
	again, err := refreshWith(cfgCtx, res.ClientID, res.Token.RefreshToken)
	if err != nil || again.AccessToken != second.AccessToken || again.RefreshToken != second.RefreshToken {
		t.Fatalf("a retry within the window: %v, want the same tokens", err)
	}
	time.Sleep(retryWindow + 500*time.Millisecond)
	if _, err := refreshWith(cfgCtx, res.ClientID, res.Token.RefreshToken); err == nil {
		t.Fatal("a rotated refresh token was accepted again after the retry window")
	}
	eventually(t, revocationWait, "tokens of a replayed refresh family refused at the edge", func() (bool, string) {
		resp, body := mcpRequest(t, ctx, http.MethodPost, mcpURL, second.AccessToken, "", initializeBody, nil)
		return resp.StatusCode == http.StatusUnauthorized, resp.Status + " " + body
	})
	if _, err := refreshWith(cfgCtx, res.ClientID, second.RefreshToken); err == nil {
		t.Error("the family's current refresh token still works after the replay")
	}
}

// TestAdminRevokeUserAtEdge: `authsvc revoke-user` (just oauth-revoke-user) stops every
// token of that user at the edge within the revocation interval.
func TestAdminRevokeUserAtEdge(t *testing.T) {
	ctx := testContext(t)
	everything, memory := stack.MCPURL("everything"), stack.MCPURL("memory")
	tokA := userToken(t, ctx, carol, everything).Token.AccessToken
	tokB := userToken(t, ctx, carol, memory).Token.AccessToken
	initSession(t, ctx, everything, tokA, nil)
	initSession(t, ctx, memory, tokB, nil)

	cmd := exec.CommandContext(ctx, authsvcBin, "revoke-user", carol.Login)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"REDIS_URL=" + stack.RedisURL, "AUTH_ISSUER_URL=" + stack.Issuer, "LOG_FORMAT=text"}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("authsvc revoke-user: %v\n%s", err, out)
	}
	for url, tok := range map[string]string{everything: tokA, memory: tokB} {
		eventually(t, revocationWait, "revoked user's token refused at "+url, func() (bool, string) {
			resp, body := mcpRequest(t, ctx, http.MethodPost, url, tok, "", initializeBody, nil)
			return resp.StatusCode == http.StatusUnauthorized, resp.Status + " " + body
		})
	}
}

// TestLoginRefusals: a GitHub user not on ALLOWED_GITHUB_USERS gets a 403 page and no
// code; a user who denies consent sends the client access_denied with state and iss.
func TestLoginRefusals(t *testing.T) {
	ctx := testContext(t)
	mcpURL := stack.MCPURL("everything")
	authURL := func(t *testing.T, state string) string {
		t.Helper()
		clientID := registerPublicClient(t, ctx, sdkRedirectURI)
		return authorizeURL(clientID, sdkRedirectURI, state, mcpURL)
	}
	t.Run("not on the allow-list", func(t *testing.T) {
		github.LoginAs(mallory)
		defer github.LoginAs(alice)
		loc, err := newBrowser(t).Authorize(ctx, authURL(t, "st-mallory"), sdkRedirectURI)
		if err == nil {
			t.Fatalf("mallory was redirected back to the client: %s", loc)
		}
		if !errors.Is(err, errNoRedirect) || !strings.Contains(err.Error(), "answered 403") {
			t.Errorf("mallory's login ended with %v, want a 403 page", err)
		}
	})
	t.Run("consent denied", func(t *testing.T) {
		github.LoginAs(alice)
		b := newBrowser(t)
		b.Decision = "deny"
		loc, err := b.Authorize(ctx, authURL(t, "st-deny"), sdkRedirectURI)
		if err != nil {
			t.Fatal(err)
		}
		q := loc.Query()
		if q.Get("error") != "access_denied" || q.Get("state") != "st-deny" || q.Get("iss") != stack.Issuer || q.Get("code") != "" {
			t.Errorf("deny redirect %s: want error=access_denied, state, iss and no code", loc)
		}
	})
}
