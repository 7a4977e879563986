package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestSDKFlowEveryServer: the official Go SDK client, with its own OAuth support,
// connects to each MCP service through Traefik: 401 → protected-resource metadata →
// authorization server metadata → dynamic registration → authorize → GitHub
// stand-in login → consent → code → token (PKCE) → tools/list and tools/call.
func TestSDKFlowEveryServer(t *testing.T) {
	ctx := testContext(t)
	for name, call := range serverCalls() {
		t.Run(name, func(t *testing.T) {
			mcpURL := stack.MCPURL(name)
			o := newSDKOAuth(t, alice)
			s := connectSDK(t, ctx, mcpURL, o)
			if got := o.logins(); got != 1 {
				t.Fatalf("SDK ran %d authorization flows, want 1", got)
			}
			au, err := url.Parse(o.authURLs[0])
			if err != nil {
				t.Fatal(err)
			}
			q := au.Query()
			if !strings.HasPrefix(au.String(), stack.Issuer+"/authorize?") || q.Get("code_challenge_method") != "S256" || q.Get("resource") != mcpURL {
				t.Errorf("authorization URL %s: want %s/authorize with S256 PKCE and resource=%s", au, stack.Issuer, mcpURL)
			}
			tools, err := s.ListTools(ctx, nil)
			if err != nil {
				t.Fatalf("tools/list: %v", err)
			}
			found := false
			for _, tool := range tools.Tools {
				found = found || tool.Name == call.name
			}
			if !found {
				t.Fatalf("tools/list has no %s among %d tools", call.name, len(tools.Tools))
			}
			if got := callText(t, ctx, s, call.name, call.args); !strings.Contains(got, call.want()) {
				t.Errorf("tools/call %s = %q, want it to contain %q", call.name, got, call.want())
			}
			tok := o.token(t)
			c := claims(t, tok.AccessToken)
			if c["iss"] != stack.Issuer || c["login"] != alice.Login || c["sub"] != "1001" {
				t.Errorf("token claims iss=%v login=%v sub=%v, want %s alice 1001", c["iss"], c["login"], c["sub"], stack.Issuer)
			}
			if aud, _ := c["aud"].([]any); len(aud) != 1 || aud[0] != mcpURL {
				t.Errorf("token aud = %v, want [%s]", c["aud"], mcpURL)
			}
		})
	}
}

// TestSDKRefreshRevoke: after the SDK's flow, the refresh token rotates, the new
// access token works, and once revoked (RFC 7009) the next call is refused at the
// edge within the revocation interval, with no new login.
func TestSDKRefreshRevoke(t *testing.T) {
	ctx := testContext(t)
	mcpURL := stack.MCPURL("everything")
	o := newSDKOAuth(t, alice)
	s := connectSDK(t, ctx, mcpURL, o)
	callText(t, ctx, s, "echo", map[string]any{"message": "before refresh"})

	first := o.token(t)
	clientID, _ := claims(t, first.AccessToken)["client_id"].(string)
	if clientID == "" || first.RefreshToken == "" {
		t.Fatalf("want a client_id claim and a refresh token, got %q / %q", clientID, first.RefreshToken)
	}
	cfg := &oauth2.Config{ClientID: clientID, Endpoint: oauth2.Endpoint{TokenURL: stack.Issuer + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	rctx := contextWithClient(ctx)
	refreshed, err := cfg.TokenSource(rctx, &oauth2.Token{RefreshToken: first.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if refreshed.AccessToken == first.AccessToken || refreshed.RefreshToken == "" || refreshed.RefreshToken == first.RefreshToken {
		t.Fatalf("refresh did not rotate: access same=%v, refresh %q → %q", refreshed.AccessToken == first.AccessToken, first.RefreshToken[:8], refreshed.RefreshToken)
	}
	if aud, _ := claims(t, refreshed.AccessToken)["aud"].([]any); len(aud) != 1 || aud[0] != mcpURL {
		t.Errorf("refreshed token aud = %v, want [%s]", aud, mcpURL)
	}
	sid := initSession(t, ctx, mcpURL, refreshed.AccessToken, nil)
	if resp, body := mcpRequest(t, ctx, http.MethodPost, mcpURL, refreshed.AccessToken, sid, toolsListBody, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("tools/list with the refreshed token: %d %s", resp.StatusCode, body)
	}

	// Revoke the access token the SDK session is using, and the refreshed one.
	for _, tok := range []string{first.AccessToken, refreshed.AccessToken} {
		resp, _ := postForm(t, ctx, stack.Issuer+"/revoke", url.Values{"token": {tok}, "client_id": {clientID}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("revoke: status %d, want 200", resp.StatusCode)
		}
	}
	eventually(t, revocationWait, "revoked access token refused at the edge", func() (bool, string) {
		resp, body := mcpRequest(t, ctx, http.MethodPost, mcpURL, refreshed.AccessToken, sid, toolsListBody, nil)
		return resp.StatusCode == http.StatusUnauthorized && strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token"),
			resp.Status + " " + body
	})
	// The SDK's own session is refused too; with the human away it cannot log in again.
	o.away.Store(true)
	if _, err := s.CallTool(ctx, toolParams("echo", map[string]any{"message": "after revoke"})); err == nil {
		t.Fatal("SDK call with a revoked token succeeded")
	}
	// The old refresh token was rotated away: using it again is refused.
	if _, err := cfg.TokenSource(rctx, &oauth2.Token{RefreshToken: first.RefreshToken}).Token(); err == nil {
		t.Error("a rotated refresh token was accepted again")
	}
}

// TestCrossServiceAudience: a token issued for one MCP service is refused by every
// other one, through the same Traefik.
func TestCrossServiceAudience(t *testing.T) {
	ctx := testContext(t)
	everything, memory := stack.MCPURL("everything"), stack.MCPURL("memory")
	tok := userToken(t, ctx, alice, everything).Token.AccessToken
	initSession(t, ctx, everything, tok, nil)
	for _, other := range []string{memory, stack.MCPURL("filesystem")} {
		resp, body := mcpRequest(t, ctx, http.MethodPost, other, tok, "", initializeBody, nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
			t.Errorf("token for %s at %s: %d %q %s, want 401 invalid_token", everything, other, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
		}
	}
}

// TestTokenForSeveralServices: `just mcp-client-token` asks for every service by
// default (one resource parameter each, RFC 8707); the token works at each of them
// and at no other.
func TestTokenForSeveralServices(t *testing.T) {
	ctx := testContext(t)
	everything, memory, filesystem := stack.MCPURL("everything"), stack.MCPURL("memory"), stack.MCPURL("filesystem")
	tok := userToken(t, ctx, alice, everything, memory).Token.AccessToken
	aud, _ := claims(t, tok)["aud"].([]any)
	if len(aud) != 2 {
		t.Errorf("token aud = %v, want both MCP URLs", aud)
	}
	initSession(t, ctx, everything, tok, nil)
	initSession(t, ctx, memory, tok, nil)
	if resp, body := mcpRequest(t, ctx, http.MethodPost, filesystem, tok, "", initializeBody, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("token for everything+memory at filesystem: %d %.200s, want 401", resp.StatusCode, body)
	}
}
