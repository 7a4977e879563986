package stack_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/mcp-oauth-gateway/gateway/internal/labels"
)

func TestRoutingPolicy(t *testing.T) {
	st, env := loadStack(t)
	for _, err := range checkStack(st, testDomain, env["REVOCATION_FEED_TOKEN"]) {
		t.Error(err)
	}
}

// TestRoutingTable spells out, for readers, where typical requests go.
func TestRoutingTable(t *testing.T) {
	st, _ := loadStack(t)
	tests := []struct {
		entryPoint, host, path string
		wantRouter             string
		wantService            string
		wantMiddlewares        string
	}{
		{"websecure", "auth." + testDomain, "/register", "auth-oauth", "auth", ""},
		{"websecure", "auth." + testDomain, "/.well-known/oauth-authorization-server", "auth-oauth", "auth", ""},
		{"websecure", "everything." + testDomain, "/.well-known/oauth-authorization-server", "everything-oauth-discovery", "auth", ""},
		{"websecure", "everything." + testDomain, "/mcp", "everything", "everything", "mcpauth-everything"},
		{"websecure", "everything." + testDomain, "/.well-known/oauth-protected-resource/mcp", "everything-catchall", "everything", "mcpauth-everything"},
		{"websecure", "memory." + testDomain, "/mcp", "memory", "memory", "mcpauth-memory"},
		{"websecure", "time." + testDomain, "/anything", "time-catchall", "time", "mcpauth-time"},
		{"internal", "auth", "/verify", "auth-verify", "auth", ""},
	}
	for _, tc := range tests {
		t.Run(tc.host+tc.path, func(t *testing.T) {
			got, err := st.Route(tc.entryPoint, labels.Request{Host: tc.host, Path: tc.path})
			if err != nil {
				t.Fatalf("Route: %v", err)
			}
			r := st.HTTP.Routers[got]
			if got != tc.wantRouter || r.Service != tc.wantService || strings.Join(r.Middlewares, ",") != tc.wantMiddlewares {
				t.Errorf("got router %s → %s [%s], want %s → %s [%s]", got, r.Service, strings.Join(r.Middlewares, ","),
					tc.wantRouter, tc.wantService, tc.wantMiddlewares)
			}
		})
	}
}

// TestLabelMutations breaks one label at a time, the way a typo would, and wants the
// decoder or the routing policy to notice.
func TestLabelMutations(t *testing.T) {
	env := exampleEnv(t)
	project, err := labels.LoadProject(composeDir, env)
	if err != nil {
		t.Fatalf("LoadProject: %v", err)
	}
	const r = "traefik.http.routers."
	const m = "traefik.http.middlewares."
	tests := []struct {
		name    string
		service string
		mutate  func(l map[string]string)
		want    string
	}{
		{"misspelt router field", "everything", func(l map[string]string) {
			l[r+"everything.middelwares"] = l[r+"everything.middlewares"]
			delete(l, r+"everything.middlewares")
		}, "field not found"},
		{"misspelt label prefix", "memory", func(l map[string]string) {
			l["traefik.htttp.routers.memory.priority"] = "2"
		}, "traefik.htttp"},
		{"wrong priority", "everything", func(l map[string]string) { l[r+"everything.priority"] = "20" }, "priority 20, want 2"},
		{"discovery below catch-all", "fetch", func(l map[string]string) { l[r+"fetch-oauth-discovery.priority"] = "1" }, "priority 1, want 10"},
		{"missing middleware on /mcp", "memory", func(l map[string]string) { delete(l, r+"memory.middlewares") }, "without mcpauth-memory"},
		{"missing middleware on catch-all", "time", func(l map[string]string) { delete(l, r+"time-catchall.middlewares") }, "middlewares [], want [mcpauth-time]"},
		{"another service's middleware", "filesystem", func(l map[string]string) {
			l[r+"filesystem.middlewares"] = "mcpauth-everything"
		}, "without mcpauth-filesystem"},
		{"undefined middleware", "filesystem", func(l map[string]string) {
			l[r+"filesystem-catchall.middlewares"] = "mcpauth-filesytem"
		}, `middleware "mcpauth-filesytem" is not defined`},
		{"auth middleware on discovery", "everything", func(l map[string]string) {
			l[r+"everything-oauth-discovery.middlewares"] = "mcpauth-everything"
		}, "middlewares [mcpauth-everything], want []"},
		{"public /verify", "auth", func(l map[string]string) {
			l[r+"auth-oauth.rule"] = strings.TrimSuffix(l[r+"auth-oauth.rule"], ")") + " || PathPrefix(`/verify`))"
		}, "reaches authsvc's internal endpoint"},
		{"public /internal", "auth", func(l map[string]string) {
			l[r+"auth-oauth.rule"] = "Host(`auth." + testDomain + "`)"
		}, "reaches authsvc's internal endpoint"},
		{"verify on the public entry point", "auth", func(l map[string]string) {
			l[r+"auth-verify.entrypoints"] = "websecure"
		}, "entry points [websecure], want [internal]"},
		{"router on every entry point", "time", func(l map[string]string) { delete(l, r+"time.entrypoints") }, "entry points [], want [websecure]"},
		{"OAuth path missing", "auth", func(l map[string]string) {
			l[r+"auth-oauth.rule"] = strings.Replace(l[r+"auth-oauth.rule"], " || PathPrefix(`/revoke`)", "", 1)
		}, "does not match auth." + testDomain + "/revoke"},
		{"misspelt matcher", "memory", func(l map[string]string) {
			l[r+"memory.rule"] = strings.Replace(l[r+"memory.rule"], "PathPrefix", "Pathprefix", 1)
		}, "unknown or unsupported matcher Pathprefix"},
		{"v2 rule syntax", "auth", func(l map[string]string) {
			l[r+"auth-oauth.rule"] = "Host(`auth." + testDomain + "`) && PathPrefix(`/register`, `/token`)"
		}, "exactly one argument"},
		{"wrong host", "fetch", func(l map[string]string) {
			l[r+"fetch.rule"] = "Host(`fetch.example.org`) && PathPrefix(`/mcp`)"
		}, "rule hosts [fetch.example.org]"},
		{"router to another bridge", "everything", func(l map[string]string) { l[r+"everything.service"] = "memory" }, `service "memory", want "everything"`},
		{"resource of another service", "memory", func(l map[string]string) {
			l[m+"mcpauth-memory.plugin.mcpauth.resource"] = "https://everything." + testDomain + "/mcp"
		}, "resource = \"https://everything."},
		{"plugin under another name", "time", func(l map[string]string) {
			for k, v := range maps.Clone(l) {
				if strings.HasPrefix(k, m+"mcpauth-time.plugin.mcpauth.") {
					delete(l, k)
					l[strings.Replace(k, "plugin.mcpauth.", "plugin.mcp-auth.", 1)] = v
				}
			}
		}, "plugins [mcp-auth], want [mcpauth]"},
		{"revocation feed unset", "fetch", func(l map[string]string) {
			delete(l, m+"mcpauth-fetch.plugin.mcpauth.revocationURL")
		}, "revocationURL = \"\""},
		{"wrong bridge port", "memory", func(l map[string]string) {
			l["traefik.http.services.memory.loadbalancer.server.port"] = "8080"
		}, "reaches \"http://memory:8080\""},
		{"no network named for Traefik", "time", func(l map[string]string) { delete(l, "traefik.docker.network") }, "traefik.docker.network"},
		{"another bridge's network", "time", func(l map[string]string) {
			l["traefik.docker.network"] = labels.ProjectName + "_mcp-memory"
		}, "traefik.docker.network"},
		{"service not exposed", "auth", func(l map[string]string) { l["traefik.enable"] = "false" }, "services with traefik.enable=true"},
		{"conflicting definitions", "memory", func(l map[string]string) {
			l[r+"everything.rule"] = "Host(`memory." + testDomain + "`)"
		}, "defined differently"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := cloneProject(project)
			svc, ok := p.Services[tc.service]
			if !ok {
				t.Fatalf("no compose service %s", tc.service)
			}
			svc.Labels = labels.Clone(svc.Labels)
			tc.mutate(svc.Labels)
			p.Services[tc.service] = svc
			st, err := labels.FromProject(p)
			var found []string
			if err != nil {
				found = append(found, err.Error())
			} else {
				for _, e := range checkStack(st, testDomain, env["REVOCATION_FEED_TOKEN"]) {
					found = append(found, e.Error())
				}
			}
			if len(found) == 0 {
				t.Fatalf("mutation went unnoticed")
			}
			for _, f := range found {
				if strings.Contains(f, tc.want) {
					return
				}
			}
			t.Errorf("no error mentions %q; got:\n  %s", tc.want, strings.Join(found, "\n  "))
		})
	}
}

// cloneProject copies what the mutations touch: the services map.
func cloneProject(p *types.Project) *types.Project {
	cp := *p
	cp.Services = maps.Clone(p.Services)
	return &cp
}
