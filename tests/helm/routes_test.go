package helm_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/mitchellh/mapstructure"
	"sigs.k8s.io/yaml"

	"github.com/mcp-oauth-gateway/gateway/internal/labels"
	mcpauth "github.com/mcp-oauth-gateway/gateway/plugin"
)

// composeEnv is .env.example as compose reads it, BASE_DOMAIN set to testDomain and
// every variable the compose files require (${VAR:?…}) but .env.example leaves empty
// filled with 32 bytes in hex (as tests/stack does).
func composeEnv() (map[string]string, error) {
	env, err := labels.ReadEnvFile(filepath.Join(repoRoot, ".env.example"))
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(repoRoot, "compose", "*.yaml"))
	if err != nil {
		return nil, err
	}
	required := regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*):\?`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for _, m := range required.FindAllStringSubmatch(string(b), -1) {
			if env[m[1]] == "" {
				sum := sha256.Sum256([]byte(m[1]))
				env[m[1]] = hex.EncodeToString(sum[:])
			}
		}
	}
	env["BASE_DOMAIN"] = testDomain
	env["ACME_EMAIL"] = "ops@" + testDomain
	return env, nil
}

type composeModel struct {
	Stack *labels.Stack
	Env   map[string]string
}

var loadCompose = sync.OnceValues(func() (*composeModel, error) {
	env, err := composeEnv()
	if err != nil {
		return nil, err
	}
	st, err := labels.Load(filepath.Join(repoRoot, "compose"), env)
	if err != nil {
		return nil, err
	}
	return &composeModel{Stack: st, Env: env}, nil
})

func mustCompose(t testing.TB) *composeModel {
	t.Helper()
	c, err := loadCompose()
	if err != nil {
		t.Fatalf("loading the compose stack: %v", err)
	}
	return c
}

// route is one router, in terms both sides share: the compose service it reaches
// ("auth", or an MCP server's name) and the port it listens on, and each mcpauth
// middleware's settings with the internal URLs and secrets written the same way.
type route struct {
	EntryPoints []string
	Rule        string
	Priority    int
	Service     string
	Port        string
	Auth        []map[string]any
	TLS         bool
}

// The secret settings of the mcpauth middlewares, by the .env name (and Secret key)
// of their value.
var pluginSecrets = []string{"REVOCATION_FEED_TOKEN", "IDENTITY_SECRET"}

// normalizeAuth rewrites one mcpauth middleware's settings into the shared form: a
// list setting (a []string field of the plugin's Config: compose labels give "a,b",
// the CRD a list) as a list, a URL on an internal host as http://<compose service>:<port><path>
// (internalHost maps a host to that), and a secret as "secret:<.env name>" (secretOf
// recognizes one).
func normalizeAuth(conf map[string]any, internalHost func(host string) (string, bool), secretOf func(v string) (string, bool)) map[string]any {
	lists := pluginListFields()
	out := map[string]any{}
	for k, v := range conf {
		switch x := v.(type) {
		case string:
			if lists[strings.ToLower(k)] {
				out[k] = strings.Split(x, ",")
				continue
			}
			if s, ok := secretOf(x); ok {
				out[k] = "secret:" + s
				continue
			}
			if u, err := url.Parse(x); err == nil && u.Scheme == "http" {
				if svc, ok := internalHost(u.Hostname()); ok {
					out[k] = "http://" + svc + ":" + u.Port() + u.EscapedPath()
					continue
				}
			}
			out[k] = x
		case []any:
			l := make([]string, len(x))
			for i, e := range x {
				l[i] = fmt.Sprint(e)
			}
			out[k] = l
		default:
			out[k] = v
		}
	}
	return out
}

// pluginListFields are the mcpauth Config fields that are lists, by lower-case name.
func pluginListFields() map[string]bool {
	out := map[string]bool{}
	typ := reflect.TypeOf(mcpauth.Config{})
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Type.Kind() == reflect.Slice {
			out[strings.ToLower(f.Name)] = true
		}
	}
	return out
}

// composeRoutes are the routers the compose labels declare. TLS is the router's entry
// point having TLS in traefik/traefik.yml (compose routers get it there).
func composeRoutes(c *composeModel) (map[string]route, error) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "traefik", "traefik.yml"))
	if err != nil {
		return nil, err
	}
	var static map[string]any
	if err := yaml.Unmarshal(b, &static); err != nil {
		return nil, err
	}
	st := c.Stack
	internal := func(host string) (string, bool) {
		_, ok := st.Containers[host]
		return host, ok
	}
	secretOf := func(v string) (string, bool) {
		for _, k := range pluginSecrets {
			if v == c.Env[k] {
				return k, true
			}
		}
		return "", false
	}
	out := map[string]route{}
	for name, r := range st.HTTP.Routers {
		owner, ok := st.ServiceOwner(r.Service)
		if !ok {
			return nil, fmt.Errorf("router %s: no container defines service %s", name, r.Service)
		}
		lb := st.HTTP.Services[r.Service].LoadBalancer
		rt := route{EntryPoints: r.EntryPoints, Rule: r.Rule, Priority: r.Priority, Service: owner, Port: lb.Servers[0].Port}
		for _, ep := range r.EntryPoints {
			if dig(static, "entryPoints", ep, "http", "tls") != nil {
				rt.TLS = true
			}
		}
		for _, m := range r.Middlewares {
			mw, ok := st.HTTP.Middlewares[m]
			if !ok || mw.Plugin["mcpauth"] == nil {
				return nil, fmt.Errorf("router %s: middleware %s is not an mcpauth plugin of the labels", name, m)
			}
			rt.Auth = append(rt.Auth, normalizeAuth(mw.Plugin["mcpauth"], internal, secretOf))
		}
		out[name] = rt
	}
	return out, nil
}

// renderedRoutes reads the routers back from a render: the IngressRoutes (one route
// each, named by their mcp-oauth-gateway/router label), the Services they name (and
// the container port behind the Service port), the Middlewares they use. Security
// headers are left out of Auth (compose attaches them to the entry point, see
// TestSecurityHeadersAndTLS); anything else that is not right is returned as problems.
func renderedRoutes(r *rendering, secretName string) (map[string]route, []string) {
	var problems []string
	// Kubernetes Service → compose service, and the container port behind each port.
	composeName := map[string]string{}
	for _, s := range r.ofKind("Service") {
		switch l := s.Labels(); l["app.kubernetes.io/component"] {
		case "authsvc":
			composeName[s.Name()] = "auth"
		case "mcp-bridge":
			composeName[s.Name()] = l["mcp-oauth-gateway/server"]
		}
	}
	clusterSuffix := "." + namespace + ".svc.cluster.local"
	internal := func(host string) (string, bool) {
		svc, ok := composeName[strings.TrimSuffix(host, clusterSuffix)]
		return svc, ok && strings.HasSuffix(host, clusterSuffix)
	}
	secretOf := func(v string) (string, bool) {
		rest, ok := strings.CutPrefix(v, "urn:k8s:secret:"+secretName+":")
		return rest, ok && slices.Contains(pluginSecrets, rest)
	}
	out := map[string]route{}
	for _, ir := range r.ofKind("IngressRoute") {
		name := ir.Labels()["mcp-oauth-gateway/router"]
		if name == "" {
			problems = append(problems, fmt.Sprintf("%s has no mcp-oauth-gateway/router label", ir))
			continue
		}
		routes, _ := dig(ir.Doc, "spec", "routes").([]any)
		if len(routes) != 1 {
			problems = append(problems, fmt.Sprintf("%s has %d routes, want 1", ir, len(routes)))
			continue
		}
		rt := route{Rule: str(routes[0], "match"), TLS: dig(ir.Doc, "spec", "tls") != nil}
		if k := str(routes[0], "kind"); k != "Rule" {
			problems = append(problems, fmt.Sprintf("%s: kind %q", ir, k))
		}
		switch p := dig(routes[0], "priority").(type) {
		case float64:
			rt.Priority = int(p)
		case int:
			rt.Priority = p
		}
		for _, ep := range anyList(dig(ir.Doc, "spec", "entryPoints")) {
			rt.EntryPoints = append(rt.EntryPoints, fmt.Sprint(ep))
		}
		services := anyList(dig(routes[0], "services"))
		if len(services) != 1 {
			problems = append(problems, fmt.Sprintf("%s: %d services, want 1", ir, len(services)))
			continue
		}
		svcName := str(services[0], "name")
		rt.Service = composeName[svcName]
		if rt.Service == "" {
			problems = append(problems, fmt.Sprintf("%s: service %s is not one of the chart's", ir, svcName))
		}
		rt.Port = containerPort(r, svcName, dig(services[0], "port"))
		for _, m := range anyList(dig(routes[0], "middlewares")) {
			mw := r.find("Middleware", str(m, "name"))
			switch {
			case mw == nil:
				problems = append(problems, fmt.Sprintf("%s: middleware %s is not rendered", ir, str(m, "name")))
			case dig(mw.Doc, "spec", "headers") != nil, dig(mw.Doc, "spec", "retry") != nil:
				// compose's entry-point middlewares (TestPublicMiddlewaresAndTLS)
			case dig(mw.Doc, "spec", "plugin", "mcpauth") != nil:
				conf, _ := dig(mw.Doc, "spec", "plugin", "mcpauth").(map[string]any)
				rt.Auth = append(rt.Auth, normalizeAuth(conf, internal, secretOf))
			default:
				problems = append(problems, fmt.Sprintf("%s: middleware %s is neither security headers, retry nor mcpauth", ir, mw.Name()))
			}
		}
		if _, dup := out[name]; dup {
			problems = append(problems, "router "+name+" is rendered twice")
		}
		out[name] = rt
	}
	return out, problems
}

// containerPort follows an IngressRoute's service port to the container port behind
// it (Service port → targetPort → the selected pods' container port), as Traefik
// reaches the pods themselves.
func containerPort(r *rendering, service string, port any) string {
	svc := r.find("Service", service)
	if svc == nil {
		return "no Service " + service
	}
	for _, p := range anyList(dig(svc.Doc, "spec", "ports")) {
		if fmt.Sprint(dig(p, "port")) != fmt.Sprint(port) {
			continue
		}
		target := dig(p, "targetPort")
		for _, d := range r.ofKind("Deployment") {
			if !selects(dig(svc.Doc, "spec", "selector"), podLabels(d)) {
				continue
			}
			for _, c := range anyList(dig(d.Doc, "spec", "template", "spec", "containers")) {
				for _, cp := range anyList(dig(c, "ports")) {
					if fmt.Sprint(dig(cp, "name")) == fmt.Sprint(target) || fmt.Sprint(dig(cp, "containerPort")) == fmt.Sprint(target) {
						return fmt.Sprint(dig(cp, "containerPort"))
					}
				}
			}
		}
		return fmt.Sprintf("no container port %v behind Service %s", target, service)
	}
	return fmt.Sprintf("Service %s has no port %v", service, port)
}

// diffRoutes lists every difference between the routers wanted and those rendered.
func diffRoutes(want, got map[string]route) []string {
	var out []string
	for _, name := range sortedKeys(want) {
		g, ok := got[name]
		if !ok {
			out = append(out, "router "+name+": not rendered")
			continue
		}
		w := want[name]
		check := func(field string, wv, gv any) {
			if !reflect.DeepEqual(wv, gv) {
				out = append(out, fmt.Sprintf("router %s: %s %v, compose has %v", name, field, gv, wv))
			}
		}
		check("rule", w.Rule, g.Rule)
		check("priority", w.Priority, g.Priority)
		check("entry points", w.EntryPoints, g.EntryPoints)
		check("backend", w.Service+":"+w.Port, g.Service+":"+g.Port)
		check("TLS", w.TLS, g.TLS)
		check("mcpauth middlewares", w.Auth, g.Auth)
	}
	for _, name := range sortedKeys(got) {
		if _, ok := want[name]; !ok {
			out = append(out, "router "+name+": rendered, but compose has no such router")
		}
	}
	return out
}

// renameServer returns the routers of compose's template server (memory) as a copy
// named to would have them: docs/stack.md's "Adding an MCP server" (copy
// compose/mcp-memory.yaml, replace memory everywhere).
func renameServer(routes map[string]route, from, to string) map[string]route {
	out := map[string]route{}
	for name, r := range routes {
		if r.Service != from && !strings.HasPrefix(name, from+"-") {
			continue
		}
		r.Rule = strings.ReplaceAll(r.Rule, "`"+from+".", "`"+to+".")
		if r.Service == from {
			r.Service = to
		}
		var auth []map[string]any
		for _, a := range r.Auth {
			c := map[string]any{}
			for k, v := range a {
				if s, ok := v.(string); ok {
					v = strings.ReplaceAll(s, "https://"+from+".", "https://"+to+".")
				}
				c[k] = v
			}
			auth = append(auth, c)
		}
		r.Auth = auth
		out[to+strings.TrimPrefix(name, from)] = r
	}
	return out
}

// expectedRoutes are compose's routers as the chart should render them for a set of
// values: auth-verify only when enabled, and the routers of servers compose does not
// have as a copy of memory's; extra settings the values add to a server's mcpauth are
// added to what compose has.
func expectedRoutes(t testing.TB, c *composeModel, verify bool, extraServers []string, extraAuth map[string]map[string]any) map[string]route {
	t.Helper()
	want, err := composeRoutes(c)
	if err != nil {
		t.Fatal(err)
	}
	if !verify {
		delete(want, "auth-verify")
	}
	for _, s := range extraServers {
		for k, v := range renameServer(want, "memory", s) {
			want[k] = v
		}
	}
	for k, r := range want {
		for i := range r.Auth {
			for _, extra := range []map[string]any{extraAuth["*"], extraAuth[r.Service]} {
				for ek, ev := range extra {
					r.Auth[i][ek] = ev
				}
			}
		}
		want[k] = r
	}
	return want
}

// TestRoutesMatchCompose: the rendered IngressRoutes are the compose labels' routers,
// router by router (name, rule, priority, entry points, the service and port they
// reach, each mcpauth middleware's settings), with the default values (auth-verify
// off) and with the override (auth-verify on, a sixth server routed like memory,
// further mcpauth settings, a TLS Secret and an existing Secret).
func TestRoutesMatchCompose(t *testing.T) {
	c := mustCompose(t)
	t.Run("default", func(t *testing.T) {
		got, problems := renderedRoutes(mustRender(t, defaultRender), fullname+"-secrets")
		for _, p := range problems {
			t.Error(p)
		}
		for _, d := range diffRoutes(expectedRoutes(t, c, false, nil, nil), got) {
			t.Error(d)
		}
	})
	t.Run("override", func(t *testing.T) {
		got, problems := renderedRoutes(mustRender(t, overrideRender), "gateway-secrets")
		for _, p := range problems {
			t.Error(p)
		}
		want := expectedRoutes(t, c, true, []string{"git"}, map[string]map[string]any{
			"*":   {"revocationInterval": "10s"},
			"git": {"allowedUsers": []string{"alice"}},
		})
		for _, d := range diffRoutes(want, got) {
			t.Error(d)
		}
	})
}

// TestRouteComparisonBites: the comparison above fails when the chart's routes drift
// from the labels, one change at a time: a priority, a host, an entry point, a missing
// mcpauth middleware, another server's resource, a router too many.
func TestRouteComparisonBites(t *testing.T) {
	c := mustCompose(t)
	want := expectedRoutes(t, c, false, nil, nil)
	routeOf := func(d map[string]any) map[string]any { return anyList(dig(d, "spec", "routes"))[0].(map[string]any) }
	tests := []struct {
		name, router, want string
		mutate             func(d map[string]any)
	}{
		{"priority", "memory-catchall", "router memory-catchall: priority 3, compose has 1",
			func(d map[string]any) { routeOf(d)["priority"] = 3 }},
		{"host", "fetch", "router fetch: rule",
			func(d map[string]any) { routeOf(d)["match"] = "Host(`fetch.example.org`) && PathPrefix(`/mcp`)" }},
		{"entry point", "auth-oauth", "router auth-oauth: entry points [web]",
			func(d map[string]any) { d["spec"].(map[string]any)["entryPoints"] = []any{"web"} }},
		{"no mcpauth", "time", "router time: mcpauth middlewares",
			func(d map[string]any) { routeOf(d)["middlewares"] = anyList(routeOf(d)["middlewares"])[:1] }},
		{"wrong backend", "everything-oauth-discovery", "router everything-oauth-discovery: backend everything:3000, compose has auth:8000",
			func(d map[string]any) {
				svc := anyList(routeOf(d)["services"])[0].(map[string]any)
				svc["name"], svc["port"] = fullname+"-mcp-everything", 3000
			}},
		{"router too many", "memory", "router memory-copy: rendered, but compose has no such router",
			func(d map[string]any) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustRender(t, defaultRender)
			cp := &rendering{Notes: r.Notes}
			for _, o := range r.Objects {
				var d map[string]any
				if err := yaml.Unmarshal(o.JSON, &d); err != nil {
					t.Fatal(err)
				}
				o.Doc = d
				cp.Objects = append(cp.Objects, o)
				if o.Kind() == "IngressRoute" && o.Labels()["mcp-oauth-gateway/router"] == tt.router {
					tt.mutate(d)
					if tt.name == "router too many" {
						var dup map[string]any
						if err := yaml.Unmarshal(o.JSON, &dup); err != nil {
							t.Fatal(err)
						}
						dup["metadata"].(map[string]any)["labels"].(map[string]any)["mcp-oauth-gateway/router"] = "memory-copy"
						cp.Objects = append(cp.Objects, object{Template: o.Template, Doc: dup})
					}
				}
			}
			got, problems := renderedRoutes(cp, fullname+"-secrets")
			diffs := append(problems, diffRoutes(want, got)...)
			if len(diffs) != 1 || !strings.Contains(diffs[0], tt.want) {
				t.Errorf("differences %q, want exactly one containing %q", diffs, tt.want)
			}
		})
	}
	// Another server's resource in memory's middleware.
	r := mustRender(t, defaultRender)
	got, _ := renderedRoutes(r, fullname+"-secrets")
	m := got["memory"]
	m.Auth = []map[string]any{maps1(m.Auth[0], "resource", "https://everything."+testDomain+"/mcp")}
	got["memory"] = m
	if d := diffRoutes(want, got); len(d) != 1 || !strings.Contains(d[0], "router memory: mcpauth middlewares") {
		t.Errorf("a foreign resource gives %q, want one mcpauth difference on memory", d)
	}
}

// TestMiddlewaresAsTraefikLoadsThem: each rendered mcpauth Middleware's settings, with
// the Secret references resolved as Traefik's CRD provider does, decode into the
// plugin's Config the way Traefik decodes plugin settings (mapstructure, weakly typed,
// "a,b" to lists), with no key left unused (an unknown key is silently ignored by
// Traefik, so it would disable a check), and the plugin's New accepts them.
func TestMiddlewaresAsTraefikLoadsThem(t *testing.T) {
	resolved := map[string]string{"REVOCATION_FEED_TOKEN": testSecrets["revocationFeedToken"], "IDENTITY_SECRET": testSecrets["identitySecret"]}
	for name, which := range map[string]func() (*rendering, error){"default": defaultRender, "override": overrideRender} {
		r := mustRender(t, which)
		n := 0
		for _, mw := range r.ofKind("Middleware") {
			conf, ok := dig(mw.Doc, "spec", "plugin", "mcpauth").(map[string]any)
			if !ok {
				continue
			}
			n++
			settings := map[string]any{}
			for k, v := range conf {
				if s, ok := v.(string); ok && strings.HasPrefix(s, "urn:k8s:secret:") {
					parts := strings.Split(s, ":")
					if len(parts) != 5 || resolved[parts[4]] == "" {
						t.Errorf("%s values: %s: %s=%q is not a Secret reference Traefik resolves to one of %v", name, mw, k, s, pluginSecrets)
						continue
					}
					v = resolved[parts[4]]
				}
				settings[k] = v
			}
			cfg := mcpauth.CreateConfig()
			dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
				DecodeHook: mapstructure.StringToSliceHookFunc(","), WeaklyTypedInput: true,
				ErrorUnused: true, Result: cfg,
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := dec.Decode(settings); err != nil {
				t.Errorf("%s values: %s: the plugin's Config does not take these settings: %v", name, mw, err)
				continue
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // nothing is fetched: only the configuration is checked
			if _, err := mcpauth.New(ctx, http.NotFoundHandler(), cfg, mw.Name()); err != nil {
				t.Errorf("%s values: %s: the plugin refuses its settings: %v", name, mw, err)
			}
		}
		if n == 0 {
			t.Errorf("%s values: no mcpauth Middleware rendered", name)
		}
	}
}

// TestPublicMiddlewaresAndTLS: the security-headers and retry-unreachable Middlewares
// and the TLSOption are traefik/dynamic/'s, every public route (TLS on websecure) runs
// the headers first and the retry second (the order of compose's websecure entry
// point), and the internal auth-verify route has none of them, as in compose.
func TestPublicMiddlewaresAndTLS(t *testing.T) {
	var dynamic map[string]any
	for _, f := range []string{"middlewares.yml", "tls.yml"} {
		b, err := os.ReadFile(filepath.Join(repoRoot, "traefik", "dynamic", f))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		dynamic = mergeMaps(dynamic, m)
	}
	for name, which := range map[string]func() (*rendering, error){"default": defaultRender, "override": overrideRender} {
		r := mustRender(t, which)
		headers := r.find("Middleware", fullname+"-security-headers")
		retry := r.find("Middleware", fullname+"-retry-unreachable")
		tlsOpt := r.find("TLSOption", fullname+"-modern")
		if headers == nil || retry == nil || tlsOpt == nil {
			t.Fatalf("%s values: no security-headers or retry-unreachable Middleware or modern TLSOption", name)
		}
		if w, g := dig(dynamic, "http", "middlewares", "security-headers", "headers"), dig(headers.Doc, "spec", "headers"); !reflect.DeepEqual(w, g) {
			t.Errorf("%s values: security headers %v, traefik/dynamic/middlewares.yml has %v", name, g, w)
		}
		if w, g := dig(dynamic, "http", "middlewares", "retry-unreachable", "retry"), dig(retry.Doc, "spec", "retry"); !reflect.DeepEqual(w, g) {
			t.Errorf("%s values: retry %v, traefik/dynamic/middlewares.yml has %v", name, g, w)
		}
		if w, g := dig(dynamic, "tls", "options", "modern"), dig(tlsOpt.Doc, "spec"); !reflect.DeepEqual(w, g) {
			t.Errorf("%s values: TLS options %v, traefik/dynamic/tls.yml has %v", name, g, w)
		}
		for _, ir := range r.ofKind("IngressRoute") {
			mws := anyList(dig(anyList(dig(ir.Doc, "spec", "routes"))[0], "middlewares"))
			public := dig(ir.Doc, "spec", "tls") != nil
			first, second := "", ""
			if len(mws) > 1 {
				first, second = str(mws[0], "name"), str(mws[1], "name")
			}
			switch {
			case public && (first != headers.Name() || second != retry.Name()):
				t.Errorf("%s values: %s: first middlewares %q, %q, want %s, %s", name, ir, first, second, headers.Name(), retry.Name())
			case public && str(ir.Doc, "spec", "tls", "options", "name") != tlsOpt.Name():
				t.Errorf("%s values: %s: TLS options %q, want %s", name, ir, str(ir.Doc, "spec", "tls", "options", "name"), tlsOpt.Name())
			case !public && len(mws) > 0:
				t.Errorf("%s values: %s (not public) has middlewares %v", name, ir, mws)
			}
		}
	}
	def, over := mustRender(t, defaultRender), mustRender(t, overrideRender)
	if got := str(def.find("IngressRoute", fullname+"-memory").Doc, "spec", "tls", "certResolver"); got != "letsencrypt" {
		t.Errorf("default certResolver %q, want letsencrypt (the resolver of traefik-values.yaml)", got)
	}
	if got := str(over.find("IngressRoute", fullname+"-memory").Doc, "spec", "tls", "secretName"); got != "wildcard-gateway-tls" {
		t.Errorf("override TLS secretName %q, want wildcard-gateway-tls", got)
	}
}

// TestTraefikValues: deploy/helm/traefik-values.yaml declares what the chart's objects
// rely on: the catalog plugin as traefik/traefik.catalog.yml declares it, under the
// name the Middlewares use; the CRD provider; the entry point and certificate resolver
// the IngressRoutes name; the Traefik release compose runs.
func TestTraefikValues(t *testing.T) {
	read := func(path string) map[string]any {
		b, err := os.ReadFile(filepath.Join(repoRoot, path))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return m
	}
	vals, catalog, chartVals := read("deploy/helm/traefik-values.yaml"), read("traefik/traefik.catalog.yml"), read("deploy/helm/mcp-oauth-gateway/values.yaml")
	plugin := str(chartVals, "traefik", "pluginName")
	for _, k := range []string{"moduleName", "version"} {
		if w, g := dig(catalog, "experimental", "plugins", "mcpauth", k), dig(vals, "experimental", "plugins", plugin, k); w == nil || w != g {
			t.Errorf("experimental.plugins.%s.%s = %v, traefik/traefik.catalog.yml has %v", plugin, k, g, w)
		}
	}
	if dig(vals, "providers", "kubernetesCRD", "enabled") != true {
		t.Error("providers.kubernetesCRD.enabled is not true")
	}
	ep := str(chartVals, "traefik", "entryPoint")
	if dig(vals, "ports", ep) == nil || dig(vals, "ports", ep, "http", "tls", "enabled") != true {
		t.Errorf("ports.%s (the chart's traefik.entryPoint) is missing or has no TLS", ep)
	}
	if r := str(chartVals, "traefik", "certResolver"); dig(vals, "certificatesResolvers", r, "acme") == nil {
		t.Errorf("certificatesResolvers.%s (the chart's traefik.certResolver) is missing", r)
	}
	c := mustCompose(t)
	if img := c.Stack.Project.Services["traefik"].Image; !strings.HasSuffix(img, ":"+str(vals, "image", "tag")) {
		t.Errorf("image.tag %q, compose runs %s", str(vals, "image", "tag"), img)
	}
	sel := dig(chartVals, "networkPolicy", "traefik", "podSelector", "matchLabels")
	if !reflect.DeepEqual(sel, map[string]any{"app.kubernetes.io/name": "traefik"}) {
		t.Errorf("networkPolicy.traefik.podSelector %v: the Traefik chart's pods are labelled app.kubernetes.io/name=traefik", sel)
	}
}

func anyList(v any) []any {
	l, _ := v.([]any)
	return l
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// maps1 returns a copy of m with k set to v.
func maps1(m map[string]any, k string, v any) map[string]any {
	c := map[string]any{}
	for kk, vv := range m {
		c[kk] = vv
	}
	c[k] = v
	return c
}

// mergeMaps merges b into a, recursively.
func mergeMaps(a, b map[string]any) map[string]any {
	if a == nil {
		a = map[string]any{}
	}
	for k, v := range b {
		if am, ok := a[k].(map[string]any); ok {
			if bm, ok := v.(map[string]any); ok {
				a[k] = mergeMaps(am, bm)
				continue
			}
		}
		a[k] = v
	}
	return a
}
