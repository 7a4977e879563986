package github

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/mcp-oauth-gateway/gateway/internal/githubstub"
)

const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWO1dBjftJeZ4CVP"

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func newClient(t *testing.T, stub *githubstub.Server, api string) *Client {
	t.Helper()
	c, err := New(Options{ClientID: stub.ClientID(), ClientSecret: stub.ClientSecret(),
		BaseURL: stub.URL, APIURL: api, RedirectURL: "http://127.0.0.1:9/callback"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// code follows AuthCodeURL on the stand-in and returns the code it redirects with.
func code(t *testing.T, c *Client, state string) (string, url.Values) {
	t.Helper()
	resp, err := noRedirect.Get(c.AuthCodeURL(state, verifier))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	return loc.Query().Get("code"), loc.Query()
}

func TestLogin(t *testing.T) {
	stub := githubstub.New(nil)
	defer stub.Close()
	for _, api := range []string{stub.URL, stub.URL + "/api/v3/"} {
		t.Run(api, func(t *testing.T) {
			stub.LoginAs(githubstub.User{ID: 9001, Login: "Alice", Name: "Alice A."})
			c := newClient(t, stub, api)
			cd, q := code(t, c, "s1")
			if q.Get("state") != "s1" {
				t.Fatalf("state = %q, want s1", q.Get("state"))
			}
			u, err := c.Login(context.Background(), cd, verifier)
			if err != nil {
				t.Fatal(err)
			}
			want := User{ID: "9001", Login: "Alice", Name: "Alice A."}
			if u != want {
				t.Fatalf("user = %+v, want %+v", u, want)
			}
		})
	}
}

func TestLoginFailures(t *testing.T) {
	stub := githubstub.New(nil)
	defer stub.Close()
	tests := []struct {
		name     string
		forced   string
		verifier string
		api      string
		want     error
	}{
		{"200 with error field", "bad_verification_code", verifier, "", ErrExchange},
		{"wrong PKCE verifier", "", strings.Repeat("v", 43), "", ErrExchange},
		{"user endpoint missing", "", verifier, "/nowhere", ErrUser},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stub.SetTokenError(tc.forced)
			defer stub.SetTokenError("")
			c := newClient(t, stub, stub.URL+tc.api)
			cd, _ := code(t, c, "s")
			_, err := c.Login(context.Background(), cd, tc.verifier)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	_, err := New(Options{BaseURL: "ftp://x", APIURL: "", RedirectURL: "/cb"})
	if err == nil {
		t.Fatal("New accepted empty credentials and bad URLs")
	}
	for _, want := range []string{"client id", "client secret", "base URL", "API URL", "redirect URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// recorder remembers the Accept header of every request to the token endpoint.
type recorder struct {
	mu      sync.Mutex
	accepts []string
}

func (rec *recorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/login/oauth/access_token") {
		rec.mu.Lock()
		rec.accepts = append(rec.accepts, r.Header.Get("Accept"))
		rec.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestTokenRequestAsksForJSON(t *testing.T) {
	stub := githubstub.New(nil)
	defer stub.Close()
	rec := &recorder{}
	c, err := New(Options{ClientID: stub.ClientID(), ClientSecret: stub.ClientSecret(), BaseURL: stub.URL, APIURL: stub.URL,
		RedirectURL: "http://127.0.0.1:9/callback", HTTPClient: &http.Client{Transport: rec}})
	if err != nil {
		t.Fatal(err)
	}
	cd, _ := code(t, c, "s")
	if _, err := c.Login(context.Background(), cd, verifier); err != nil {
		t.Fatal(err)
	}
	if len(rec.accepts) != 1 || rec.accepts[0] != "application/json" {
		t.Fatalf("token request Accept headers = %q, want one application/json", rec.accepts)
	}
}
