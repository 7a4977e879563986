package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/oauth2"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/oauthtest"
)

// docServer serves client metadata documents over TLS on loopback; docs maps a path to
// a document (with "{url}" replaced by the document's own URL), or to a status code.
type docServer struct {
	*httptest.Server
	fetches atomic.Int64
	docs    map[string]string
	headers map[string]string
}

func newDocServer(t *testing.T, docs map[string]string) *docServer {
	d := &docServer{docs: docs, headers: map[string]string{}}
	d.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.fetches.Add(1)
		doc, ok := d.docs[r.URL.Path]
		switch {
		case !ok:
			http.NotFound(w, r)
		case strings.HasPrefix(doc, "redirect:"):
			http.Redirect(w, r, strings.TrimPrefix(doc, "redirect:"), http.StatusFound)
		default:
			for k, v := range d.headers {
				w.Header().Set(k, v)
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(strings.ReplaceAll(doc, "{url}", d.URL+r.URL.Path)))
		}
	}))
	t.Cleanup(d.Close)
	return d
}

func (d *docServer) transport() *http.Transport {
	return d.Client().Transport.(*http.Transport).Clone()
}

const cimdRedirect = "http://127.0.0.1:8976/callback"

// TestClientIDMetadataDocument: a client whose client_id is the https URL of its
// metadata document goes through the whole flow without registering: the document is
// fetched, checked (client_id equals the URL, redirect URIs from it), cached, and the
// consent page shows the redirect host; the token endpoint knows the client too.
func TestClientIDMetadataDocument(t *testing.T) {
	d := newDocServer(t, map[string]string{
		"/client.json": `{"client_id":"{url}","client_name":"Doc Client","redirect_uris":["` + cimdRedirect + `"],
			"grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"none"}`,
	})
	env := oauthtest.New(t, &oauthtest.Options{CIMDTransport: d.transport()})
	clientID := d.URL + "/client.json"
	cfg := &oauth2.Config{ClientID: clientID, RedirectURL: cimdRedirect,
		Endpoint: oauth2.Endpoint{AuthURL: env.URL + "/authorize", TokenURL: env.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	ver := oauth2.GenerateVerifier()
	b := env.NewBrowser()
	p := b.Get(t, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(ver), oauth2.SetAuthURLParam("resource", resource)))
	id, csrf, ok := oauthtest.ConsentForm(p)
	if !ok {
		t.Fatalf("no consent page for a metadata-document client: %d %.300s", p.Status, p.Body)
	}
	// The redirect goes to this computer: the page warns that any program there could
	// claim the name (MCP: warn for localhost-only redirect URIs).
	for _, want := range []string{"Doc Client", "http://127.0.0.1:8976", clientID, `id="loopback-warning"`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("the consent page does not show %q", want)
		}
	}
	got := b.Decide(t, id, csrf, "approve")
	code := got.Location.Query().Get("code")
	if code == "" {
		t.Fatalf("approve: %d %v", got.Status, got.Location)
	}
	tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(ver), oauth2.SetAuthURLParam("resource", resource))
	if err != nil || tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("exchange: %v %+v", err, tok)
	}
	var claims map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok.AccessToken, ".")[1])
	_ = json.Unmarshal(raw, &claims)
	if claims["client_id"] != clientID {
		t.Errorf("client_id claim %v, want the document URL", claims["client_id"])
	}
	if _, err := cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
		t.Errorf("refresh: %v", err)
	}
	if n := d.fetches.Load(); n != 1 {
		t.Errorf("the document was fetched %d times, want once (cached)", n)
	}
}

// TestClientIDMetadataDocumentRefused: documents that must not be used are refused with
// the unknown-application page, never a redirect: a client_id that is not the URL, a
// redirect URI the document does not list, a secret, a redirect, an oversized document,
// a missing one; and a document on a private address when that is not allowed.
func TestClientIDMetadataDocumentRefused(t *testing.T) {
	good := `{"client_id":"{url}","client_name":"Good","redirect_uris":["` + cimdRedirect + `"]}`
	d := newDocServer(t, map[string]string{
		"/good.json":     good,
		"/other-id.json": `{"client_id":"https://elsewhere.example/client.json","client_name":"N","redirect_uris":["` + cimdRedirect + `"]}`,
		"/secret.json":   `{"client_id":"{url}","client_name":"N","client_secret":"s","redirect_uris":["` + cimdRedirect + `"]}`,
		"/basic.json":    `{"client_id":"{url}","client_name":"N","token_endpoint_auth_method":"client_secret_basic","redirect_uris":["` + cimdRedirect + `"]}`,
		"/moved.json":    "redirect:/good.json",
		"/huge.json":     `{"client_id":"{url}","client_name":"N","redirect_uris":["` + cimdRedirect + `"],"client_name":"` + strings.Repeat("x", 20000) + `"}`,
		"/array.json":    `[]`,
		"/nameless.json": `{"client_id":"{url}","redirect_uris":["` + cimdRedirect + `"]}`,
	})
	env := oauthtest.New(t, &oauthtest.Options{CIMDTransport: d.transport()})
	ask := func(clientID, redirect string) *oauthtest.Page {
		q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect}, "state": {"s"},
			"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
		return env.NewBrowser().Get(t, env.URL+"/authorize?"+q.Encode())
	}
	for _, tc := range []struct{ name, path, redirect string }{
		{"client_id not the URL", "/other-id.json", cimdRedirect},
		{"a secret in the document", "/secret.json", cimdRedirect},
		{"a secret-based auth method", "/basic.json", cimdRedirect},
		{"a redirect to the document", "/moved.json", cimdRedirect},
		{"over 16 KiB", "/huge.json", cimdRedirect},
		{"not an object", "/array.json", cimdRedirect},
		{"no client_name", "/nameless.json", cimdRedirect},
		{"no document", "/missing.json", cimdRedirect},
		{"a redirect URI the document does not list", "/good.json", "http://127.0.0.1:8976/other"},
	} {
		p := ask(d.URL+tc.path, tc.redirect)
		if p.Location != nil || p.Status < 400 {
			t.Errorf("%s: %d %v, want an error page and no redirect", tc.name, p.Status, p.Location)
		}
	}
	for _, bad := range []string{"http://127.0.0.1/client.json", d.URL, d.URL + "/", d.URL + "/a/../good.json", d.URL + "/good.json#x"} {
		if p := ask(bad, cimdRedirect); p.Location != nil || p.Status < 400 {
			t.Errorf("client_id %q: %d, want refused", bad, p.Status)
		}
	}
	if p := ask(d.URL+"/good.json", cimdRedirect); p.Status != http.StatusOK {
		t.Fatalf("the good document: %d", p.Status)
	}

	// Public addresses only, by default: the same document on loopback is refused.
	strict := oauthtest.New(t, &oauthtest.Options{CIMDTransport: d.transport(), CIMDPublicOnly: true})
	q := url.Values{"response_type": {"code"}, "client_id": {d.URL + "/good.json"}, "redirect_uri": {cimdRedirect}, "state": {"s"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
	if p := strict.NewBrowser().Get(t, strict.URL+"/authorize?"+q.Encode()); p.Location != nil || p.Status < 400 {
		t.Errorf("a document on a loopback address without CIMD_ALLOW_PRIVATE_ADDRESSES: %d, want refused", p.Status)
	}
}
