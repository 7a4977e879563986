package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/auth"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/golden"
	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/store"
	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/redistest"
)

const cbURI = "https://app.example.com/callback"

type testEnv struct {
	srv   *httptest.Server
	store *store.Store
}

// newEnv serves the registration endpoints on a real Redis, routed like the server.
func newEnv(t testing.TB, opts registerOptions) *testEnv {
	t.Helper()
	return newEnvWithStore(t, opts, nil)
}

// newEnvWithStore is newEnv with store options (a fixed clock for rate-limit windows).
func newEnvWithStore(t testing.TB, opts registerOptions, storeOpts *store.Options) *testEnv {
	t.Helper()
	return newEnvWrapped(t, opts, storeOpts, nil)
}

// revokeSpy is the real store with RevokeClient seen, and failed, by the test first.
type revokeSpy struct {
	*store.Store
	revoke func(id string) error
}

func (s revokeSpy) RevokeClient(ctx context.Context, id string) (int, error) {
	if err := s.revoke(id); err != nil {
		return 0, err
	}
	return s.Store.RevokeClient(ctx, id)
}

// newEnvWrapped is newEnvWithStore with the handler's store wrapped by wrap (nil: the
// store itself).
func newEnvWrapped(t testing.TB, opts registerOptions, storeOpts *store.Options, wrap func(*store.Store) registerStore) *testEnv {
	t.Helper()
	st, err := store.Open(redistest.URL(t), "", storeOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if opts.Issuer == "" {
		opts.Issuer = "https://auth.example.com"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var hs registerStore = st
	if wrap != nil {
		hs = wrap(st)
	}
	h, err := newRegister(hs, opts)
	if err != nil {
		t.Fatal(err)
	}
	r := mux.NewRouter()
	r.HandleFunc("/register", h.Create).Methods("POST")
	r.HandleFunc("/register/{client_id}", h.Read).Methods("GET")
	r.HandleFunc("/register/{client_id}", h.Update).Methods("PUT")
	r.HandleFunc("/register/{client_id}", h.Delete).Methods("DELETE")
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &testEnv{srv: srv, store: st}
}

func (e *testEnv) do(t *testing.T, method, path, contentType, body string, header ...string) reply {
	t.Helper()
	r := send(t, e.srv.URL, method, path, contentType, body, header...)
	if len(r.raw) > 0 && !json.Valid(r.raw) {
		t.Fatalf("%s %s: body is not JSON: %q", method, path, r.raw)
	}
	return r
}

func (e *testEnv) register(t *testing.T, body string) reply {
	t.Helper()
	r := e.do(t, "POST", "/register", "application/json", body)
	if r.status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	return r
}

func str(r reply, k string) string { s, _ := r.body[k].(string); return s }

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

func TestRegisterResponse(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	e := newEnv(t, registerOptions{ClientLifetime: 90 * 24 * time.Hour, Now: func() time.Time { return now }})
	r := e.register(t, `{"redirect_uris":["`+cbURI+`"],"client_name":"App","scope":"mcp","unknown_field":"drop me","jwks_uri":"https://x.example/jwks"}`)

	id := str(r, "client_id")
	if len(id) < 20 {
		t.Errorf("client_id %q is too short to be random", id)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
	if r.body["client_id_issued_at"] != float64(now.Unix()) || r.body["client_secret_expires_at"] != float64(now.Add(90*24*time.Hour).Unix()) {
		t.Errorf("issued/expires = %v/%v", r.body["client_id_issued_at"], r.body["client_secret_expires_at"])
	}
	tok := str(r, "registration_access_token")
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, "reg-"))
	if !strings.HasPrefix(tok, "reg-") || err != nil || len(raw) != 32 {
		t.Errorf("registration_access_token %q is not reg- + base64url(32 bytes)", tok)
	}
	if sec, _ := base64.RawURLEncoding.DecodeString(str(r, "client_secret")); len(sec) != 32 {
		t.Errorf("client_secret %q is not 32 random bytes", str(r, "client_secret"))
	}
	if got := str(r, "registration_client_uri"); got != "https://auth.example.com/register/"+id {
		t.Errorf("registration_client_uri = %q", got)
	}
	for _, k := range []string{"unknown_field", "jwks_uri"} {
		if _, ok := r.body[k]; ok {
			t.Errorf("unknown field %s echoed", k)
		}
	}
	stored, _ := e.store.Redis().Get(context.Background(), store.Key("client", id)).Result()
	for _, leak := range []string{"unknown_field", "drop me", tok, str(r, "client_secret")} {
		if strings.Contains(stored, leak) {
			t.Errorf("stored record contains %q", leak)
		}
	}
	ttl := e.store.Redis().TTL(context.Background(), store.Key("client", id)).Val()
	if ttl < 89*24*time.Hour || ttl > 90*24*time.Hour {
		t.Errorf("Redis TTL = %v, want CLIENT_LIFETIME", ttl)
	}

	pub := e.register(t, `{"redirect_uris":["http://127.0.0.1:5000/cb"],"token_endpoint_auth_method":"none"}`)
	if _, ok := pub.body["client_secret"]; ok {
		t.Error("public client got a client_secret")
	}
}

func TestRegisterEternalClient(t *testing.T) {
	e := newEnv(t, registerOptions{ClientLifetime: 0})
	r := e.register(t, `{"redirect_uris":["`+cbURI+`"]}`)
	if r.body["client_secret_expires_at"] != float64(0) {
		t.Errorf("client_secret_expires_at = %v, want 0 (never)", r.body["client_secret_expires_at"])
	}
	if ttl := e.store.Redis().TTL(context.Background(), store.Key("client", str(r, "client_id"))).Val(); ttl != -1 {
		t.Errorf("TTL = %v, want none", ttl)
	}
}

// TestRegisterGolden pins the response document; random and time fields are
// normalised.
func TestRegisterGolden(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	e := newEnv(t, registerOptions{ClientLifetime: time.Hour, Now: func() time.Time { return now }})
	r := e.register(t, `{"redirect_uris":["`+cbURI+`","http://127.0.0.1:33418/cb"],"client_name":"Claude <Code>","grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"client_secret_post","scope":"mcp","contacts":["ops@example.com"],"software_id":"x","software_version":"1.0"}`)
	id := str(r, "client_id")
	for k, v := range map[string]string{"client_id": "CLIENT_ID", "client_secret": "CLIENT_SECRET", "registration_access_token": "reg-TOKEN"} {
		if _, ok := r.body[k]; !ok {
			t.Fatalf("%s missing", k)
		}
		r.body[k] = v
	}
	r.body["registration_client_uri"] = strings.Replace(str(r, "registration_client_uri"), id, "CLIENT_ID", 1)
	got, _ := json.Marshal(r.body)
	golden.Check(t, "registration-response.json", golden.JSON(t, got))
}

func TestRegisterHTTPRefusals(t *testing.T) {
	e := newEnv(t, registerOptions{MaxBodyBytes: 4096})
	okBody := `{"redirect_uris":["` + cbURI + `"]}`
	cases := []struct {
		name, contentType, body string
		wantStatus              int
		wantCode                string
	}{
		{"no content type", "", okBody, 415, "invalid_request"},
		{"text/plain", "text/plain", okBody, 415, "invalid_request"},
		{"form", "application/x-www-form-urlencoded", "redirect_uris=" + cbURI, 415, "invalid_request"},
		{"json lookalike", "application/jsonx", okBody, 415, "invalid_request"},
		{"malformed content type", "application/json; charset", okBody, 415, "invalid_request"},
		{"json with charset ok", "application/json; charset=utf-8", okBody, 201, ""},
		{"oversized", "application/json", `{"client_name":"` + strings.Repeat("x", 5000) + `","redirect_uris":["` + cbURI + `"]}`, 413, "invalid_request"},
		{"json array", "application/json", `[` + okBody + `]`, 400, "invalid_client_metadata"},
		{"deep nesting", "application/json", `{"a":` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `}`, 400, "invalid_client_metadata"},
		{"client_id in request", "application/json", `{"client_id":"chosen","redirect_uris":["` + cbURI + `"]}`, 400, "invalid_client_metadata"},
		{"forbidden grant", "application/json", `{"grant_types":["implicit"],"redirect_uris":["` + cbURI + `"]}`, 400, "invalid_client_metadata"},
		{"bad redirect", "application/json", `{"redirect_uris":["javascript:alert(1)"]}`, 400, "invalid_redirect_uri"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, "POST", "/register", tc.contentType, tc.body)
			if r.status != tc.wantStatus {
				t.Fatalf("status = %d, want %d (%s)", r.status, tc.wantStatus, r.raw)
			}
			if tc.wantCode != "" && str(r, "error") != tc.wantCode {
				t.Errorf("error = %q, want %q", str(r, "error"), tc.wantCode)
			}
			if tc.wantCode != "" && str(r, "error_description") == "" {
				t.Error("no error_description")
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", r.header.Get("Cache-Control"))
			}
		})
	}
	if n := len(e.store.Redis().Keys(context.Background(), "oauth:client:*").Val()); n != 1 {
		t.Errorf("%d clients stored, want only the one good registration", n)
	}
}

// TestRealmSeparation: /register/{id} accepts only that client's own registration
// access token (RFC 7592), never another client's, an access token or a secret.
func TestRealmSeparation(t *testing.T) {
	e := newEnv(t, registerOptions{})
	a := e.register(t, `{"redirect_uris":["`+cbURI+`"]}`)
	b := e.register(t, `{"redirect_uris":["`+cbURI+`"]}`)
	idA, tokA, tokB := str(a, "client_id"), str(a, "registration_access_token"), str(b, "registration_access_token")
	jwtLike := "eyJhbGciOiJSUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiIxIn0.c2ln"
	cases := []struct {
		name   string
		header []string
	}{
		{"no token", nil},
		{"other client's token", bearer(tokB)},
		{"access token (JWT)", bearer(jwtLike)},
		{"client secret as bearer", bearer(str(a, "client_secret"))},
		{"refresh token", bearer("rt-" + strings.TrimPrefix(tokA, "reg-"))},
		{"token without prefix", bearer(strings.TrimPrefix(tokA, "reg-"))},
		{"truncated token", bearer(tokA[:len(tokA)-1])},
		{"token with suffix", bearer(tokA + "x")},
		{"basic auth", []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(idA+":"+str(a, "client_secret")))}},
		{"token in wrong header", []string{"X-Registration-Token", tokA}},
		{"two authorization headers", append(bearer(tokA), bearer(tokA)...)},
		{"bearer without token", []string{"Authorization", "Bearer "}},
	}
	put := `{"client_id":"` + idA + `","redirect_uris":["` + cbURI + `"],"client_name":"hijacked"}`
	for _, tc := range cases {
		for _, method := range []string{"GET", "PUT", "DELETE"} {
			t.Run(tc.name+"/"+method, func(t *testing.T) {
				r := e.do(t, method, "/register/"+idA, "application/json", put, tc.header...)
				if r.status != http.StatusUnauthorized {
					t.Fatalf("status = %d, want 401 (%s)", r.status, r.raw)
				}
				if got := r.header.Get("WWW-Authenticate"); !strings.Contains(got, `Bearer`) || !strings.Contains(got, `error="invalid_token"`) {
					t.Errorf("WWW-Authenticate = %q", got)
				}
				if str(r, "error") != "invalid_token" || r.header.Get("Cache-Control") != "no-store" {
					t.Errorf("body %s, Cache-Control %q", r.raw, r.header.Get("Cache-Control"))
				}
			})
		}
	}
	// The token of A on B's path, and on an unknown client, is refused the same way.
	for _, path := range []string{"/register/" + str(b, "client_id"), "/register/no-such-client", "/register/" + strings.Repeat("x", 500)} {
		if r := e.do(t, "GET", path, "", "", bearer(tokA)...); r.status != 401 {
			t.Errorf("GET %s with A's token: %d, want 401", path[:min(len(path), 40)], r.status)
		}
	}
	// Nothing was changed or deleted, and the right token still works, lower-case
	// scheme included.
	r := e.do(t, "GET", "/register/"+idA, "", "", "Authorization", "bearer "+tokA)
	if r.status != 200 || str(r, "client_name") == "hijacked" {
		t.Fatalf("owner GET: %d %s", r.status, r.raw)
	}
	if _, ok := r.body["client_secret"]; ok {
		t.Error("GET returned the client secret")
	}
	if _, ok := r.body["registration_access_token"]; ok {
		t.Error("GET returned the registration access token")
	}
}

func TestUpdate(t *testing.T) {
	e := newEnv(t, registerOptions{ClientLifetime: time.Hour})
	a := e.register(t, `{"redirect_uris":["`+cbURI+`"],"client_name":"Old"}`)
	pub := e.register(t, `{"redirect_uris":["http://localhost:1/cb"],"token_endpoint_auth_method":"none"}`)
	id, tok, secret := str(a, "client_id"), str(a, "registration_access_token"), str(a, "client_secret")
	ctx := context.Background()
	before, _ := e.store.GetClient(ctx, id)

	refusals := []struct {
		name, body, wantCode, wantDesc string
	}{
		{"no client_id", `{"redirect_uris":["` + cbURI + `"]}`, "invalid_request", "client_id is required"},
		{"other client_id", `{"client_id":"` + str(pub, "client_id") + `","redirect_uris":["` + cbURI + `"]}`, "invalid_request", "does not match"},
		{"wrong secret", `{"client_id":"` + id + `","client_secret":"new-secret","redirect_uris":["` + cbURI + `"]}`, "invalid_client_metadata", "client_secret does not match"},
		{"smuggled registration token", `{"client_id":"` + id + `","registration_access_token":"reg-mine","redirect_uris":["` + cbURI + `"]}`, "invalid_client_metadata", "registration_access_token"},
		{"smuggled issued_at", `{"client_id":"` + id + `","client_id_issued_at":1,"redirect_uris":["` + cbURI + `"]}`, "invalid_client_metadata", "client_id_issued_at"},
		{"smuggled expiry", `{"client_id":"` + id + `","client_secret_expires_at":0,"redirect_uris":["` + cbURI + `"]}`, "invalid_client_metadata", "client_secret_expires_at"},
		{"smuggled client uri", `{"client_id":"` + id + `","registration_client_uri":"https://evil/","redirect_uris":["` + cbURI + `"]}`, "invalid_client_metadata", "registration_client_uri"},
		{"to public", `{"client_id":"` + id + `","token_endpoint_auth_method":"none","redirect_uris":["` + cbURI + `"]}`, "invalid_client_metadata", "cannot switch"},
		{"bad redirect", `{"client_id":"` + id + `","redirect_uris":["http://evil.example/cb"]}`, "invalid_redirect_uri", "http"},
		{"forbidden grant", `{"client_id":"` + id + `","grant_types":["client_credentials"],"redirect_uris":["` + cbURI + `"]}`, "invalid_client_metadata", "client_credentials"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, "PUT", "/register/"+id, "application/json", tc.body, bearer(tok)...)
			if r.status != 400 || str(r, "error") != tc.wantCode || !strings.Contains(str(r, "error_description"), tc.wantDesc) {
				t.Errorf("got %d %s, want 400 %s ~%q", r.status, r.raw, tc.wantCode, tc.wantDesc)
			}
			after, _ := e.store.GetClient(ctx, id)
			if after.Metadata.ClientName != "Old" || after.SecretHash != before.SecretHash || after.RegistrationTokenHash != before.RegistrationTokenHash || after.IssuedAt != before.IssuedAt {
				t.Errorf("refused update changed the record: %+v", after)
			}
		})
	}
	if r := e.do(t, "PUT", "/register/"+id, "text/plain", "{}", bearer(tok)...); r.status != 415 {
		t.Errorf("PUT text/plain: %d", r.status)
	}

	r := e.do(t, "PUT", "/register/"+id, "application/json",
		`{"client_id":"`+id+`","client_secret":"`+secret+`","redirect_uris":["`+cbURI+`","https://app.example.com/cb2"],"client_name":"New","grant_types":["authorization_code","refresh_token"]}`, bearer(tok)...)
	if r.status != 200 || str(r, "client_name") != "New" || str(r, "client_id") != id || r.body["client_id_issued_at"] != a.body["client_id_issued_at"] {
		t.Fatalf("valid PUT: %d %s", r.status, r.raw)
	}
	after, _ := e.store.GetClient(ctx, id)
	if !after.VerifySecret(secret) || !after.VerifyRegistrationToken(tok) || len(after.Metadata.RedirectURIs) != 2 {
		t.Errorf("after valid PUT: %+v", after)
	}
	if ttl := e.store.Redis().TTL(ctx, store.Key("client", id)).Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("TTL after PUT = %v, want the original lifetime kept", ttl)
	}
}

func TestDelete(t *testing.T) {
	var hooked []string
	fail := false
	e := newEnvWrapped(t, registerOptions{}, nil, func(st *store.Store) registerStore {
		return revokeSpy{Store: st, revoke: func(id string) error {
			hooked = append(hooked, id)
			if fail {
				return errors.New("revocation store down")
			}
			return nil
		}}
	})
	a := e.register(t, `{"redirect_uris":["`+cbURI+`"]}`)
	id, tok := str(a, "client_id"), str(a, "registration_access_token")

	fail = true
	r := e.do(t, "DELETE", "/register/"+id, "", "", bearer(tok)...)
	if r.status != 500 || strings.Contains(string(r.raw), "revocation store down") {
		t.Errorf("DELETE with failing revocation: %d %s, want 500 without details", r.status, r.raw)
	}
	if _, err := e.store.GetClient(context.Background(), id); err != nil {
		t.Errorf("client gone although the revocation failed: %v", err)
	}

	fail = false
	r = e.do(t, "DELETE", "/register/"+id, "", "", bearer(tok)...)
	if r.status != 204 || len(r.raw) != 0 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("DELETE: %d %q", r.status, r.raw)
	}
	if len(hooked) != 2 || hooked[1] != id {
		t.Errorf("revocations = %v", hooked)
	}
	for _, method := range []string{"GET", "DELETE", "PUT"} {
		if r := e.do(t, method, "/register/"+id, "application/json", `{"client_id":"`+id+`","redirect_uris":["`+cbURI+`"]}`, bearer(tok)...); r.status != 401 {
			t.Errorf("%s after DELETE: %d, want 401", method, r.status)
		}
	}
	if _, err := e.store.GetClient(context.Background(), id); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("stored client after DELETE: %v", err)
	}
}

// TestExpiry: a client whose CLIENT_LIFETIME passed is gone (Redis TTL), and its
// registration token with it.
func TestExpiry(t *testing.T) {
	e := newEnv(t, registerOptions{ClientLifetime: 3 * time.Second})
	a := e.register(t, `{"redirect_uris":["`+cbURI+`"]}`)
	id, tok := str(a, "client_id"), str(a, "registration_access_token")
	if r := e.do(t, "GET", "/register/"+id, "", "", bearer(tok)...); r.status != 200 {
		t.Fatalf("GET before expiry: %d", r.status)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := e.do(t, "GET", "/register/"+id, "", "", bearer(tok)...)
		if r.status == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("client with a 3s lifetime still answers %d after 15s", r.status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := e.store.Redis().Exists(context.Background(), store.Key("client", id)).Val(); n != 0 {
		t.Error("expired client record still in Redis")
	}
}

func TestRateLimit(t *testing.T) {
	// A fixed clock keeps every request in one rate-limit window, however slow the machine.
	fixed := time.Unix(1_800_000_010, 0)
	e := newEnvWithStore(t, registerOptions{RateLimit: 3, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}},
		&store.Options{Now: func() time.Time { return fixed }})
	body := `{"redirect_uris":["` + cbURI + `"]}`
	post := func(xff string) reply {
		return e.do(t, "POST", "/register", "application/json", body, "X-Forwarded-For", xff)
	}
	for i := range 3 {
		if r := post("198.51.100.1"); r.status != 201 {
			t.Fatalf("registration %d: %d", i+1, r.status)
		}
	}
	r := post("198.51.100.1")
	if r.status != 429 || str(r, "error_description") == "" {
		t.Fatalf("4th registration: %d %s, want 429", r.status, r.raw)
	}
	if ra := r.header.Get("Retry-After"); ra != "50" {
		t.Errorf("Retry-After = %q, want 50 (seconds to the end of the window)", ra)
	}
	if r := post("1.1.1.1, 198.51.100.1"); r.status != 429 {
		t.Errorf("forged left-most X-Forwarded-For escaped the limit: %d", r.status)
	}
	if r := post("198.51.100.2"); r.status != 201 {
		t.Errorf("another source: %d, want 201", r.status)
	}
	// Refused attempts (bad bodies) count too: floods cost the flooder.
	for range 3 {
		e.do(t, "POST", "/register", "application/json", `[]`, "X-Forwarded-For", "198.51.100.3")
	}
	if r := post("198.51.100.3"); r.status != 429 {
		t.Errorf("after 3 bad attempts: %d, want 429", r.status)
	}
}

// TestParallelRegistrations: concurrent registrations (run under -race) each get their
// own client and secrets.
func TestParallelRegistrations(t *testing.T) {
	e := newEnv(t, registerOptions{})
	const n = 40
	type result struct {
		id, tok string
		status  int
	}
	results := make(chan result, n)
	for range n {
		go func() {
			resp, err := http.Post(e.srv.URL+"/register", "application/json", strings.NewReader(`{"redirect_uris":["`+cbURI+`"]}`))
			if err != nil {
				results <- result{}
				return
			}
			defer resp.Body.Close()
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			id, _ := body["client_id"].(string)
			tok, _ := body["registration_access_token"].(string)
			results <- result{id: id, tok: tok, status: resp.StatusCode}
		}()
	}
	ids, toks := map[string]bool{}, map[string]bool{}
	for range n {
		r := <-results
		if r.status != http.StatusCreated {
			t.Fatalf("a parallel registration got %d", r.status)
		}
		ids[r.id], toks[r.tok] = true, true
	}
	if len(ids) != n || len(toks) != n {
		t.Errorf("%d ids and %d tokens for %d registrations, want all distinct", len(ids), len(toks), n)
	}
	list, err := e.store.ListClients(context.Background())
	if err != nil || len(list) != n {
		t.Errorf("ListClients: %d, %v; want %d", len(list), err, n)
	}
}

// TestNoGhostRegistration: a registration answered with 503 is not registered after
// all. Redis is stopped (SIGSTOP) longer than authsvc's timeout, so the creation sits
// in Redis's socket buffer when authsvc gives up and answers 503; when Redis continues
// it runs what it was sent, and must not leave a client behind that nobody knows the
// credentials of.
func TestNoGhostRegistration(t *testing.T) {
	e := newEnv(t, registerOptions{}) // no rate limit: the creation is the only write
	ctx := context.Background()
	rdb := e.store.Redis()
	count := func() int64 {
		n, err := rdb.ZCard(ctx, "oauth:clients").Result()
		if err != nil {
			t.Fatal(err)
		}
		keys, err := rdb.Keys(ctx, "oauth:client:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		return n + int64(len(keys))
	}
	before := count()
	redistest.Stall(t, 5*time.Second)
	r := e.do(t, "POST", "/register", "application/json", `{"redirect_uris":["`+cbURI+`"],"token_endpoint_auth_method":"none"}`)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("registration while Redis is stopped: %d %s, want 503", r.status, r.raw)
	}
	// Redis continues, runs what was queued, and the void follows.
	deadline := time.Now().Add(30 * time.Second)
	for {
		time.Sleep(500 * time.Millisecond)
		if n := count(); n == before {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("%d client records/index entries after the failed registration, %d before: a ghost registration", n, before)
		}
	}
	time.Sleep(2 * time.Second) // and it stays so: nothing was still on its way
	if n := count(); n != before {
		t.Fatalf("a ghost registration appeared later: %d, want %d", n, before)
	}
	if ok := e.register(t, `{"redirect_uris":["`+cbURI+`"],"token_endpoint_auth_method":"none"}`); str(ok, "client_id") == "" {
		t.Fatal("registration after the stall did not work")
	}
}
