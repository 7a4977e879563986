// Package github is authsvc's client for the GitHub OAuth App web flow: it builds the
// authorize URL (with PKCE S256 towards GitHub), exchanges the returned code, and reads
// the logged-in user from the REST API. Base URLs are configurable so GitHub Enterprise
// Server and GHE.com work, and tests point them at internal/githubstub.
package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Sentinel errors.
var (
	// ErrExchange means GitHub refused the code (including HTTP 200 with an error field).
	ErrExchange = errors.New("github: code exchange failed")
	// ErrUser means /user could not be read or made no sense.
	ErrUser = errors.New("github: reading the user failed")
)

// User is the GitHub account that logged in. ID is the stable numeric id as a decimal
// string (it becomes the token's sub); Login and Name may change between logins.
type User struct {
	ID    string
	Login string
	Name  string
}

// Options configure a [Client].
type Options struct {
	ClientID     string
	ClientSecret string
	// BaseURL serves /login/oauth/… (GITHUB_URL, e.g. https://github.com).
	BaseURL string
	// APIURL serves /user (GITHUB_API_URL, e.g. https://api.github.com or
	// https://ghe.example.com/api/v3).
	APIURL string
	// RedirectURL is authsvc's /callback URL.
	RedirectURL string
	// Scopes requested from GitHub; empty means none (public profile only).
	Scopes []string
	// HTTPClient is used for every call to GitHub; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
}

// Client talks to one GitHub instance. Safe for concurrent use.
type Client struct {
	cfg    oauth2.Config
	apiURL string
	http   *http.Client
}

// New validates the options and returns a client.
func New(opts Options) (*Client, error) {
	var problems []string
	if opts.ClientID == "" {
		problems = append(problems, "client id is empty")
	}
	if opts.ClientSecret == "" {
		problems = append(problems, "client secret is empty")
	}
	for name, v := range map[string]string{"base URL": opts.BaseURL, "API URL": opts.APIURL, "redirect URL": opts.RedirectURL} {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, fmt.Sprintf("%s %q is not an absolute http(s) URL", name, v))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("github: %s", strings.Join(problems, "; "))
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	base := strings.TrimRight(opts.BaseURL, "/")
	// GitHub answers the token endpoint form-encoded unless asked for JSON; x/oauth2
	// parses both but sends no Accept header, so add it on the way out.
	wrapped := *hc
	wrapped.Transport = acceptJSON{tokenURL: base + "/login/oauth/access_token", next: hc.Transport}
	hc = &wrapped
	return &Client{
		cfg: oauth2.Config{
			ClientID:     opts.ClientID,
			ClientSecret: opts.ClientSecret,
			Endpoint: oauth2.Endpoint{
				AuthURL:  base + "/login/oauth/authorize",
				TokenURL: base + "/login/oauth/access_token",
				// GitHub takes the credentials in the form; saying so avoids the
				// auto-detect retry that would spend a second request.
				AuthStyle: oauth2.AuthStyleInParams,
			},
			RedirectURL: opts.RedirectURL,
			Scopes:      opts.Scopes,
		},
		apiURL: strings.TrimRight(opts.APIURL, "/"),
		http:   hc,
	}, nil
}

// AuthCodeURL is where the browser goes to log in. verifier is the PKCE verifier kept
// server-side (its S256 challenge is sent).
func (c *Client) AuthCodeURL(state, verifier string) string {
	return c.cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("allow_signup", "false"))
}

// Login exchanges the callback's code and reads the user it belongs to.
func (c *Client) Login(ctx context.Context, code, verifier string) (User, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.http)
	tok, err := c.cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier),
		oauth2.SetAuthURLParam("redirect_uri", c.cfg.RedirectURL))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode != "" {
			return User{}, fmt.Errorf("%w: %s", ErrExchange, re.ErrorCode)
		}
		return User{}, fmt.Errorf("%w: %v", ErrExchange, err)
	}
	// x/oauth2 already fails on an error field; this guards the 200-with-error shape
	// should a future version stop doing so.
	if e, _ := tok.Extra("error").(string); e != "" || tok.AccessToken == "" {
		return User{}, fmt.Errorf("%w: %s", ErrExchange, e)
	}
	return c.user(ctx, tok.AccessToken)
}

func (c *Client) user(ctx context.Context, accessToken string) (User, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.apiURL+"/user", nil)
	if err != nil {
		return User{}, fmt.Errorf("%w: %v", ErrUser, err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	resp, err := c.http.Do(req)
	if err != nil {
		return User{}, fmt.Errorf("%w: %v", ErrUser, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return User{}, fmt.Errorf("%w: HTTP %d", ErrUser, resp.StatusCode)
	}
	var u struct {
		ID    json.Number `json:"id"`
		Login string      `json:"login"`
		Name  string      `json:"name"`
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, 1<<20))
	dec.UseNumber()
	if err := dec.Decode(&u); err != nil {
		return User{}, fmt.Errorf("%w: %v", ErrUser, err)
	}
	id, err := strconv.ParseInt(u.ID.String(), 10, 64)
	if err != nil || id <= 0 || u.Login == "" {
		return User{}, fmt.Errorf("%w: no numeric id or login", ErrUser)
	}
	return User{ID: strconv.FormatInt(id, 10), Login: u.Login, Name: u.Name}, nil
}

// acceptJSON sets Accept: application/json on requests to the token endpoint.
type acceptJSON struct {
	tokenURL string
	next     http.RoundTripper
}

func (a acceptJSON) RoundTrip(r *http.Request) (*http.Response, error) {
	next := a.next
	if next == nil {
		next = http.DefaultTransport
	}
	if r.URL.String() == a.tokenURL {
		r = r.Clone(r.Context())
		r.Header.Set("Accept", "application/json")
	}
	return next.RoundTrip(r)
}
