package e2e

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
	"testing"
)

// browser is the human in the flows: an HTTP client with a cookie jar that follows
// redirects itself, signs in at the GitHub stand-in and submits authsvc's consent form
// the way a browser would (parsed from the HTML, hidden CSRF fields included).
type browser struct {
	client *http.Client
	// decision is the consent button to press: "approve" or "deny".
	decision string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	return newBrowserNoT()
}

func newBrowserNoT() *browser {
	jar, _ := cookiejar.New(nil) // never fails without options
	return &browser{
		client: &http.Client{
			Jar:       jar,
			Transport: &http.Transport{Proxy: nil},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		decision: "approve",
	}
}

// errNoRedirect is returned when the flow ends on a page instead of redirecting back.
var errNoRedirect = errors.New("the flow did not redirect back to the client")

// authorize opens authURL and walks the redirects, the stand-in's login and the
// consent page until a redirect leaves for redirectPrefix (the client's redirect URI),
// which it does not follow; it returns that redirect's URL.
func (b *browser) authorize(ctx context.Context, authURL, redirectPrefix string) (*url.URL, error) {
	return b.authorizeUntil(ctx, authURL, func(u *url.URL) bool { return strings.HasPrefix(u.String(), redirectPrefix) })
}

// authorizeUntil is authorize with the stop condition as a function.
func (b *browser) authorizeUntil(ctx context.Context, authURL string, stop func(*url.URL) bool) (*url.URL, error) {
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
			f, err := parseForm(string(body), b.decision)
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
			return nil, fmt.Errorf("%w: %s %s answered %d: %.300s", errNoRedirect, req.Method, req.URL, resp.StatusCode, body)
		}
	}
	return nil, fmt.Errorf("%w: more than 20 steps", errNoRedirect)
}

// follow is like authorize but follows the final redirect too (to a client that
// listens on its redirect URI, such as mcp-client-token).
func (b *browser) follow(ctx context.Context, authURL string) error {
	loc, err := b.authorizeUntil(ctx, authURL, func(u *url.URL) bool {
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

func TestParseForm(t *testing.T) {
	page := `<html><form method="get" action="/search"><button value="approve">x</button></form>
<form method="post" action="/consent">
<input type="hidden" name="consent_id" value="c&amp;1">
<input type="hidden" name="csrf_token" value="tok">
<input type="checkbox" name="remember" value="yes">
<button id="approve" type="submit" name="decision" value="approve">Approve</button>
<button id="deny" type="submit" name="decision" value="deny">Deny</button>
</form></html>`
	tests := []struct {
		decision string
		want     string
	}{
		{"approve", "consent_id=c%261&csrf_token=tok&decision=approve"},
		{"deny", "consent_id=c%261&csrf_token=tok&decision=deny"},
	}
	for _, tc := range tests {
		t.Run(tc.decision, func(t *testing.T) {
			f, err := parseForm(page, tc.decision)
			if err != nil {
				t.Fatal(err)
			}
			if f.action != "/consent" || f.values.Encode() != tc.want {
				t.Errorf("form = %s %s, want /consent %s", f.action, f.values.Encode(), tc.want)
			}
		})
	}
	if _, err := parseForm(page, "other"); err == nil {
		t.Error("parseForm found a button that does not exist")
	}
}
