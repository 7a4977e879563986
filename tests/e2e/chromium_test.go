package e2e

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/mcp-oauth-gateway/gateway/tests/internal/browsertest"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// TestChromiumFlow is the SDK flow with a real headless Chromium as the human's
// browser: the GitHub stand-in's login page and authsvc's consent page are clicked
// through, and Chromium lands on the client's loopback redirect URI.
func TestChromiumFlow(t *testing.T) {
	ctx := testContext(t)
	mcpURL := stack.MCPURL("everything")

	// The client's redirect listener, as a native app would run it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	redirectURI := "http://" + ln.Addr().String() + "/callback"
	got := make(chan *http.Request, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/callback" {
			select {
			case got <- r:
			default:
			}
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<!DOCTYPE html><title>done</title><p id=done>You can close this window.</p>"))
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	bctx := browsertest.New(t, ctx)

	github.SetLoginPage(true)
	defer github.SetLoginPage(false)
	github.LoginAs(alice)

	var pages []string
	h, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		DynamicClientRegistrationConfig: &auth.DynamicClientRegistrationConfig{
			Metadata: &oauthex.ClientRegistrationMetadata{
				ClientName:              "e2e Chromium client",
				RedirectURIs:            []string{redirectURI},
				GrantTypes:              []string{"authorization_code", "refresh_token"},
				TokenEndpointAuthMethod: "none",
			},
		},
		Client: httpClient,
		AuthorizationCodeFetcher: func(fctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
			tctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
			defer cancel()
			if err := chromedp.Do(tctx, chromedp.Navigate(args.URL), chromedp.WaitVisible(chromedp.ID("authorize"))); err != nil {
				return nil, err
			}
			loginTitle, err := chromedp.Run(tctx, chromedp.Title())
			if err != nil {
				return nil, err
			}
			if err := chromedp.Do(tctx, chromedp.Click(chromedp.ID("authorize")), chromedp.WaitVisible(chromedp.ID("approve"))); err != nil {
				return nil, err
			}
			consentText, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("body")))
			if err != nil {
				return nil, err
			}
			if err := chromedp.Do(tctx, chromedp.Click(chromedp.ID("approve"))); err != nil {
				return nil, err
			}
			pages = append(pages, loginTitle, consentText)
			select {
			case r := <-got:
				q := r.URL.Query()
				return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
			case <-tctx.Done():
				return nil, errors.New("Chromium never reached the redirect URI")
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	tr := &mcp.StreamableClientTransport{Endpoint: mcpURL, HTTPClient: httpClient, OAuthHandler: h}
	s, err := mcp.NewClient(&mcp.Implementation{Name: "e2e-chromium", Version: "1.0.0"}, nil).Connect(ctx, tr, nil)
	if err != nil {
		t.Fatalf("SDK connect with Chromium login: %v", err)
	}
	defer s.Close()
	if got := callText(t, ctx, s, "echo", map[string]any{"message": "clicked through"}); !strings.Contains(got, "clicked through") {
		t.Errorf("echo = %q", got)
	}
	if len(pages) != 2 || !strings.Contains(pages[1], "e2e Chromium client") || !strings.Contains(pages[1], "127.0.0.1") {
		t.Errorf("consent page should name the client and the redirect host; saw %q", pages)
	}
}
