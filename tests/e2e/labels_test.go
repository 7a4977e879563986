package e2e

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/internal/labels"
	"github.com/mcp-oauth-gateway/gateway/tests/internal/traefiktest"
)

// TestLabelDerivedTraefik runs a second real Traefik on exactly the configuration
// the compose labels decode to (internal/labels), in front of this run's
// authsvc and bridges, with BASE_DOMAIN=localhost and host-based routing on one port
// as in production. Only what cannot exist outside Docker changes: backends are the
// loopback processes, `websecure`/`internal` become one plain-HTTP entry point, and
// public URLs gain that port (the issuer is this run's). The MCP flow must work
// through it just as through the `just run` routes.
func TestLabelDerivedTraefik(t *testing.T) {
	ctx := testContext(t)
	port := traefiktest.FreePort(t)
	p := strconv.Itoa(port)
	pub := func(svc string) string { return "http://" + svc + ".localhost:" + p }

	env := map[string]string{
		"BASE_DOMAIN": "localhost", "ACME_EMAIL": "ops@example.test", "ALLOWED_GITHUB_USERS": "alice",
		"GITHUB_CLIENT_ID": "id", "GITHUB_CLIENT_SECRET": "secret", "REDIS_PASSWORD": "unused",
		"REVOCATION_FEED_TOKEN": stack.Plan.RevocationToken,
		// The stack's own secret: the label-derived plugin signs, the bridges verify.
		"IDENTITY_SECRET": stack.Plan.IdentitySecret,
	}
	st, err := labels.Load("../../compose", env)
	if err != nil {
		t.Fatalf("load the compose labels: %v", err)
	}
	backends := map[string]string{"auth": stack.AuthInternal}
	replace := map[string]string{"https://auth.localhost": stack.Issuer}
	for _, r := range stack.Plan.Services {
		if r.Name == conformanceServer {
			continue // only in this test stack, not a compose service
		}
		backends[r.Name] = r.Backend
		replace["https://"+r.Name+".localhost/mcp"] = pub(r.Name) + "/mcp"
	}
	dyn, err := st.DynamicConfig(labels.Options{
		Backends:    backends,
		EntryPoints: map[string]string{"websecure": "web", "internal": "web"},
		Replace:     replace,
	})
	if err != nil {
		t.Fatalf("label-derived dynamic config: %v", err)
	}
	tr := traefiktest.Start(t, traefiktest.Options{
		Dynamic: string(dyn), LocalPlugin: true, Port: port,
		ReadyHost: "everything.localhost:" + p, ReadyPath: "/.well-known/oauth-protected-resource/mcp", ReadyStatus: http.StatusOK,
	})
	// *.localhost names all reach this Traefik, whatever the resolver says.
	client := &http.Client{
		Timeout:       60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{Proxy: nil, DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, tr.Addr)
		}},
	}
	mcpURL := pub("everything") + "/mcp"

	// Discovery exactly as a client does it, on the label routes.
	resp, body := mcpRequestVia(t, ctx, client, http.MethodPost, mcpURL, "", "", initializeBody, nil)
	if resp.StatusCode != http.StatusUnauthorized || param(resp.Header.Get("WWW-Authenticate"), "resource_metadata") != pub("everything")+"/.well-known/oauth-protected-resource/mcp" ||
		param(resp.Header.Get("WWW-Authenticate"), "scope") != "mcp" {
		t.Fatalf("no token: %d %q %s, want 401 pointing at the PRM, with scope mcp", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}
	for _, u := range []string{
		pub("everything") + "/.well-known/oauth-protected-resource/mcp",
		pub("everything") + "/.well-known/oauth-authorization-server", // router prio 10 → authsvc
		pub("auth") + "/.well-known/oauth-authorization-server",       // auth-oauth, prio 4
		pub("auth") + "/health",
	} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		r, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusOK {
			t.Errorf("GET %s through the label routes: %d, want 200", u, r.StatusCode)
		}
	}

	// A token for the label-routed resource works there, with a session.
	tok := userToken(t, ctx, alice, mcpURL).Token.AccessToken
	resp, body = mcpRequestVia(t, ctx, client, http.MethodPost, mcpURL, tok, "", initializeBody, nil)
	sid := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != http.StatusOK || sid == "" {
		t.Fatalf("initialize with a token: %d %.200s, want 200 and a session", resp.StatusCode, body)
	}
	if r, b := mcpRequestVia(t, ctx, client, http.MethodPost, mcpURL, tok, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, nil); r.StatusCode != http.StatusAccepted {
		t.Fatalf("initialized: %d %s", r.StatusCode, b)
	}
	resp, body = mcpRequestVia(t, ctx, client, http.MethodPost, mcpURL, tok, sid,
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"message":"via the labels"}}}`, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(rpcAnswerVia(t, ctx, client, resp, body, mcpURL, tok, sid), "via the labels") {
		t.Fatalf("tools/call echo through the label routes: %d %.300s", resp.StatusCode, body)
	}

	// The same token at another label-routed service, and at the just-run route of
	// the same server (another resource URL): refused.
	for _, other := range []string{pub("memory") + "/mcp", stack.MCPURL("everything")} {
		c := client // the label Traefik
		if !strings.Contains(other, ".localhost:") {
			c = noRedirect // the just-run Traefik
		}
		r, b := mcpRequestVia(t, ctx, c, http.MethodPost, other, tok, "", initializeBody, nil)
		if r.StatusCode != http.StatusUnauthorized {
			t.Errorf("token for %s at %s: %d %.200s, want 401", mcpURL, other, r.StatusCode, b)
		}
	}
}
