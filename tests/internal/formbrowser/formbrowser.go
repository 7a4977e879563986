// Package formbrowser is the human of the tests' OAuth flows: it follows redirects,
// signs in at the GitHub stand-in and answers authsvc's consent page as a browser would,
// without JavaScript (pages that need it are tested in headless Chromium).
package formbrowser

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/auth"
)

// Browser is the human in the flows: an HTTP client with a cookie jar that follows
// redirects itself, signs in at the GitHub stand-in and submits authsvc's consent form
// the way a browser would (parsed from the HTML, hidden CSRF fields included).
type Browser struct {
	client *http.Client
	// Decision is the consent button to press: "approve" (the default) or "deny".
	Decision string
}

// New returns a browser with an empty cookie jar that talks through transport (nil: a
// transport without proxy).
func New(transport http.RoundTripper) *Browser {
	if transport == nil {
		transport = &http.Transport{Proxy: nil}
	}
	jar, _ := cookiejar.New(nil) // never fails without options
	return &Browser{
		client: &http.Client{
			Jar:       jar,
			Transport: transport,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		Decision: "approve",
	}
}

// SDKCode walks authURL to redirectURI for the official Go SDK's OAuth handler (its
// AuthorizationCodeFetcher) and returns the code, state and iss the redirect carries,
// or the authorization error it carries instead.
func (b *Browser) SDKCode(ctx context.Context, authURL, redirectURI string) (*auth.AuthorizationResult, error) {
	loc, err := b.Authorize(ctx, authURL, redirectURI)
	if err != nil {
		return nil, err
	}
	q := loc.Query()
	if e := q.Get("error"); e != "" {
		return nil, fmt.Errorf("authorization error %s: %s", e, q.Get("error_description"))
	}
	return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
}

// ErrNoRedirect is returned when the flow ends on a page instead of redirecting back.
var ErrNoRedirect = errors.New("the flow did not redirect back to the client")

// Authorize opens authURL and walks the redirects, the stand-in's login and the
// consent page until a redirect leaves for redirectPrefix (the client's redirect URI),
// which it does not follow; it returns that redirect's URL.
func (b *Browser) Authorize(ctx context.Context, authURL, redirectPrefix string) (*url.URL, error) {
	return b.AuthorizeUntil(ctx, authURL, func(u *url.URL) bool { return strings.HasPrefix(u.String(), redirectPrefix) })
}

// AuthorizeUntil is Authorize with the stop condition as a function.
func (b *Browser) AuthorizeUntil(ctx context.Context, authURL string, stop func(*url.URL) bool) (*url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return nil, err
	}
	for step := 0; step < 20; step++ {
		resp, err := b.client.Do(req)
		if err != nil {
			return nil, err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			loc, err := req.URL.Parse(resp.Header.Get("Location"))
			if err != nil {
				return nil, fmt.Errorf("bad Location %q: %w", resp.Header.Get("Location"), err)
			}
			if stop(loc) {
				return loc, nil
			}
			req, err = http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
			if err != nil {
				return nil, err
			}
		case resp.StatusCode == http.StatusOK && strings.Contains(string(body), "<form"):
			f, err := parseForm(string(body), b.Decision)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", req.URL, err)
			}
			action, err := req.URL.Parse(f.action)
			if err != nil {
				return nil, err
			}
			next, err := http.NewRequestWithContext(ctx, http.MethodPost, action.String(), strings.NewReader(f.values.Encode()))
			if err != nil {
				return nil, err
			}
			next.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			next.Header.Set("Origin", req.URL.Scheme+"://"+req.URL.Host)
			next.Header.Set("Referer", req.URL.String())
			req = next
		default:
			return nil, fmt.Errorf("%w: %s %s answered %d: %.300s", ErrNoRedirect, req.Method, req.URL, resp.StatusCode, body)
		}
	}
	return nil, fmt.Errorf("%w: more than 20 steps", ErrNoRedirect)
}

// Follow is like Authorize but follows the final redirect too (to a client that
// listens on its redirect URI, such as mcp-client-token).
func (b *Browser) Follow(ctx context.Context, authURL string) error {
	loc, err := b.AuthorizeUntil(ctx, authURL, func(u *url.URL) bool {
		return u.Hostname() == "127.0.0.1" && u.Path == "/callback" // not the stand-in's pages
	})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
	if err != nil {
		return err
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

type form struct {
	action string
	values url.Values
}

var (
	formRE   = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	inputRE  = regexp.MustCompile(`(?is)<input\b([^>]*)>`)
	buttonRE = regexp.MustCompile(`(?is)<button\b([^>]*)>`)
	attrRE   = regexp.MustCompile(`(?s)([a-zA-Z_:-]+)\s*=\s*"([^"]*)"`)
)

func attrs(s string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRE.FindAllStringSubmatch(s, -1) {
		m[strings.ToLower(a[1])] = html.UnescapeString(a[2])
	}
	return m
}

// parseForm finds the form with a submit button whose value is decision and returns
// what pressing that button submits: every named input plus the button's own value.
func parseForm(page, decision string) (*form, error) {
	for _, fm := range formRE.FindAllStringSubmatch(page, -1) {
		fa := attrs(fm[1])
		if m := strings.ToLower(fa["method"]); m != "" && m != "post" {
			continue
		}
		var button map[string]string
		for _, bm := range buttonRE.FindAllStringSubmatch(fm[2], -1) {
			ba := attrs(bm[1])
			if strings.EqualFold(ba["value"], decision) || strings.EqualFold(ba["id"], decision) {
				button = ba
				break
			}
		}
		if button == nil {
			continue
		}
		f := &form{action: fa["action"], values: url.Values{}}
		for _, im := range inputRE.FindAllStringSubmatch(fm[2], -1) {
			ia := attrs(im[1])
			if ia["name"] == "" {
				continue
			}
			switch strings.ToLower(ia["type"]) {
			case "submit", "button", "image", "reset", "file":
				continue
			case "checkbox", "radio":
				if _, checked := ia["checked"]; !checked {
					continue
				}
			}
			f.values.Add(ia["name"], ia["value"])
		}
		if button["name"] != "" {
			f.values.Set(button["name"], button["value"])
		}
		return f, nil
	}
	return nil, fmt.Errorf("no form with a %q button in the page: %.500s", decision, page)
}
