package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestClaudeAISequence replays, step by step, what Claude.ai's connector does when a
// user adds the gateway's MCP URL, all through Traefik.
func TestClaudeAISequence(t *testing.T) {
	ctx := testContext(t)
	mcpURL := stack.MCPURL("everything")
	const redirectURI = "https://claude.ai/api/mcp/auth_callback"

	// 1. First contact without a token: 401 and a pointer to the resource metadata.
	resp, body := mcpRequest(t, ctx, http.MethodPost, mcpURL, "", "", initializeBody, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("1. first contact: status %d, want 401: %s", resp.StatusCode, body)
	}
	challenge := resp.Header.Get("WWW-Authenticate")
	prmURL := param(challenge, "resource_metadata")
	if !strings.HasPrefix(challenge, "Bearer ") || prmURL == "" {
		t.Fatalf("1. WWW-Authenticate = %q, want Bearer resource_metadata=...", challenge)
	}

	// 2. Protected-resource metadata (RFC 9728) on the MCP host.
	resp, prm := getJSON(t, ctx, prmURL)
	if resp.StatusCode != http.StatusOK || prm["resource"] != mcpURL {
		t.Fatalf("2. PRM %s: %d resource=%v, want 200 and %s", prmURL, resp.StatusCode, prm["resource"], mcpURL)
	}
	servers, _ := prm["authorization_servers"].([]any)
	if len(servers) != 1 || servers[0] != stack.Issuer {
		t.Fatalf("2. authorization_servers = %v, want [%s]", servers, stack.Issuer)
	}

	// 3. Authorization server metadata, asked on the MCP host (router prio 10) and on
	// the issuer: the same document.
	mcpOrigin := strings.TrimSuffix(mcpURL, "/mcp")
	resp, asm := getJSON(t, ctx, mcpOrigin+"/.well-known/oauth-authorization-server")
	if resp.StatusCode != http.StatusOK || asm["issuer"] != stack.Issuer {
		t.Fatalf("3. AS metadata on the MCP host: %d issuer=%v, want 200 and %s", resp.StatusCode, asm["issuer"], stack.Issuer)
	}
	_, asm2 := getJSON(t, ctx, stack.Issuer+"/.well-known/oauth-authorization-server")
	if asm2["registration_endpoint"] != asm["registration_endpoint"] || asm["registration_endpoint"] != stack.Issuer+"/register" {
		t.Fatalf("3. registration_endpoint %v / %v, want %s/register on both", asm["registration_endpoint"], asm2["registration_endpoint"], stack.Issuer)
	}
	if m, _ := asm["code_challenge_methods_supported"].([]any); len(m) != 1 || m[0] != "S256" {
		t.Fatalf("3. code_challenge_methods_supported = %v, want [S256]", m)
	}

	// 4. Dynamic client registration: 201, a public client.
	reg, _ := json.Marshal(map[string]any{
		"client_name":                "Claude",
		"redirect_uris":              []string{redirectURI},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": "none",
	})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, asm["registration_endpoint"].(string), bytes.NewReader(reg))
	req.Header.Set("Content-Type", "application/json")
	resp, client := doJSON(t, req)
	clientID, _ := client["client_id"].(string)
	if resp.StatusCode != http.StatusCreated || clientID == "" {
		t.Fatalf("4. registration: %d %v, want 201 with a client_id", resp.StatusCode, client)
	}

	// 5. Authorization request with PKCE S256 and the MCP URL as resource; the human
	// logs in at GitHub and approves on the consent page.
	verifier := "claude-ai-style-verifier-0123456789-abcdefghijklmnopqrstuvwxyz"
	sum := sha256.Sum256([]byte(verifier))
	state := "claude-state-" + clientID[:8]
	authURL := asm["authorization_endpoint"].(string) + "?" + url.Values{
		"response_type":         {"code"},
		"client_id":             {clientID},
		"redirect_uri":          {redirectURI},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
		"state":                 {state},
		"resource":              {mcpURL},
	}.Encode()
	github.LoginAs(alice)
	loc, err := newBrowser(t).Authorize(ctx, authURL, redirectURI)
	if err != nil {
		t.Fatalf("5. login and consent: %v", err)
	}
	q := loc.Query()
	if q.Get("state") != state || q.Get("code") == "" || q.Get("iss") != stack.Issuer {
		t.Fatalf("5. redirect %s: want code, state %q and iss %s", loc, state, stack.Issuer)
	}

	// 6. Token request with the verifier.
	resp, tok := postForm(t, ctx, asm["token_endpoint"].(string), url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {q.Get("code")},
		"redirect_uri":  {redirectURI},
		"client_id":     {clientID},
		"code_verifier": {verifier},
		"resource":      {mcpURL},
	})
	access, _ := tok["access_token"].(string)
	if resp.StatusCode != http.StatusOK || access == "" || tok["token_type"] != "Bearer" || tok["refresh_token"] == nil {
		t.Fatalf("6. token: %d %v, want 200 with a Bearer access token and a refresh token", resp.StatusCode, tok)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("6. token response Cache-Control = %q, want no-store", cc)
	}

	// 7. Streamable HTTP with a session: initialize → session id, initialized → 202,
	// tools/list and tools/call on that session.
	sid := initSession(t, ctx, mcpURL, access, nil)
	resp, body = mcpRequest(t, ctx, http.MethodPost, mcpURL, access, sid, toolsListBody, nil)
	if resp.StatusCode == http.StatusOK {
		body = rpcAnswer(t, ctx, resp, body, mcpURL, access, sid)
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"echo"`) {
		t.Fatalf("7. tools/list: %d %.300s, want 200 listing echo", resp.StatusCode, body)
	}
	resp, body = mcpRequest(t, ctx, http.MethodPost, mcpURL, access, sid,
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi from claude.ai"}}}`, nil)
	if resp.StatusCode == http.StatusOK {
		body = rpcAnswer(t, ctx, resp, body, mcpURL, access, sid)
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "hi from claude.ai") {
		t.Fatalf("7. tools/call echo: %d %.300s", resp.StatusCode, body)
	}
}

// param extracts a quoted auth-param from a WWW-Authenticate value.
func param(challenge, name string) string {
	i := strings.Index(challenge, name+`="`)
	if i < 0 {
		return ""
	}
	rest := challenge[i+len(name)+2:]
	if j := strings.IndexByte(rest, '"'); j >= 0 {
		return rest[:j]
	}
	return ""
}
