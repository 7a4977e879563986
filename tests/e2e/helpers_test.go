package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"

	"github.com/mcp-oauth-gateway/gateway/internal/githubstub"
	"github.com/mcp-oauth-gateway/gateway/internal/mcpclient"
)

// httpClient talks to loopback directly, whatever HTTP_PROXY says.
var httpClient = &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 60 * time.Second}

// noRedirect does not follow redirects, to look at them.
var noRedirect = &http.Client{
	Transport:     &http.Transport{Proxy: nil},
	Timeout:       60 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// sdkRedirectURI is the redirect URI the SDK clients register. Nothing listens there:
// the test browser stops at the redirect and hands code and state to the SDK.
const sdkRedirectURI = "http://127.0.0.1:9/callback"

// sdkOAuth is the official Go SDK's OAuth client (auth.AuthorizationCodeHandler)
// with the test browser as the human.
type sdkOAuth struct {
	handler *auth.AuthorizationCodeHandler
	// authURLs are the authorization URLs the SDK asked the human to open.
	mu       sync.Mutex
	authURLs []string
	// away makes the human refuse to log in again (to see a refused call fail).
	away atomic.Bool
}

func newSDKOAuth(t *testing.T, user githubstub.User) *sdkOAuth {
	t.Helper()
	return newSDKOAuthLogin(t, func() { github.LoginAs(user) })
}

// newSDKOAuthLogin is newSDKOAuth with the stand-in's user chosen by login (nil: the
// stand-in's default user).
func newSDKOAuthLogin(t *testing.T, login func()) *sdkOAuth {
	t.Helper()
	o := &sdkOAuth{}
	h, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		DynamicClientRegistrationConfig: &auth.DynamicClientRegistrationConfig{
			Metadata: &oauthex.ClientRegistrationMetadata{
				ClientName:              "e2e Go SDK client",
				RedirectURIs:            []string{sdkRedirectURI},
				GrantTypes:              []string{"authorization_code", "refresh_token"},
				ResponseTypes:           []string{"code"},
				TokenEndpointAuthMethod: "none",
			},
		},
		AuthorizationCodeFetcher: func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
			if o.away.Load() {
				return nil, errors.New("the human is away: no new login")
			}
			o.mu.Lock()
			o.authURLs = append(o.authURLs, args.URL)
			o.mu.Unlock()
			if login != nil {
				login()
			}
			return newBrowser(t).SDKCode(ctx, args.URL, sdkRedirectURI)
		},
		RequestRefreshToken: true,
		Client:              httpClient,
	})
	if err != nil {
		t.Fatal(err)
	}
	o.handler = h
	return o
}

func (o *sdkOAuth) logins() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.authURLs)
}

// token returns the SDK's current token.
func (o *sdkOAuth) token(t *testing.T) *oauth2.Token {
	t.Helper()
	ts, err := o.handler.TokenSource(context.Background())
	if err != nil || ts == nil {
		t.Fatalf("SDK has no token source: %v", err)
	}
	tok, err := ts.Token()
	if err != nil {
		t.Fatalf("SDK token: %v", err)
	}
	return tok
}

// connectSDK connects the official SDK client to an MCP URL through Traefik.
func connectSDK(t *testing.T, ctx context.Context, mcpURL string, o *sdkOAuth) *mcp.ClientSession {
	t.Helper()
	return connectSDKWith(t, ctx, mcpURL, o, nil)
}

// connectSDKWith is connectSDK with client options (handlers for server requests
// and notifications).
func connectSDKWith(t *testing.T, ctx context.Context, mcpURL string, o *sdkOAuth, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	tr := &mcp.StreamableClientTransport{Endpoint: mcpURL, HTTPClient: httpClient, OAuthHandler: o.handler}
	c := mcp.NewClient(&mcp.Implementation{Name: "mcp-oauth-gateway-e2e", Version: "1.0.0"}, opts)
	s, err := c.Connect(ctx, tr, nil)
	if err != nil {
		t.Fatalf("SDK connect to %s: %v", mcpURL, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// toolCall is one cheap, deterministic tool call per official server and a piece of
// text its answer must contain.
type toolCall struct {
	name string
	args map[string]any
	want func() string
}

func serverCalls() map[string]toolCall {
	return map[string]toolCall{
		"everything": {"echo", map[string]any{"message": "hello through the gateway"}, func() string { return "hello through the gateway" }},
		"memory":     {"read_graph", map[string]any{}, func() string { return "entities" }},
		"filesystem": {"list_allowed_directories", map[string]any{}, func() string { return "files" }},
	}
}

func callText(t *testing.T, ctx context.Context, s *mcp.ClientSession, name string, args map[string]any) string {
	t.Helper()
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("tools/call %s: %v", name, err)
	}
	if res.IsError {
		t.Fatalf("tools/call %s returned a tool error: %+v", name, res.Content)
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// claims decodes a JWT's payload without verifying it (the gateway verifies; tests
// only read).
func claims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("access token is not a JWT: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	return m
}

// userToken runs the gateway's own client flow (mcp-client-token's) for user and
// the given MCP URLs, with the test browser following every step.
func userToken(t *testing.T, ctx context.Context, user githubstub.User, resources ...string) *mcpclient.Result {
	t.Helper()
	github.LoginAs(user)
	b := newBrowser(t)
	browserErr := make(chan error, 1)
	res, err := mcpclient.Authorize(ctx, mcpclient.Options{
		Issuer:     stack.Issuer,
		Resources:  resources,
		ClientName: "e2e " + user.Login,
		HTTPClient: httpClient,
		OpenBrowser: func(ctx context.Context, u string) error {
			go func() { browserErr <- b.Follow(ctx, u) }()
			return nil
		},
		Timeout: 20 * time.Second,
	})
	if err != nil {
		select {
		case berr := <-browserErr:
			t.Fatalf("token flow for %s: %v (browser: %v)", user.Login, err, berr)
		default:
			t.Fatalf("token flow for %s: %v", user.Login, err)
		}
	}
	return res
}

// mcpRequest sends one raw JSON-RPC message to an MCP URL with an optional bearer
// token and session, and returns the response with its body read.
func mcpRequest(t *testing.T, ctx context.Context, method, u, token, session, body string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	return mcpRequestVia(t, ctx, noRedirect, method, u, token, session, body, hdr)
}

// mcpRequestVia is mcpRequest with another HTTP client.
func mcpRequestVia(t *testing.T, ctx context.Context, client *http.Client, method, u, token, session, body string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-06-18")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, string(b)
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e-raw","version":"1"}}}`

// initSession opens a raw MCP session with token and returns its id.
func initSession(t *testing.T, ctx context.Context, mcpURL, token string, hdr http.Header) string {
	t.Helper()
	resp, body := mcpRequest(t, ctx, http.MethodPost, mcpURL, token, "", initializeBody, hdr)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("initialize: status %d, want 200: %s", resp.StatusCode, body)
	}
	sid := resp.Header.Get("Mcp-Session-Id")
	if sid == "" {
		t.Fatalf("initialize: no Mcp-Session-Id")
	}
	resp, body = mcpRequest(t, ctx, http.MethodPost, mcpURL, token, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("notifications/initialized: status %d, want 202: %s", resp.StatusCode, body)
	}
	return sid
}

const toolsListBody = `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`

// postForm posts a form and decodes a JSON answer.
func postForm(t *testing.T, ctx context.Context, u string, form url.Values) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return doJSON(t, req)
}

func doJSON(t *testing.T, req *http.Request) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var m map[string]any
	if len(bytes.TrimSpace(b)) > 0 {
		_ = json.Unmarshal(b, &m)
	}
	return resp, m
}

func getJSON(t *testing.T, ctx context.Context, u string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return doJSON(t, req)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	last := ""
	for {
		ok, detail := cond()
		if ok {
			return
		}
		last = detail
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (last: %s)", what, within, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func contextWithClient(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, httpClient)
}

func toolParams(name string, args map[string]any) *mcp.CallToolParams {
	return &mcp.CallToolParams{Name: name, Arguments: args}
}

// refreshWith trades a refresh token at the gateway's token endpoint.
func refreshWith(ctx context.Context, clientID, refreshToken string) (*oauth2.Token, error) {
	return refreshWithIssuer(ctx, stack.Issuer, clientID, refreshToken)
}

// refreshWithIssuer spends a refresh token at issuer's token endpoint.
func refreshWithIssuer(ctx context.Context, issuer, clientID, refreshToken string) (*oauth2.Token, error) {
	cfg := &oauth2.Config{ClientID: clientID, Endpoint: oauth2.Endpoint{TokenURL: issuer + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	return cfg.TokenSource(contextWithClient(ctx), &oauth2.Token{RefreshToken: refreshToken}).Token()
}

// registerPublicClient registers a public client through Traefik and returns its id.
func registerPublicClient(t *testing.T, ctx context.Context, redirectURI string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"client_name": "e2e raw client", "redirect_uris": []string{redirectURI},
		"grant_types": []string{"authorization_code", "refresh_token"}, "token_endpoint_auth_method": "none",
	})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, stack.Issuer+"/register", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, m := doJSON(t, req)
	id, _ := m["client_id"].(string)
	if resp.StatusCode != http.StatusCreated || id == "" {
		t.Fatalf("register: %d %v", resp.StatusCode, m)
	}
	return id
}

// authorizeURL builds an authorization request with a fixed PKCE challenge.
func authorizeURL(clientID, redirectURI, state, resource string) string {
	return stack.Issuer + "/authorize?" + url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirectURI},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"},
		"state": {state}, "resource": {resource},
	}.Encode()
}

// rpcAnswer returns the JSON-RPC response a POST got: the body itself for
// application/json, or the response message inside a text/event-stream. If the
// stream ended before the response (a server may close it after an event id and let
// the client resume, MCP Streamable HTTP "Resumability"), it resumes with GET and
// Last-Event-ID, as a client must.
func rpcAnswer(t *testing.T, ctx context.Context, resp *http.Response, body, mcpURL, token, session string) string {
	t.Helper()
	return rpcAnswerVia(t, ctx, noRedirect, resp, body, mcpURL, token, session)
}

// rpcAnswerVia is rpcAnswer with another HTTP client.
func rpcAnswerVia(t *testing.T, ctx context.Context, client *http.Client, resp *http.Response, body, mcpURL, token, session string) string {
	t.Helper()
	for attempt := 0; attempt < 5; attempt++ {
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			return body
		}
		lastID := ""
		for _, event := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n\n") {
			var data []string
			for _, line := range strings.Split(event, "\n") {
				switch {
				case strings.HasPrefix(line, "id:"):
					lastID = strings.TrimSpace(strings.TrimPrefix(line, "id:"))
				case strings.HasPrefix(line, "data:"):
					data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
				}
			}
			msg := strings.Join(data, "\n")
			var m map[string]any
			if json.Unmarshal([]byte(msg), &m) == nil && m["id"] != nil && (m["result"] != nil || m["error"] != nil) {
				return msg
			}
		}
		if lastID == "" {
			break
		}
		resp, body = mcpRequestVia(t, ctx, client, http.MethodGet, mcpURL, token, session, "", http.Header{"Last-Event-Id": {lastID}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("resuming the stream after event %s: %d %.200s", lastID, resp.StatusCode, body)
		}
	}
	t.Fatalf("no JSON-RPC response in the answer: %.300s", body)
	return ""
}
