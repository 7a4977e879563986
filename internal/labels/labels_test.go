package labels

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

func testStack(t *testing.T) *Stack {
	t.Helper()
	svc := func(name string, l types.Labels) types.ServiceConfig {
		s := types.ServiceConfig{Name: name}
		s.Labels = l // promoted from the embedded ContainerSpec
		return s
	}
	p := &types.Project{Services: types.Services{
		"auth": svc("auth", types.Labels{
			"traefik.enable": "true",
			"traefik.http.services.auth.loadbalancer.server.port": "8000",
			"traefik.http.routers.auth-oauth.rule":                "Host(`auth.example.com`) && PathPrefix(`/token`)",
			"traefik.http.routers.auth-oauth.priority":            "4",
			"traefik.http.routers.auth-oauth.entrypoints":         "websecure",
		}),
		"svc": svc("svc", types.Labels{
			"traefik.enable": "true",
			"traefik.http.services.svc.loadbalancer.server.port":             "3000",
			"traefik.http.routers.svc.rule":                                  "Host(`svc.example.com`)",
			"traefik.http.routers.svc.priority":                              "1",
			"traefik.http.routers.svc.entrypoints":                           "websecure",
			"traefik.http.routers.svc.middlewares":                           "mcpauth-svc",
			"traefik.http.routers.svc-discovery.rule":                        "Host(`svc.example.com`) && PathPrefix(`/.well-known/oauth-authorization-server`)",
			"traefik.http.routers.svc-discovery.priority":                    "10",
			"traefik.http.routers.svc-discovery.service":                     "auth",
			"traefik.http.middlewares.mcpauth-svc.plugin.mcpauth.jwksURL":    "http://auth:8000/.well-known/jwks.json",
			"traefik.http.middlewares.mcpauth-svc.plugin.mcpauth.issuer":     "https://auth.example.com",
			"traefik.http.middlewares.mcpauth-svc.plugin.mcpauth.clockSkew":  "30s",
			"traefik.http.middlewares.mcpauth-svc.plugin.mcpauth.authServer": "http://auth:80000/not-the-internal-url",
		}),
		"redis": svc("redis", nil),
	}}
	st, err := FromProject(p)
	if err != nil {
		t.Fatalf("FromProject: %v", err)
	}
	return st
}

func TestStackRoute(t *testing.T) {
	st := testStack(t)
	tests := []struct {
		ep, host, path, want string
	}{
		{"websecure", "auth.example.com", "/token", "auth-oauth"},
		{"websecure", "svc.example.com", "/.well-known/oauth-authorization-server", "svc-discovery"},
		{"websecure", "svc.example.com", "/mcp", "svc"},
	}
	for _, tc := range tests {
		got, err := st.Route(tc.ep, Request{Host: tc.host, Path: tc.path})
		if err != nil || got != tc.want {
			t.Errorf("Route(%s %s%s) = %q, %v; want %s", tc.ep, tc.host, tc.path, got, err, tc.want)
		}
	}
	// svc-discovery has no entry points (so it is on all of them) but needs its path;
	// svc is on websecure only.
	if got, err := st.Route("other", Request{Host: "svc.example.com", Path: "/mcp"}); !errors.Is(err, ErrNoRoute) {
		t.Errorf("Route(other svc.example.com/mcp) = %q, %v; want ErrNoRoute", got, err)
	}
	if got, err := st.Route("other", Request{Host: "svc.example.com", Path: "/.well-known/oauth-authorization-server"}); err != nil || got != "svc-discovery" {
		t.Errorf("Route(other …/.well-known/oauth-authorization-server) = %q, %v; want svc-discovery", got, err)
	}
	if u, err := st.InternalURL("svc"); err != nil || u != "http://svc:3000" {
		t.Errorf("InternalURL(svc) = %q, %v", u, err)
	}
}

func TestDynamicConfig(t *testing.T) {
	st := testStack(t)
	b, err := st.DynamicConfig(Options{
		Backends:    map[string]string{"auth": "http://127.0.0.1:9000/", "svc": "http://127.0.0.1:9001"},
		EntryPoints: map[string]string{"websecure": "web"},
		Replace:     map[string]string{"https://auth.example.com": "http://auth.localhost:8080"},
	})
	if err != nil {
		t.Fatalf("DynamicConfig: %v", err)
	}
	if strings.Contains(string(b), `\u0026`) {
		t.Errorf("rules are HTML-escaped: %s", b)
	}
	var got Configuration
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	h := got.HTTP
	checks := []struct{ name, got, want string }{
		{"auth server", h.Services["auth"].LoadBalancer.Servers[0].URL, "http://127.0.0.1:9000"},
		{"svc server", h.Services["svc"].LoadBalancer.Servers[0].URL, "http://127.0.0.1:9001"},
		{"entry point renamed", strings.Join(h.Routers["svc"].EntryPoints, ","), "web"},
		{"entry points left alone", strings.Join(h.Routers["svc-discovery"].EntryPoints, ","), ""},
		{"jwksURL onto the auth backend", h.Middlewares["mcpauth-svc"].Plugin["mcpauth"]["jwksURL"].(string), "http://127.0.0.1:9000/.well-known/jwks.json"},
		{"issuer replaced", h.Middlewares["mcpauth-svc"].Plugin["mcpauth"]["issuer"].(string), "http://auth.localhost:8080"},
		{"only whole URL prefixes", h.Middlewares["mcpauth-svc"].Plugin["mcpauth"]["authServer"].(string), "http://auth:80000/not-the-internal-url"},
		{"other settings kept", h.Middlewares["mcpauth-svc"].Plugin["mcpauth"]["clockSkew"].(string), "30s"},
		{"rule kept", h.Routers["auth-oauth"].Rule, "Host(`auth.example.com`) && PathPrefix(`/token`)"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	// The stack itself is not modified.
	if st.HTTP.Routers["svc"].EntryPoints[0] != "websecure" {
		t.Errorf("DynamicConfig modified the stack's routers")
	}
	if _, err := st.DynamicConfig(Options{Backends: map[string]string{"nope": "http://x"}}); err == nil {
		t.Errorf("a backend for an unknown service is accepted")
	}
}
