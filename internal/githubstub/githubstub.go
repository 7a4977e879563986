// Package githubstub is a GitHub-compatible stand-in for github.com, the one stand-in
// the project's tests are allowed. It speaks the OAuth App web flow
// (/login/oauth/authorize, /login/oauth/access_token, with PKCE S256) and the REST
// endpoint /user (also under /api/v3 as GitHub Enterprise Server serves it), so that
// authsvc reaches it through GITHUB_URL and GITHUB_API_URL exactly as an operator would
// configure a GitHub Enterprise instance.
//
// Tests steer it: which user logs in ([Server.LoginAs]), whether the user denies
// ([Server.SetDeny]), whether the token endpoint answers HTTP 200 with an `error` field
// as GitHub does ([Server.SetTokenError]), renaming a user between logins
// ([Server.Rename]), and an HTML login page with a button for browser tests
// ([Options.LoginPage]). It uses only the standard library so that both the root module
// and the tests/ module can import it.
package githubstub

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// User is a GitHub account as /user reports it.
type User struct {
	ID    int64  `json:"id"`
	Login string `json:"login"`
	Name  string `json:"name"`
}

// Options configure a [Server]. Zero values mean: client id "stub-client-id", secret
// "stub-client-secret", one user octocat (id 583231), no login page.
type Options struct {
	ClientID     string
	ClientSecret string
	// Users are the accounts that exist; the first one logs in unless LoginAs says
	// otherwise.
	Users []User
	// LoginPage makes /login/oauth/authorize show an HTML page with an "Authorize"
	// button instead of redirecting straight back (for real-browser tests).
	LoginPage bool
	// CodeLifetime bounds how long an issued code is accepted (default 10 minutes).
	CodeLifetime time.Duration
	// Listen is the address to listen on (default a loopback port). Tests of the Docker
	// stack listen where containers reach the host.
	Listen string
	// TLS makes the stand-in serve https with this configuration's certificate, as
	// github.com and GitHub Enterprise do (authsvc requires https for a non-loopback
	// GITHUB_URL). URL then names PublicHost when set.
	TLS *tls.Config
	// PublicHost replaces the listener's host in URL (e.g. a name that resolves to the
	// host from the containers and that the TLS certificate covers).
	PublicHost string
}

// Server is a running stand-in. URL serves both the web flow (GITHUB_URL) and the API
// (GITHUB_API_URL; URL+"/api/v3" works too). Safe for concurrent use.
type Server struct {
	// URL is the base URL, e.g. http://127.0.0.1:41234, without a trailing slash.
	URL string

	srv          *httptest.Server
	clientID     string
	clientSecret string
	codeLifetime time.Duration

	mu          sync.Mutex
	users       map[int64]*User
	current     int64
	deny        bool
	tokenError  string
	loginPage   bool
	redirectURL string
	codes       map[string]codeGrant
	tokens      map[string]int64
	counts      map[string]int
}

type codeGrant struct {
	userID      int64
	redirectURI string
	challenge   string
	expires     time.Time
}

// New starts a stand-in on a loopback port. Close it when done.
func New(opts *Options) *Server {
	if opts == nil {
		opts = &Options{}
	}
	s := &Server{
		clientID:     opts.ClientID,
		clientSecret: opts.ClientSecret,
		codeLifetime: opts.CodeLifetime,
		loginPage:    opts.LoginPage,
		users:        map[int64]*User{},
		codes:        map[string]codeGrant{},
		tokens:       map[string]int64{},
		counts:       map[string]int{},
	}
	if s.clientID == "" {
		s.clientID = "stub-client-id"
	}
	if s.clientSecret == "" {
		s.clientSecret = "stub-client-secret"
	}
	if s.codeLifetime <= 0 {
		s.codeLifetime = 10 * time.Minute
	}
	users := opts.Users
	if len(users) == 0 {
		users = []User{{ID: 583231, Login: "octocat", Name: "The Octocat"}}
	}
	for i, u := range users {
		u := u
		s.users[u.ID] = &u
		if i == 0 {
			s.current = u.ID
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/login/oauth/authorize", s.authorize)
	mux.HandleFunc("/login/oauth/access_token", s.accessToken)
	mux.HandleFunc("/user", s.user)
	mux.HandleFunc("/api/v3/user", s.user)
	s.srv = httptest.NewUnstartedServer(mux)
	if opts.Listen != "" {
		ln, err := net.Listen("tcp", opts.Listen)
		if err != nil {
			panic("githubstub: listen on " + opts.Listen + ": " + err.Error())
		}
		s.srv.Listener.Close()
		s.srv.Listener = ln
	}
	if opts.TLS != nil {
		s.srv.TLS = opts.TLS
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	s.URL = s.srv.URL
	if opts.PublicHost != "" {
		_, port, _ := net.SplitHostPort(s.srv.Listener.Addr().String())
		u, _ := url.Parse(s.srv.URL)
		u.Host = net.JoinHostPort(opts.PublicHost, port)
		s.URL = u.String()
	}
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// ClientID is the OAuth App client id the stand-in accepts.
func (s *Server) ClientID() string { return s.clientID }

// ClientSecret is the OAuth App client secret the stand-in accepts.
func (s *Server) ClientSecret() string { return s.clientSecret }

// LoginAs makes u the account that logs in next, adding it if it is new.
func (s *Server) LoginAs(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = &u
	s.current = u.ID
}

// Rename changes the login (and name) of an existing account, as a GitHub user may do
// between two logins. Tokens already issued report the new values.
func (s *Server) Rename(id int64, login, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[id]; ok {
		u.Login, u.Name = login, name
	}
}

// SetDeny makes the user refuse authorization: the authorize endpoint redirects back
// with error=access_denied.
func (s *Server) SetDeny(deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deny = deny
}

// SetTokenError makes the token endpoint answer HTTP 200 with {"error": code}, which is
// how GitHub reports a bad code. Empty restores normal behaviour.
func (s *Server) SetTokenError(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenError = code
}

// SetLoginPage switches the HTML login page on or off.
func (s *Server) SetLoginPage(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loginPage = on
}

// SetRedirectURL sets the OAuth App's registered callback URL. When set, a
// redirect_uri must equal it (GitHub also allows sub-paths; we are stricter). When
// empty, any absolute http(s) redirect_uri is accepted.
func (s *Server) SetRedirectURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.redirectURL = u
}

// Count reports how many requests an endpoint ("authorize", "token", "user") answered
// successfully.
func (s *Server) Count(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[endpoint]
}

var loginPage = template.Must(template.New("login").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Sign in to GitHub (stand-in)</title></head>
<body><h1>Authorize application</h1>
<p id="user">Signed in as <b>{{.Login}}</b></p>
<form method="post" action="/login/oauth/authorize">
{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}<button id="authorize" type="submit" name="decision" value="approve">Authorize</button>
<button id="cancel" type="submit" name="decision" value="deny">Cancel</button>
</form></body></html>`))

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	q := r.Form
	s.mu.Lock()
	registered := s.redirectURL
	showPage := s.loginPage
	deny := s.deny
	user := *s.users[s.current]
	s.mu.Unlock()

	if q.Get("client_id") != s.clientID {
		http.Error(w, "unknown client_id", http.StatusNotFound)
		return
	}
	redirect := q.Get("redirect_uri")
	ru, err := url.Parse(redirect)
	if err != nil || (ru.Scheme != "http" && ru.Scheme != "https") || ru.Host == "" || ru.Fragment != "" {
		http.Error(w, "redirect_uri must be an absolute http(s) URL", http.StatusBadRequest)
		return
	}
	if registered != "" && redirect != registered {
		http.Error(w, "redirect_uri mismatch", http.StatusBadRequest)
		return
	}
	back := func(v url.Values) {
		if st := q.Get("state"); st != "" {
			v.Set("state", st)
		}
		u := *ru
		u.RawQuery = v.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	if q.Get("code_challenge_method") != "S256" || !validPKCE(q.Get("code_challenge")) {
		back(url.Values{"error": {"invalid_request"}, "error_description": {"PKCE S256 code_challenge required"}})
		return
	}
	if r.Method == http.MethodGet && showPage {
		params := map[string]string{}
		for _, k := range []string{"client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method", "scope"} {
			params[k] = q.Get(k)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = loginPage.Execute(w, struct {
			Login  string
			Params map[string]string
		}{user.Login, params})
		return
	}
	if deny || q.Get("decision") == "deny" {
		back(url.Values{"error": {"access_denied"}, "error_description": {"The user has denied your application access."}})
		return
	}
	code := random()
	s.mu.Lock()
	s.codes[code] = codeGrant{userID: user.ID, redirectURI: redirect, challenge: q.Get("code_challenge"), expires: time.Now().Add(s.codeLifetime)}
	s.counts["authorize"]++
	s.mu.Unlock()
	back(url.Values{"code": {code}})
}

func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	clientID, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if id, sec, ok := r.BasicAuth(); ok {
		clientID, secret = id, sec
	}
	jsonWanted := strings.Contains(r.Header.Get("Accept"), "application/json")
	// GitHub answers every failure with HTTP 200 and an error field.
	fail := func(code, desc string) {
		reply(w, jsonWanted, map[string]string{"error": code, "error_description": desc,
			"error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors"})
	}
	if clientID != s.clientID || subtle.ConstantTimeCompare([]byte(secret), []byte(s.clientSecret)) != 1 {
		fail("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.")
		return
	}
	code := r.PostForm.Get("code")
	s.mu.Lock()
	forced := s.tokenError
	grant, ok := s.codes[code]
	delete(s.codes, code)
	s.mu.Unlock()
	if forced != "" {
		fail(forced, "forced by the test")
		return
	}
	if !ok || time.Now().After(grant.expires) {
		fail("bad_verification_code", "The code passed is incorrect or expired.")
		return
	}
	if ru := r.PostForm.Get("redirect_uri"); ru != "" && ru != grant.redirectURI {
		fail("redirect_uri_mismatch", "The redirect_uri MUST match the registered callback URL for this application.")
		return
	}
	if s256(r.PostForm.Get("code_verifier")) != grant.challenge {
		fail("bad_verification_code", "The code_verifier does not match the code_challenge.")
		return
	}
	tok := "gho_" + random()
	s.mu.Lock()
	s.tokens[tok] = grant.userID
	s.counts["token"]++
	s.mu.Unlock()
	reply(w, jsonWanted, map[string]string{"access_token": tok, "token_type": "bearer", "scope": r.PostForm.Get("scope")})
}

func (s *Server) user(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	var tok string
	switch {
	case strings.HasPrefix(auth, "Bearer "):
		tok = strings.TrimPrefix(auth, "Bearer ")
	case strings.HasPrefix(auth, "token "):
		tok = strings.TrimPrefix(auth, "token ")
	}
	s.mu.Lock()
	id, ok := s.tokens[tok]
	var u User
	if ok {
		u = *s.users[id]
		s.counts["user"]++
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`))
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"id": u.ID, "login": u.Login, "name": u.Name, "type": "User",
		"html_url": "https://github.com/" + url.PathEscape(u.Login), "node_id": "U_" + strconv.FormatInt(u.ID, 36)})
}

func reply(w http.ResponseWriter, asJSON bool, v map[string]string) {
	if asJSON {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(v)
		return
	}
	form := url.Values{}
	for k, val := range v {
		form.Set(k, val)
	}
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	_, _ = w.Write([]byte(form.Encode()))
}

// validPKCE reports whether s is 43–128 characters of the RFC 7636 unreserved set.
func validPKCE(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func random() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
