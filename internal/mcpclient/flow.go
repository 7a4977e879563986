// Package mcpclient is the gateway's own OAuth client for people at a terminal
// (`just mcp-client-token`): it registers a public client (RFC 7591), sends the
// browser through the authorization server's GitHub login and consent, catches the
// redirect on a loopback port (RFC 8252), checks state and iss, and exchanges the
// code with PKCE. It also renders ready-to-paste client configurations
// (`just mcp-config`).
package mcpclient

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Errors of [Authorize].
var (
	ErrUnsafeURL     = errors.New("mcpclient: refusing to open a URL that is neither https nor loopback http")
	ErrStateMismatch = errors.New("mcpclient: state mismatch in the redirect (possible CSRF)")
	ErrIssuer        = errors.New("mcpclient: issuer mismatch")
	ErrDenied        = errors.New("mcpclient: authorization refused")
	ErrMetadata      = errors.New("mcpclient: bad authorization server metadata")
)

// Options configure [Authorize].
type Options struct {
	// Issuer is the authorization server's issuer URL; its RFC 8414 metadata is read
	// from Issuer/.well-known/oauth-authorization-server.
	Issuer string
	// Resources are the MCP URLs the token is for (RFC 8707 `resource`); they become
	// the token's audience.
	Resources []string
	// Scope is the space-separated scope to ask for; empty asks for none.
	Scope string
	// ClientName is shown on the consent page.
	ClientName string
	// OpenBrowser sends the user to the authorization URL; nil uses [OpenURL].
	// It receives only URLs that passed [SafeToOpen].
	OpenBrowser func(ctx context.Context, u string) error
	// HTTPClient talks to the authorization server; nil uses a client without proxy.
	HTTPClient *http.Client
	// Out receives the authorization URL and progress; nil discards them.
	Out io.Writer
	// Timeout bounds the wait for the human (default 5 minutes).
	Timeout time.Duration
}

// Result is what the flow obtained.
type Result struct {
	ClientID                string
	RegistrationAccessToken string
	RegistrationClientURI   string
	Token                   *oauth2.Token
}

// Metadata is the part of RFC 8414 authorization server metadata the flow uses.
type Metadata struct {
	Issuer                        string   `json:"issuer"`
	AuthorizationEndpoint         string   `json:"authorization_endpoint"`
	TokenEndpoint                 string   `json:"token_endpoint"`
	RegistrationEndpoint          string   `json:"registration_endpoint"`
	CodeChallengeMethodsSupported []string `json:"code_challenge_methods_supported"`
	IssParameterSupported         bool     `json:"authorization_response_iss_parameter_supported"`
}

// Authorize runs the whole flow and returns the tokens.
func Authorize(ctx context.Context, opts Options) (*Result, error) {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 30 * time.Second}
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.OpenBrowser == nil {
		opts.OpenBrowser = OpenURL
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	if opts.ClientName == "" {
		opts.ClientName = "mcp-client-token"
	}
	md, err := FetchMetadata(ctx, opts.HTTPClient, opts.Issuer)
	if err != nil {
		return nil, err
	}

	// RFC 8252 §7.3: a loopback IP literal, any free port, registered as is.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("mcpclient: listen for the redirect: %w", err)
	}
	defer ln.Close()
	redirectURI := fmt.Sprintf("http://%s/callback", ln.Addr())

	reg, err := register(ctx, opts.HTTPClient, md.RegistrationEndpoint, opts.ClientName, redirectURI)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(opts.Out, "registered client %s\n", reg.ClientID)

	cfg := &oauth2.Config{
		ClientID:    reg.ClientID,
		Endpoint:    oauth2.Endpoint{AuthURL: md.AuthorizationEndpoint, TokenURL: md.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: redirectURI,
	}
	if opts.Scope != "" {
		cfg.Scopes = strings.Fields(opts.Scope)
	}
	verifier := oauth2.GenerateVerifier()
	state := oauth2.GenerateVerifier() // 32 random bytes, base64url
	authURL := withResources(cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), opts.Resources)
	if err := SafeToOpen(authURL); err != nil {
		return nil, err
	}

	results := make(chan callbackResult, 1)
	srv := &http.Server{Handler: callbackHandler(state, md.Issuer, md.IssParameterSupported, results), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	fmt.Fprintf(opts.Out, "\nOpen this URL to log in and approve the client:\n\n  %s\n\n", authURL)
	if err := opts.OpenBrowser(ctx, authURL); err != nil {
		fmt.Fprintf(opts.Out, "No browser could be opened (%v): open the URL above yourself, on this machine.\n", err)
	} else {
		fmt.Fprintln(opts.Out, "Opened it in your browser.")
	}

	wctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	var res callbackResult
	select {
	case res = <-results:
	case <-wctx.Done():
		return nil, fmt.Errorf("mcpclient: no redirect arrived: %w", wctx.Err())
	}
	if res.err != nil {
		return nil, res.err
	}

	xctx := context.WithValue(ctx, oauth2.HTTPClient, opts.HTTPClient)
	tok, err := cfg.Exchange(xctx, res.code, exchangeOptions(verifier, opts.Resources)...)
	if err != nil {
		return nil, fmt.Errorf("mcpclient: token exchange: %w", err)
	}
	return &Result{
		ClientID:                reg.ClientID,
		RegistrationAccessToken: reg.RegistrationAccessToken,
		RegistrationClientURI:   reg.RegistrationClientURI,
		Token:                   tok,
	}, nil
}

func exchangeOptions(verifier string, resources []string) []oauth2.AuthCodeOption {
	opts := []oauth2.AuthCodeOption{oauth2.VerifierOption(verifier)}
	// x/oauth2 sets one value per parameter; one resource is the common case.
	if len(resources) == 1 {
		opts = append(opts, oauth2.SetAuthURLParam("resource", resources[0]))
	}
	return opts
}

// withResources appends one `resource` parameter per MCP URL (RFC 8707 allows
// several; x/oauth2 can set only one value per parameter).
func withResources(authURL string, resources []string) string {
	if len(resources) == 0 {
		return authURL
	}
	q := url.Values{"resource": resources}
	return authURL + "&" + q.Encode()
}

// FetchMetadata reads and checks RFC 8414 metadata: the issuer must be exactly the
// one asked for, PKCE S256 must be supported, and the endpoints must be safe URLs.
func FetchMetadata(ctx context.Context, c *http.Client, issuer string) (*Metadata, error) {
	issuer = strings.TrimSuffix(issuer, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, issuer+"/.well-known/oauth-authorization-server", nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMetadata, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mcpclient: fetch metadata: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s answered %d", ErrMetadata, req.URL, resp.StatusCode)
	}
	var md Metadata
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&md); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMetadata, err)
	}
	if md.Issuer != issuer {
		return nil, fmt.Errorf("%w: metadata issuer %q, expected %q", ErrIssuer, md.Issuer, issuer)
	}
	s256 := false
	for _, m := range md.CodeChallengeMethodsSupported {
		s256 = s256 || m == "S256"
	}
	if !s256 {
		return nil, fmt.Errorf("%w: S256 PKCE not supported", ErrMetadata)
	}
	for _, u := range []string{md.AuthorizationEndpoint, md.TokenEndpoint, md.RegistrationEndpoint} {
		if err := SafeToOpen(u); err != nil {
			return nil, fmt.Errorf("%w: endpoint %q: %v", ErrMetadata, u, err)
		}
	}
	return &md, nil
}

type registration struct {
	ClientID                string `json:"client_id"`
	RegistrationAccessToken string `json:"registration_access_token"`
	RegistrationClientURI   string `json:"registration_client_uri"`
}

// register creates a public native client (RFC 7591) with one loopback redirect.
func register(ctx context.Context, c *http.Client, endpoint, name, redirectURI string) (*registration, error) {
	body, _ := json.Marshal(map[string]any{
		"client_name":                name,
		"redirect_uris":              []string{redirectURI},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": "none",
		"application_type":           "native",
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("mcpclient: register: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mcpclient: register: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		return nil, fmt.Errorf("mcpclient: register: status %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	var reg registration
	if err := json.Unmarshal(b, &reg); err != nil || reg.ClientID == "" {
		return nil, fmt.Errorf("mcpclient: register: bad response %q", b)
	}
	return &reg, nil
}

type callbackResult struct {
	code string
	err  error
}

// callbackHandler accepts exactly one redirect on /callback: state must match
// (compared in constant time) and iss, when the server sends it (RFC 9207), must be
// the issuer.
func callbackHandler(state, issuer string, issRequired bool, out chan<- callbackResult) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/callback", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		res := checkCallback(q, state, issuer, issRequired)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if res.err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, "<!DOCTYPE html><title>Authorization failed</title><h1>Authorization failed</h1><p>%s</p><p>Return to the terminal.</p>", html.EscapeString(res.err.Error()))
		} else {
			fmt.Fprint(w, "<!DOCTYPE html><title>Authorized</title><h1>Authorized</h1><p>You can close this window and return to the terminal.</p>")
		}
		select {
		case out <- res:
		default: // a second redirect is ignored
		}
	})
	return mux
}

func checkCallback(q url.Values, state, issuer string, issRequired bool) callbackResult {
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
		return callbackResult{err: ErrStateMismatch}
	}
	if iss := q.Get("iss"); iss != issuer && (iss != "" || issRequired) {
		return callbackResult{err: fmt.Errorf("%w: redirect iss %q, expected %q", ErrIssuer, iss, issuer)}
	}
	if e := q.Get("error"); e != "" {
		return callbackResult{err: fmt.Errorf("%w: %s: %s", ErrDenied, e, q.Get("error_description"))}
	}
	code := q.Get("code")
	if code == "" {
		return callbackResult{err: fmt.Errorf("%w: the redirect carries no code", ErrDenied)}
	}
	return callbackResult{code: code}
}

// Refresh exchanges a refresh token for new tokens (the refresh token rotates) at the
// token endpoint of issuer's metadata, as the public client clientID.
func Refresh(ctx context.Context, c *http.Client, issuer, clientID, refreshToken string) (*oauth2.Token, error) {
	if c == nil {
		c = &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 30 * time.Second}
	}
	if clientID == "" || refreshToken == "" {
		return nil, errors.New("mcpclient: refresh needs a client id and a refresh token (run `just mcp-client-token` first)")
	}
	md, err := FetchMetadata(ctx, c, issuer)
	if err != nil {
		return nil, err
	}
	cfg := &oauth2.Config{ClientID: clientID, Endpoint: oauth2.Endpoint{TokenURL: md.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams}}
	tok, err := cfg.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, c), &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return nil, fmt.Errorf("mcpclient: refresh: %w", err)
	}
	return tok, nil
}
