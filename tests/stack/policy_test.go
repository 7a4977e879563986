package stack_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mcp-oauth-gateway/gateway/internal/labels"
)

// The stack's routing contract (docs/stack.md "Routing"). checkStack returns every way the
// decoded labels break it; TestRoutingPolicy wants none, TestLabelMutations wants at
// least one for each broken label.

const (
	authService      = "auth"
	authPort         = "8000"
	bridgePort       = "3000"
	publicEntryPoint = "websecure"
	internalEP       = "internal"
	pluginName       = "mcpauth"
	edgeNetwork      = "edge" // Traefik and authsvc; each bridge has its own with Traefik
)

// traefikNetwork is the compose network key through which Traefik reaches service svc:
// edge for authsvc, the bridge's own network for an MCP service.
func traefikNetwork(svc string) string {
	if svc == authService {
		return edgeNetwork
	}
	return "mcp-" + svc
}

// fileMiddlewares are defined in traefik/dynamic (file provider), not in labels, and
// applied in this order by the websecure entry point.
var fileMiddlewares = []string{"security-headers@file", "retry-unreachable@file"}

type wantRouter struct {
	name        string
	priority    int
	entryPoint  string
	service     string
	middlewares []string
	// match and noMatch are paths on the router's host (every host for auth-verify).
	match, noMatch []string
}

// authPublicPaths are authsvc's public endpoints; /verify and /internal/* are not.
var authPublicPaths = []string{
	"/register", "/register/client-123", "/authorize", "/token", "/callback", "/revoke",
	"/introspect", "/consent", "/.well-known/oauth-authorization-server",
	"/.well-known/openid-configuration", "/.well-known/jwks.json", "/health",
}

// internalPaths must never reach authsvc from the public entry point.
var internalPaths = []string{"/verify", "/verify/x", "/internal/revocations", "/internal/anything"}

func wantRouters(svc string) []wantRouter {
	if svc == authService {
		return []wantRouter{
			{name: "auth-oauth", priority: 4, entryPoint: publicEntryPoint, service: authService,
				match: authPublicPaths, noMatch: append([]string{"/", "/mcp", "/healthz"}, internalPaths...)},
			{name: "auth-verify", priority: 3, entryPoint: internalEP, service: authService,
				match: []string{"/verify"}, noMatch: []string{"/register", "/internal/revocations"}},
		}
	}
	mw := []string{"mcpauth-" + svc}
	return []wantRouter{
		{name: svc + "-oauth-discovery", priority: 10, entryPoint: publicEntryPoint, service: authService,
			match:   []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/mcp"},
			noMatch: []string{"/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp", "/mcp", "/.well-known/jwks.json"}},
		{name: svc, priority: 2, entryPoint: publicEntryPoint, service: svc, middlewares: mw,
			match: []string{"/mcp", "/mcp/"}, noMatch: []string{"/", "/health"}},
		{name: svc + "-catchall", priority: 1, entryPoint: publicEntryPoint, service: svc, middlewares: mw,
			match: []string{"/", "/health", "/.well-known/oauth-protected-resource/mcp", "/verify", "/internal/revocations"}},
	}
}

// wantPlugin is the mcpauth configuration every MCP service's middleware must carry.
func wantPlugin(svc, domain, revocationToken string) map[string]string {
	return map[string]string{
		"issuer":          "https://auth." + domain,
		"resource":        "https://" + svc + "." + domain + "/mcp",
		"jwksURL":         "http://" + authService + ":" + authPort + "/.well-known/jwks.json",
		"revocationURL":   "http://" + authService + ":" + authPort + "/internal/revocations",
		"revocationToken": revocationToken,
	}
}

func host(svc, domain string) string { return svc + "." + domain }

func checkStack(st *labels.Stack, domain, revocationToken string) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	// Which containers Traefik routes to.
	var enabled []string
	for _, name := range sortedNames(st.Containers) {
		c := st.Containers[name]
		if !c.Enabled {
			continue
		}
		enabled = append(enabled, name)
		// Docker names the network <project>_<key>; the label names it so.
		if want := labels.ProjectName + "_" + traefikNetwork(name); c.Network != want {
			fail("service %s: traefik.docker.network = %q, want %q", name, c.Network, want)
		}
	}
	wantEnabled := append([]string{authService}, mcpServices...)
	slices.Sort(wantEnabled)
	if !slices.Equal(enabled, wantEnabled) {
		fail("services with traefik.enable=true: %v, want %v", enabled, wantEnabled)
	}

	// Each container defines exactly its routers, with the contract's settings.
	for _, svc := range wantEnabled {
		c, ok := st.Containers[svc]
		if !ok || !c.Enabled {
			continue
		}
		want := wantRouters(svc)
		var wantNames []string
		for _, w := range want {
			wantNames = append(wantNames, w.name)
		}
		slices.Sort(wantNames)
		if got := sortedNames(c.HTTP.Routers); !slices.Equal(got, wantNames) {
			fail("service %s defines routers %v, want %v", svc, got, wantNames)
		}
		for _, w := range want {
			if r, ok := c.HTTP.Routers[w.name]; ok {
				errs = append(errs, checkRouter(svc, w, r, domain)...)
			}
		}
		port := bridgePort
		if svc == authService {
			port = authPort
		}
		if u, err := st.InternalURL(svc); err != nil || u != "http://"+svc+":"+port {
			fail("service %s: Traefik service %s reaches %q (%v), want http://%s:%s", svc, svc, u, err, svc, port)
		}
		if svc != authService {
			errs = append(errs, checkPlugin(c, wantPlugin(svc, domain, revocationToken))...)
		}
	}

	// Every reference resolves.
	for _, rn := range sortedNames(st.HTTP.Routers) {
		r := st.HTTP.Routers[rn]
		if _, ok := st.HTTP.Services[r.Service]; !ok {
			fail("router %s: service %q is not defined", rn, r.Service)
		}
		for _, m := range r.Middlewares {
			if _, ok := st.HTTP.Middlewares[m]; !ok && !slices.Contains(fileMiddlewares, m) {
				fail("router %s: middleware %q is not defined", rn, m)
			}
		}
	}

	errs = append(errs, checkRoutes(st, domain)...)
	return errs
}

func checkRouter(svc string, w wantRouter, r *labels.Router, domain string) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("router %s: "+format, append([]any{w.name}, args...)...))
	}
	if r.Priority != w.priority {
		fail("priority %d, want %d", r.Priority, w.priority)
	}
	if !slices.Equal(r.EntryPoints, []string{w.entryPoint}) {
		fail("entry points %v, want [%s]", r.EntryPoints, w.entryPoint)
	}
	if r.Service != w.service {
		fail("service %q, want %q", r.Service, w.service)
	}
	if !slices.Equal(r.Middlewares, w.middlewares) {
		fail("middlewares %v, want %v", r.Middlewares, w.middlewares)
	}
	if r.TLS != nil {
		fail("sets tls; the websecure entry point's certResolver covers every router")
	}
	rule, err := labels.ParseRule(r.Rule)
	if err != nil {
		fail("%v", err)
		return errs
	}
	h := host(svc, domain)
	if svc == authService {
		h = "auth." + domain
	}
	if w.entryPoint == publicEntryPoint {
		if hosts := rule.Hosts(); !slices.Equal(hosts, []string{h}) {
			fail("rule hosts %v, want exactly [%s]", hosts, h)
		}
	}
	for _, p := range w.match {
		if !rule.Match(labels.Request{Host: h, Path: p}) {
			fail("rule %q does not match %s%s", r.Rule, h, p)
		}
	}
	for _, p := range w.noMatch {
		if rule.Match(labels.Request{Host: h, Path: p}) {
			fail("rule %q matches %s%s, which it must not", r.Rule, h, p)
		}
	}
	return errs
}

func checkPlugin(c *labels.Container, want map[string]string) []error {
	var errs []error
	name := "mcpauth-" + c.Name
	m, ok := c.HTTP.Middlewares[name]
	if !ok {
		return []error{fmt.Errorf("service %s: middleware %s is not declared in its labels", c.Name, name)}
	}
	if got := sortedNames(c.HTTP.Middlewares); !slices.Equal(got, []string{name}) {
		errs = append(errs, fmt.Errorf("service %s declares middlewares %v, want only %s", c.Name, got, name))
	}
	if got := sortedNames(m.Plugin); !slices.Equal(got, []string{pluginName}) {
		return append(errs, fmt.Errorf("middleware %s: plugins %v, want [%s]", name, got, pluginName))
	}
	conf := m.Plugin[pluginName]
	for _, k := range sortedNames(want) {
		if got, _ := conf[k].(string); got != want[k] {
			errs = append(errs, fmt.Errorf("middleware %s: %s = %q, want %q", name, k, got, want[k]))
		}
	}
	return errs
}

// checkRoutes asks the routing table, as Traefik would resolve it, where requests go.
func checkRoutes(st *labels.Stack, domain string) []error {
	var errs []error
	route := func(ep, h, p, wantRouter string) {
		got, err := st.Route(ep, labels.Request{Host: h, Path: p})
		if wantRouter == "" {
			if !errors.Is(err, labels.ErrNoRoute) {
				errs = append(errs, fmt.Errorf("%s %s%s routes to %q (%v), want no route", ep, h, p, got, err))
			}
			return
		}
		if err != nil || got != wantRouter {
			errs = append(errs, fmt.Errorf("%s %s%s routes to %q (%v), want %s", ep, h, p, got, err, wantRouter))
		}
	}
	authHost := "auth." + domain
	for _, p := range authPublicPaths {
		route(publicEntryPoint, authHost, p, "auth-oauth")
	}
	for _, p := range append([]string{"/", "/mcp"}, internalPaths...) {
		route(publicEntryPoint, authHost, p, "")
	}
	route(internalEP, authService, "/verify", "auth-verify")
	route(internalEP, authHost, "/register", "")
	route(publicEntryPoint, "unknown."+domain, "/mcp", "")
	for _, svc := range mcpServices {
		h := host(svc, domain)
		route(publicEntryPoint, h, "/.well-known/oauth-authorization-server", svc+"-oauth-discovery")
		route(publicEntryPoint, h, "/.well-known/openid-configuration", svc+"-oauth-discovery")
		route(publicEntryPoint, h, "/mcp", svc)
		for _, p := range []string{"/", "/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp", "//mcp", "/%2e/mcp", "/register"} {
			route(publicEntryPoint, h, p, svc+"-catchall")
		}
	}
	// No public request reaches authsvc's internal endpoints, on any host, and every
	// public request that reaches an MCP bridge passes its own mcpauth instance.
	hosts := []string{authHost, "unknown." + domain}
	for _, svc := range mcpServices {
		hosts = append(hosts, host(svc, domain))
	}
	for _, h := range hosts {
		for _, p := range append(slices.Clone(internalPaths), "/mcp", "/", "/.well-known/oauth-protected-resource") {
			rn, err := st.Route(publicEntryPoint, labels.Request{Host: h, Path: p})
			if err != nil {
				continue
			}
			r := st.HTTP.Routers[rn]
			switch {
			case r.Service == authService && (strings.HasPrefix(p, "/verify") || strings.HasPrefix(p, "/internal")):
				errs = append(errs, fmt.Errorf("public request %s%s reaches authsvc's internal endpoint via router %s", h, p, rn))
			case r.Service != authService && !slices.Contains(r.Middlewares, "mcpauth-"+r.Service):
				errs = append(errs, fmt.Errorf("public request %s%s reaches %s via router %s without mcpauth-%s", h, p, r.Service, rn, r.Service))
			case r.Service == authService && slices.ContainsFunc(r.Middlewares, func(m string) bool { return strings.HasPrefix(m, "mcpauth") }):
				errs = append(errs, fmt.Errorf("OAuth route %s carries an auth middleware", rn))
			}
		}
	}
	return errs
}
