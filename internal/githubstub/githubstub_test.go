package githubstub

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWO1dBjftJeZ4CVP"

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func authorizeURL(s *Server, mod func(url.Values)) string {
	q := url.Values{
		"client_id":             {s.ClientID()},
		"redirect_uri":          {"http://127.0.0.1:9/callback"},
		"state":                 {"st-1"},
		"code_challenge":        {s256(verifier)},
		"code_challenge_method": {"S256"},
	}
	if mod != nil {
		mod(q)
	}
	return s.URL + "/login/oauth/authorize?" + q.Encode()
}

// login runs the authorize step and returns the redirect's query.
func login(t *testing.T, s *Server, mod func(url.Values)) (int, url.Values) {
	t.Helper()
	resp, err := noRedirect.Get(authorizeURL(s, mod))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return resp.StatusCode, nil
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, loc.Query()
}

func exchange(t *testing.T, s *Server, code, ver, secret string) map[string]string {
	t.Helper()
	form := url.Values{"client_id": {s.ClientID()}, "client_secret": {secret}, "code": {code}, "code_verifier": {ver}}
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/login/oauth/access_token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token endpoint status = %d, want 200 (GitHub answers errors with 200)", resp.StatusCode)
	}
	var out map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func fetchUser(t *testing.T, base, tok string) (int, User) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/user", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var u User
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &u)
	return resp.StatusCode, u
}

func TestFullFlowAndRename(t *testing.T) {
	s := New(nil)
	defer s.Close()
	s.LoginAs(User{ID: 42, Login: "alice", Name: "Alice"})
	status, q := login(t, s, nil)
	if status != http.StatusFound || q.Get("code") == "" || q.Get("state") != "st-1" {
		t.Fatalf("authorize = %d %v, want 302 with code and state", status, q)
	}
	tok := exchange(t, s, q.Get("code"), verifier, s.ClientSecret())
	if tok["access_token"] == "" {
		t.Fatalf("token response %v has no access_token", tok)
	}
	for _, base := range []string{s.URL, s.URL + "/api/v3"} {
		st, u := fetchUser(t, base, tok["access_token"])
		if st != 200 || u.ID != 42 || u.Login != "alice" {
			t.Fatalf("%s/user = %d %+v, want alice (42)", base, st, u)
		}
	}
	s.Rename(42, "alice2", "Alice Two")
	if _, u := fetchUser(t, s.URL, tok["access_token"]); u.Login != "alice2" {
		t.Fatalf("after rename login = %q, want alice2", u.Login)
	}
	if again := exchange(t, s, q.Get("code"), verifier, s.ClientSecret()); again["error"] != "bad_verification_code" {
		t.Fatalf("replayed code gave %v, want bad_verification_code", again)
	}
	if st, _ := fetchUser(t, s.URL, "nope"); st != http.StatusUnauthorized {
		t.Fatalf("/user with a bad token = %d, want 401", st)
	}
}

func TestAuthorizeRefusals(t *testing.T) {
	s := New(nil)
	defer s.Close()
	tests := []struct {
		name       string
		mod        func(url.Values)
		wantStatus int
		wantError  string
	}{
		{"unknown client", func(q url.Values) { q.Set("client_id", "x") }, http.StatusNotFound, ""},
		{"relative redirect", func(q url.Values) { q.Set("redirect_uri", "/cb") }, http.StatusBadRequest, ""},
		{"no challenge", func(q url.Values) { q.Del("code_challenge") }, http.StatusFound, "invalid_request"},
		{"plain method", func(q url.Values) { q.Set("code_challenge_method", "plain") }, http.StatusFound, "invalid_request"},
		{"short challenge", func(q url.Values) { q.Set("code_challenge", strings.Repeat("a", 42)) }, http.StatusFound, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, q := login(t, s, tc.mod)
			if status != tc.wantStatus {
				t.Fatalf("status = %d, want %d", status, tc.wantStatus)
			}
			if got := q.Get("error"); got != tc.wantError {
				t.Fatalf("error = %q, want %q", got, tc.wantError)
			}
		})
	}
}

func TestDenyAndTokenErrors(t *testing.T) {
	s := New(nil)
	defer s.Close()
	s.SetDeny(true)
	if _, q := login(t, s, nil); q.Get("error") != "access_denied" || q.Get("state") != "st-1" {
		t.Fatalf("denied login redirect = %v, want access_denied with state", q)
	}
	s.SetDeny(false)

	tests := []struct {
		name      string
		forced    string
		verifier  string
		secret    string
		wantError string
	}{
		{"forced 200-with-error", "bad_verification_code", verifier, s.ClientSecret(), "bad_verification_code"},
		{"wrong verifier", "", strings.Repeat("x", 43), s.ClientSecret(), "bad_verification_code"},
		{"wrong secret", "", verifier, "nope", "incorrect_client_credentials"},
		{"ok", "", verifier, s.ClientSecret(), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.SetTokenError(tc.forced)
			defer s.SetTokenError("")
			_, q := login(t, s, nil)
			got := exchange(t, s, q.Get("code"), tc.verifier, tc.secret)
			if got["error"] != tc.wantError {
				t.Fatalf("error = %q, want %q (%v)", got["error"], tc.wantError, got)
			}
			if tc.wantError == "" && got["access_token"] == "" {
				t.Fatalf("no access_token in %v", got)
			}
		})
	}
}

func TestLoginPage(t *testing.T) {
	s := New(&Options{LoginPage: true, Users: []User{{ID: 7, Login: "bob"}}})
	defer s.Close()
	resp, err := http.Get(authorizeURL(s, nil))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `id="authorize"`) || !strings.Contains(string(body), "bob") {
		t.Fatalf("login page = %d %s, want a page with the authorize button", resp.StatusCode, body)
	}
	form := url.Values{"client_id": {s.ClientID()}, "redirect_uri": {"http://127.0.0.1:9/cb"}, "state": {"s"},
		"code_challenge": {s256(verifier)}, "code_challenge_method": {"S256"}, "decision": {"approve"}}
	resp, err = noRedirect.PostForm(s.URL+"/login/oauth/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Query().Get("code") == "" {
		t.Fatalf("approve = %d %s, want a redirect with a code", resp.StatusCode, loc)
	}
}
