package stack_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"
)

func readYAML(t *testing.T, rel string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(repoPath(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return m
}

// dig walks nested maps: dig(m, "a", "b") is m["a"]["b"], nil when absent.
func dig(m any, path ...string) any {
	for _, p := range path {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[p]
	}
	return m
}

func modulePath(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(repoPath(t, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "module "); ok {
			return strings.TrimSpace(rest)
		}
	}
	t.Fatal("go.mod has no module line")
	return ""
}

func TestTraefikStaticConfig(t *testing.T) {
	st, _ := loadStack(t)
	module := modulePath(t)
	for _, file := range []string{"traefik/traefik.yml", "traefik/traefik.catalog.yml"} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			c := readYAML(t, file)
			checks := []struct {
				path []string
				want any
			}{
				{[]string{"entryPoints", "web", "address"}, ":80"},
				{[]string{"entryPoints", "web", "http", "redirections", "entryPoint", "to"}, publicEntryPoint},
				{[]string{"entryPoints", "web", "http", "redirections", "entryPoint", "scheme"}, "https"},
				{[]string{"entryPoints", publicEntryPoint, "address"}, ":443"},
				{[]string{"entryPoints", publicEntryPoint, "asDefault"}, true},
				{[]string{"entryPoints", publicEntryPoint, "http", "tls", "certResolver"}, "letsencrypt"},
				{[]string{"entryPoints", internalEP, "address"}, ":8081"},
				{[]string{"ping", "entryPoint"}, "ping"},
				{[]string{"providers", "docker", "exposedByDefault"}, false},
				{[]string{"providers", "docker", "constraints"}, "Label(`com.docker.compose.project`, `@COMPOSE_PROJECT@`)"},
				{[]string{"providers", "file", "directory"}, "/etc/traefik/dynamic"},
				{[]string{"certificatesResolvers", "letsencrypt", "acme", "email"}, "@ACME_EMAIL@"},
				{[]string{"accessLog", "format"}, "json"},
				{[]string{"accessLog", "filePath"}, "/logs/access.log"},
				{[]string{"accessLog", "fields", "headers", "names", "Authorization"}, "drop"},
				{[]string{"accessLog", "fields", "names", "RequestPath"}, "drop"},
			}
			for _, ck := range checks {
				if got := dig(c, ck.path...); !reflect.DeepEqual(got, ck.want) {
					t.Errorf("%s = %v, want %v", strings.Join(ck.path, "."), got, ck.want)
				}
			}
			if dig(c, "certificatesResolvers", "letsencrypt", "acme", "tlsChallenge") == nil &&
				dig(c, "certificatesResolvers", "letsencrypt", "acme", "httpChallenge") == nil {
				t.Errorf("letsencrypt has neither tlsChallenge nor httpChallenge")
			}
			// Every entry point a router names exists.
			for _, rn := range sortedNames(st.HTTP.Routers) {
				for _, ep := range st.HTTP.Routers[rn].EntryPoints {
					if dig(c, "entryPoints", ep) == nil {
						t.Errorf("router %s uses entry point %s, which %s does not define", rn, ep, file)
					}
				}
			}
			kind := "localPlugins"
			if strings.HasSuffix(file, ".catalog.yml") {
				kind = "plugins"
			}
			if got := dig(c, "experimental", kind, pluginName, "moduleName"); got != module {
				t.Errorf("experimental.%s.%s.moduleName = %v, want the module path %s", kind, pluginName, got, module)
			}
			if kind == "plugins" {
				if v, _ := dig(c, "experimental", kind, pluginName, "version").(string); !strings.HasPrefix(v, "v") {
					t.Errorf("experimental.plugins.%s.version = %q, want a release tag", pluginName, v)
				}
			}
		})
	}
	// The catalog variant differs only in where the plugin comes from.
	local, catalog := readYAML(t, "traefik/traefik.yml"), readYAML(t, "traefik/traefik.catalog.yml")
	delete(local, "experimental")
	delete(catalog, "experimental")
	if !reflect.DeepEqual(local, catalog) {
		t.Errorf("traefik.yml and traefik.catalog.yml differ outside experimental:\nlocal   %v\ncatalog %v", local, catalog)
	}
	// The Swarm variant differs only in its provider: Swarm's, constrained to the stack.
	local, swarm := readYAML(t, "traefik/traefik.yml"), readYAML(t, "traefik/traefik.swarm.yml")
	for path, want := range map[string]any{
		"exposedByDefault": false,
		"constraints":      "Label(`com.docker.stack.namespace`, `@COMPOSE_PROJECT@`)",
		"endpoint":         "unix:///var/run/docker.sock",
	} {
		if got := dig(swarm, "providers", "swarm", path); !reflect.DeepEqual(got, want) {
			t.Errorf("traefik.swarm.yml providers.swarm.%s = %v, want %v", path, got, want)
		}
	}
	if dig(swarm, "providers", "docker") != nil {
		t.Error("traefik.swarm.yml keeps the docker provider")
	}
	delete(dig(local, "providers").(map[string]any), "docker")
	delete(dig(swarm, "providers").(map[string]any), "swarm")
	if !reflect.DeepEqual(local, swarm) {
		t.Errorf("traefik.yml and traefik.swarm.yml differ outside the provider:\nlocal %v\nswarm %v", local, swarm)
	}
}

// TestTraefikContainer: what the Traefik service mounts and publishes matches the
// static configuration.
func TestTraefikContainer(t *testing.T) {
	st, _ := loadStack(t)
	tr := st.Project.Services["traefik"]
	var published []string
	for _, p := range tr.Ports {
		published = append(published, fmt.Sprintf("%s->%d", p.Published, p.Target))
	}
	slices.Sort(published)
	if want := []string{"443->443", "80->80"}; !slices.Equal(published, want) {
		t.Errorf("traefik publishes %v, want only %v (internal :8081 and ping :8082 stay inside Docker)", published, want)
	}
	mounts := map[string]string{}
	for _, v := range tr.Volumes {
		mounts[v.Target] = v.Source
	}
	for target, src := range map[string]string{
		"/etc/traefik/traefik.yml":         repoPath(t, "traefik/traefik.yml"),
		"/etc/traefik/traefik.catalog.yml": repoPath(t, "traefik/traefik.catalog.yml"),
		"/etc/traefik/traefik.swarm.yml":   repoPath(t, "traefik/traefik.swarm.yml"),
		"/etc/traefik/dynamic/base":        repoPath(t, "traefik/dynamic"),
		"/etc/traefik/dynamic/local-tls":   repoPath(t, ".local-tls/traefik"),
		"/var/run/docker.sock":             "/var/run/docker.sock",
		"/logs":                            repoPath(t, "logs/traefik"),
	} {
		if mounts[target] != src {
			t.Errorf("traefik mounts %q at %s, want %q", mounts[target], target, src)
		}
	}
	if got := tr.Environment["TRAEFIK_STATIC_CONFIG"]; got == nil || *got != "traefik.yml" {
		t.Errorf("TRAEFIK_STATIC_CONFIG = %v, want traefik.yml (the plugin from this checkout) by default", got)
	}
	if !strings.Contains(strings.Join(tr.Entrypoint, " "), "exec traefik --configFile=/tmp/traefik.yml") {
		t.Errorf("traefik entrypoint %q does not start Traefik with the rendered config", tr.Entrypoint)
	}
	if tr.Image != "traefik:v3.6.12" {
		t.Errorf("traefik image %q, want traefik:v3.6.12 (the version the tests build and run)", tr.Image)
	}
}

// TestTraefikLocalPlugin: by default Traefik loads the plugin from this checkout:
// exactly the plugin's files are mounted (never .env or keys), where Traefik's local
// plugin loader looks for the module, so `just up` needs no catalog release.
func TestTraefikLocalPlugin(t *testing.T) {
	st, _ := loadStack(t)
	base := "/plugins-local/src/" + modulePath(t) + "/"
	want := map[string]bool{".traefik.yml": false, "go.mod": false, "plugin": false}
	for _, v := range st.Project.Services["traefik"].Volumes {
		rel, ok := strings.CutPrefix(v.Target, base)
		if !ok {
			continue
		}
		if _, known := want[rel]; !known || v.Source != repoPath(t, rel) || !v.ReadOnly {
			t.Errorf("traefik mounts %s read-only=%v at %s; only .traefik.yml, go.mod and plugin/ belong there, read-only", v.Source, v.ReadOnly, v.Target)
			continue
		}
		want[rel] = true
	}
	for rel, ok := range want {
		if !ok {
			t.Errorf("traefik does not mount %s at %s%s", rel, base, rel)
		}
	}
	if got := dig(readYAML(t, "traefik/traefik.yml"), "experimental", "localPlugins", pluginName, "moduleName"); got != modulePath(t) {
		t.Errorf("traefik.yml loads local plugin %v, want %s", got, modulePath(t))
	}
}

// TestTraefikDynamicFiles: what the static config refers to in the file provider exists.
func TestTraefikDynamicFiles(t *testing.T) {
	mw := readYAML(t, "traefik/dynamic/middlewares.yml")
	for _, m := range fileMiddlewares {
		name := strings.TrimSuffix(m, "@file")
		if dig(mw, "http", "middlewares", name) == nil {
			t.Errorf("middleware %s is not defined in traefik/dynamic/middlewares.yml", m)
		}
	}
	tls := readYAML(t, "traefik/dynamic/tls.yml")
	if got := dig(tls, "tls", "options", "modern", "minVersion"); got != "VersionTLS12" {
		t.Errorf("tls options modern minVersion = %v, want VersionTLS12", got)
	}
	static := readYAML(t, "traefik/traefik.yml")
	if got := dig(static, "entryPoints", publicEntryPoint, "http", "tls", "options"); got != "modern@file" {
		t.Errorf("websecure TLS options = %v, want modern@file", got)
	}
	for _, f := range []string{"traefik/traefik.yml", "traefik/traefik.catalog.yml", "traefik/traefik.swarm.yml"} {
		got, _ := dig(readYAML(t, f), "entryPoints", publicEntryPoint, "http", "middlewares").([]any)
		if fmt.Sprint(got) != fmt.Sprint(fileMiddlewares) {
			t.Errorf("%s: websecure middlewares = %v, want %v", f, got, fileMiddlewares)
		}
	}
}
