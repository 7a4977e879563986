package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHeaderSpoofing: identity headers a client sends, in any spelling, never reach
// the bridge as identity. The bridge binds a session to the X-User-Id the plugin
// injected; if a spoofed header got through, alice's session would be bound to bob
// and bob could use it.
func TestHeaderSpoofing(t *testing.T) {
	ctx := testContext(t)
	mcpURL := stack.MCPURL("everything")
	aliceTok := userToken(t, ctx, alice, mcpURL).Token.AccessToken
	bobTok := userToken(t, ctx, bob, mcpURL).Token.AccessToken

	spoofs := []struct {
		name string
		h    http.Header
	}{
		{"canonical", http.Header{"X-User-Id": {"1002"}, "X-User-Login": {"bob"}}},
		{"lower case", http.Header{"x-user-id": {"1002"}}},
		{"underscore", http.Header{"X_User_Id": {"1002"}}},
		{"duplicates", http.Header{"X-User-Id": {"1002", "1002"}}},
		{"client id", http.Header{"X-Auth-Client-Id": {"someone-else"}, "X-User-Id": {"1002"}}},
	}
	for _, tc := range spoofs {
		t.Run(tc.name, func(t *testing.T) {
			sid := initSession(t, ctx, mcpURL, aliceTok, tc.h)
			if resp, body := mcpRequest(t, ctx, http.MethodPost, mcpURL, aliceTok, sid, toolsListBody, tc.h); resp.StatusCode != http.StatusOK {
				t.Fatalf("alice on her own session: %d %s", resp.StatusCode, body)
			}
			if resp, body := mcpRequest(t, ctx, http.MethodPost, mcpURL, bobTok, sid, toolsListBody, nil); resp.StatusCode != http.StatusNotFound {
				t.Errorf("bob on alice's session (created with spoofed %v): %d %.200s, want 404", tc.h, resp.StatusCode, body)
			}
		})
	}
	t.Run("no token", func(t *testing.T) {
		resp, body := mcpRequest(t, ctx, http.MethodPost, mcpURL, "", "", initializeBody, http.Header{"X-User-Id": {"1001"}, "X-User-Login": {"alice"}})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("identity headers without a token: %d %.200s, want 401", resp.StatusCode, body)
		}
	})
}

// TestPathAndMethodTricks: every way to reach the MCP host needs a token.
func TestPathAndMethodTricks(t *testing.T) {
	ctx := testContext(t)
	mcpURL := stack.MCPURL("memory")
	origin := strings.TrimSuffix(mcpURL, "/mcp")
	tests := []struct {
		method, path string
	}{
		{http.MethodPost, "/mcp"},
		{http.MethodGet, "/mcp"},
		{http.MethodDelete, "/mcp"},
		{http.MethodHead, "/mcp"},
		{http.MethodPost, "//mcp"},
		{http.MethodPost, "/mcp/"},
		{http.MethodPost, "/MCP"},
		{http.MethodPost, "/%2e/mcp"},
		{http.MethodPost, "/./mcp"},
		{http.MethodPost, "/x/../mcp"},
		{http.MethodPost, "/%2Fmcp"},
		{http.MethodPost, "/mcp%00"},
		{http.MethodGet, "/health"},
		{http.MethodGet, "/"},
		{http.MethodPost, "/.well-known/../mcp"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, err := http.NewRequestWithContext(ctx, tc.method, origin+tc.path, strings.NewReader(initializeBody))
			if err != nil {
				t.Fatal(err)
			}
			req.URL.Opaque = "//" + req.URL.Host + tc.path // send the path exactly as written
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			// Refused at the edge: 401 from the plugin, or 400/404 from Traefik for a
			// path it will not route. Never a success from the bridge.
			switch resp.StatusCode {
			case http.StatusUnauthorized:
				if resp.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("401 without WWW-Authenticate")
				}
			case http.StatusBadRequest, http.StatusNotFound:
			default:
				t.Errorf("%s %s without a token: %d, want 401 (or 400/404 from Traefik)", tc.method, tc.path, resp.StatusCode)
			}
		})
	}
	t.Run("token in query string", func(t *testing.T) {
		tok := userToken(t, ctx, alice, mcpURL).Token.AccessToken
		resp, body := mcpRequest(t, ctx, http.MethodPost, mcpURL+"?access_token="+tok, "", "", initializeBody, nil)
		if resp.StatusCode < 400 {
			t.Errorf("token in the query string accepted: %d %.200s", resp.StatusCode, body)
		}
	})
}

// TestRegistrationRealmSeparation: RFC 7592 registration access tokens and OAuth
// access tokens never stand in for each other, through Traefik.
func TestRegistrationRealmSeparation(t *testing.T) {
	ctx := testContext(t)
	mcpURL := stack.MCPURL("everything")
	res := userToken(t, ctx, alice, mcpURL)
	if res.RegistrationAccessToken == "" || !strings.HasPrefix(res.RegistrationClientURI, stack.Issuer+"/register/") {
		t.Fatalf("registration gave token %q and URI %q", res.RegistrationAccessToken, res.RegistrationClientURI)
	}
	get := func(token string) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, res.RegistrationClientURI, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, _ := doJSON(t, req)
		return resp
	}
	if resp := get(res.RegistrationAccessToken); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET own registration with its registration token: %d, want 200", resp.StatusCode)
	}
	if resp := get(res.Token.AccessToken); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("GET registration with an OAuth access token: %d %q, want 401 invalid_token", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if resp := get(res.Token.RefreshToken); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET registration with a refresh token: %d, want 401", resp.StatusCode)
	}
	for _, tok := range []string{res.RegistrationAccessToken, res.Token.RefreshToken} {
		resp, body := mcpRequest(t, ctx, http.MethodPost, mcpURL, tok, "", initializeBody, nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("MCP with a non-access token %.8s…: %d %.200s, want 401", tok, resp.StatusCode, body)
		}
	}
	// Another client's registration token does not manage this one.
	other := userToken(t, ctx, bob, mcpURL)
	if resp := get(other.RegistrationAccessToken); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET registration with another client's registration token: %d, want 401", resp.StatusCode)
	}
	// DELETE with its own token: 204, and the client's access token dies at the edge.
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, res.RegistrationClientURI, nil)
	req.Header.Set("Authorization", "Bearer "+res.RegistrationAccessToken)
	if resp, _ := doJSON(t, req); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE registration: %d, want 204", resp.StatusCode)
	}
	eventually(t, revocationWait, "token of a deleted client refused at the edge", func() (bool, string) {
		resp, body := mcpRequest(t, ctx, http.MethodPost, mcpURL, res.Token.AccessToken, "", initializeBody, nil)
		return resp.StatusCode == http.StatusUnauthorized, resp.Status + " " + body
	})
}

// TestProtectedResourceMetadataEveryService: each MCP host describes itself.
func TestProtectedResourceMetadataEveryService(t *testing.T) {
	ctx := testContext(t)
	for _, r := range stack.Plan.Services {
		t.Run(r.Name, func(t *testing.T) {
			for _, p := range []string{"/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"} {
				resp, m := getJSON(t, ctx, r.PublicURL+p)
				sc, _ := m["scopes_supported"].([]any)
				if resp.StatusCode != http.StatusOK || m["resource"] != r.MCPURL() || len(sc) != 1 || sc[0] != "mcp" {
					b, _ := json.Marshal(m)
					t.Errorf("%s%s: %d %s, want 200 with resource %s and scopes_supported [mcp]", r.PublicURL, p, resp.StatusCode, b, r.MCPURL())
				}
			}
			// The challenge names the scope to ask for.
			resp, body := mcpRequest(t, ctx, http.MethodPost, r.MCPURL(), "", "", initializeBody, nil)
			if resp.StatusCode != http.StatusUnauthorized || param(resp.Header.Get("WWW-Authenticate"), "scope") != "mcp" {
				t.Errorf("no token: %d %q %s, want 401 with scope mcp", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
			}
		})
	}
}

// TestAccessLogKeepsNoQuery: Traefik's access log never holds a query string: a token a
// client wrongly put in the URL (refused by the plugin, but logged all the same), an
// authorization code or a state.
func TestAccessLogKeepsNoQuery(t *testing.T) {
	ctx := testContext(t)
	const marker = "QUERYSECRET0123456789"
	for _, u := range []string{
		stack.MCPURL("everything") + "?access_token=" + marker,
		stack.MCPURL("everything") + "?%61ccess_token=" + marker,
		stack.Issuer + "/callback?code=" + marker + "&state=" + marker,
	} {
		resp, _ := mcpRequest(t, ctx, http.MethodPost, u, "", "", initializeBody, nil)
		if resp.StatusCode < 400 {
			t.Errorf("POST %s: %d, want a refusal", u, resp.StatusCode)
		}
	}
	logFile := filepath.Join(stackLogDir, "traefik-access.log")
	eventually(t, 10*time.Second, "the access log has the requests", func() (bool, string) {
		data, err := os.ReadFile(logFile)
		if err != nil {
			return false, err.Error()
		}
		return strings.Count(string(data), `"RouterName"`) > 0, "no entries yet"
	})
	time.Sleep(time.Second) // Traefik writes each line after its request ends
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), marker) {
		t.Errorf("the access log %s holds a query string value", logFile)
	}
}
