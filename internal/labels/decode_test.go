package labels

import (
	"errors"
	"strings"
	"testing"
)

func validLabels() map[string]string {
	return map[string]string{
		"traefik.enable":         "true",
		"traefik.docker.network": "public",
		"traefik.http.services.svc.loadbalancer.server.port":      "3000",
		"traefik.http.routers.svc.rule":                           "Host(`svc.example.com`)",
		"traefik.http.routers.svc.priority":                       "2",
		"traefik.http.routers.svc.entrypoints":                    "websecure",
		"traefik.http.routers.svc.middlewares":                    "a,b",
		"traefik.http.middlewares.a.plugin.mcpauth.resource":      "https://svc.example.com/mcp",
		"traefik.http.middlewares.a.plugin.mcpauth.revocationURL": "http://auth:8000/internal/revocations",
		"com.example.unrelated":                                   "kept",
	}
}

func TestDecodeContainer(t *testing.T) {
	c, err := DecodeContainer("svc", validLabels())
	if err != nil {
		t.Fatalf("DecodeContainer: %v", err)
	}
	r := c.HTTP.Routers["svc"]
	if r == nil {
		t.Fatalf("router svc missing: %+v", c.HTTP.Routers)
	}
	if r.Priority != 2 || r.Service != "svc" || strings.Join(r.Middlewares, ",") != "a,b" || strings.Join(r.EntryPoints, ",") != "websecure" {
		t.Errorf("router = %+v, want priority 2, service svc (linked by default), middlewares a,b, entry point websecure", r)
	}
	if got := c.HTTP.Services["svc"].LoadBalancer.Servers; len(got) != 1 || got[0].Port != "3000" {
		t.Errorf("servers = %+v, want one with port 3000", got)
	}
	if got := c.HTTP.Middlewares["a"].Plugin["mcpauth"]["revocationURL"]; got != "http://auth:8000/internal/revocations" {
		t.Errorf("plugin revocationURL = %v (keys keep their case for mapstructure)", got)
	}
	if !c.Enabled || c.Network != "public" {
		t.Errorf("Enabled=%v Network=%q, want true, public", c.Enabled, c.Network)
	}
}

func TestDecodeContainerRefuses(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(map[string]string)
		want   string
	}{
		{"unknown router field", func(l map[string]string) { l["traefik.http.routers.svc.middelwares"] = "a" }, "field not found"},
		{"unknown middleware kind", func(l map[string]string) { l["traefik.http.middlewares.x.forwardauthh.address"] = "http://a" }, "field not found"},
		{"priority not a number", func(l map[string]string) { l["traefik.http.routers.svc.priority"] = "high" }, "invalid syntax"},
		{"misspelt prefix", func(l map[string]string) { l["traefik.htp.routers.x.rule"] = "Host(`x`)" }, "traefik.htp.routers.x.rule"},
		{"enable not a bool", func(l map[string]string) { l["traefik.enable"] = "yes" }, "traefik.enable"},
		{"router without rule", func(l map[string]string) { l["traefik.http.routers.bare.priority"] = "1" }, "no rule"},
		{"router that cannot be linked", func(l map[string]string) {
			l["traefik.http.services.other.loadbalancer.server.port"] = "1"
		}, "names no service"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := validLabels()
			tc.mutate(l)
			_, err := DecodeContainer("svc", l)
			if !errors.Is(err, ErrLabel) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("DecodeContainer error = %v, want ErrLabel mentioning %q", err, tc.want)
			}
		})
	}
}

func TestDecodeContainerDisabledIgnoresRouting(t *testing.T) {
	l := validLabels()
	l["traefik.enable"] = "false"
	l["traefik.http.routers.svc.priority"] = "not decoded when disabled"
	c, err := DecodeContainer("svc", l)
	if err != nil {
		t.Fatalf("DecodeContainer: %v", err)
	}
	if c.Enabled || len(c.HTTP.Routers) != 0 {
		t.Errorf("disabled container decoded routers: %+v", c.HTTP.Routers)
	}
}

func TestMergeConflicts(t *testing.T) {
	a, err := DecodeContainer("a", validLabels())
	if err != nil {
		t.Fatal(err)
	}
	same, err := DecodeContainer("b", validLabels())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Merge([]*Container{a, same}); err != nil {
		t.Errorf("identical definitions: Merge error = %v, want nil", err)
	}
	l := validLabels()
	l["traefik.http.routers.svc.priority"] = "3"
	diff, err := DecodeContainer("c", l)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Merge([]*Container{a, diff}); !errors.Is(err, ErrLabel) || !strings.Contains(err.Error(), "router svc") {
		t.Errorf("conflicting router: Merge error = %v, want a conflict on router svc", err)
	}
}
