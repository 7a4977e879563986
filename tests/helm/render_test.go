// Package helm_test checks the Kubernetes chart deploy/helm/mcp-oauth-gateway without a
// cluster: it renders the chart with Helm v4 used as a library (the chart loader, the
// values coalescing and the template engine `helm install` runs), validates every
// rendered object against the OpenAPI v3 schemas of a pinned Kubernetes release and
// the CRDs of the pinned Traefik release, strictly (an unknown field is an error, as
// with `kubectl --validate=strict`), and compares the rendered IngressRoutes and
// mcpauth Middlewares with the routers the compose labels declare.
package helm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	"sigs.k8s.io/yaml"
)

const (
	repoRoot = "../.."
	chartDir = repoRoot + "/deploy/helm/mcp-oauth-gateway"
	// overrideFile is the second set of values: Redis Sentinel, an existing Secret, three
	// replicas, a sixth MCP server, auth-verify on, metrics, a TLS Secret.
	overrideFile = "testdata/override-values.yaml"

	testDomain  = "gateway.example.com"
	releaseName = "mcpgw"
	namespace   = "gateway"
	// fullname is the prefix of every object's name for releaseName.
	fullname = "mcpgw-mcp-oauth-gateway"
	// kubeVersion is the Kubernetes release whose schemas validate the objects and
	// whose version the chart is rendered for (.Capabilities.KubeVersion).
	kubeVersion = "v1.36.3"
)

// Secret values of the default render: each must appear in the chart's Secret and
// nowhere else.
var testSecrets = map[string]string{
	"githubClientSecret":  "gh-secret-7f3a9c1e5b",
	"revocationFeedToken": "revocation-feed-token-3d8e2b7a41c9",
	"identitySecret":      "identity-secret-0123456789abcdef0123456789abcdef",
	"redisPassword":       "redis-password-5c2e9a7f",
}

// minimalValues are the least a user sets: the required values, with the chart's
// defaults for everything else.
func minimalValues() map[string]any {
	secrets := map[string]any{}
	for k, v := range testSecrets {
		secrets[k] = v
	}
	return map[string]any{
		"baseDomain": testDomain,
		"github":     map[string]any{"clientID": "Iv1.test-client", "allowedUsers": "alice,bob"},
		"redis":      map[string]any{"url": "redis://my-redis-master.redis:6379/0"},
		"secrets":    secrets,
	}
}

// overrideValues are minimalValues with testdata/override-values.yaml on top, as
// `helm install -f` merges a values file over the --set values.
func overrideValues() (map[string]any, error) {
	b, err := os.ReadFile(overrideFile)
	if err != nil {
		return nil, err
	}
	over, err := common.ReadValues(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", overrideFile, err)
	}
	return util.CoalesceTables(over.AsMap(), minimalValues()), nil
}

var loadChart = sync.OnceValues(func() (*chart.Chart, error) {
	return loader.LoadDir(chartDir)
})

// object is one rendered Kubernetes object.
type object struct {
	Template string         // the template that produced it, e.g. templates/authsvc.yaml
	JSON     []byte         // the object as kubectl sends it (YAML converted to JSON)
	Doc      map[string]any // JSON decoded with encoding/json
}

func (o object) Kind() string       { return str(o.Doc, "kind") }
func (o object) APIVersion() string { return str(o.Doc, "apiVersion") }
func (o object) Name() string       { return str(o.Doc, "metadata", "name") }
func (o object) String() string     { return o.Kind() + "/" + o.Name() + " (" + o.Template + ")" }

// Labels returns metadata.labels.
func (o object) Labels() map[string]string {
	out := map[string]string{}
	if m, ok := dig(o.Doc, "metadata", "labels").(map[string]any); ok {
		for k, v := range m {
			out[k] = fmt.Sprint(v)
		}
	}
	return out
}

// rendering is one render of the chart: its objects in a stable order and NOTES.txt.
type rendering struct {
	Objects []object
	Notes   string
}

// find returns the object of that kind and name, or nil.
func (r *rendering) find(kind, name string) *object {
	for i := range r.Objects {
		if r.Objects[i].Kind() == kind && r.Objects[i].Name() == name {
			return &r.Objects[i]
		}
	}
	return nil
}

// ofKind returns the objects of a kind.
func (r *rendering) ofKind(kind string) []object {
	var out []object
	for _, o := range r.Objects {
		if o.Kind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// docSeparator splits a rendered template into YAML documents, as Helm does.
var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`)

// render renders the chart for releaseName in namespace with vals (user values,
// coalesced with the chart's values.yaml as `helm install` does) for Kubernetes
// kubeVersion, and parses every object.
func render(vals map[string]any) (*rendering, error) {
	chrt, err := loadChart()
	if err != nil {
		return nil, fmt.Errorf("loading the chart: %w", err)
	}
	kv, err := common.ParseKubeVersion(kubeVersion)
	if err != nil {
		return nil, err
	}
	caps := common.DefaultCapabilities.Copy()
	caps.KubeVersion = *kv
	top, err := util.ToRenderValues(chrt, vals, common.ReleaseOptions{
		Name: releaseName, Namespace: namespace, Revision: 1, IsInstall: true,
	}, caps)
	if err != nil {
		return nil, err
	}
	files, err := engine.Engine{}.RenderWithContext(context.Background(), chrt, top)
	if err != nil {
		return nil, err
	}
	out := &rendering{}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		tpl := strings.TrimPrefix(name, chrt.Name()+"/")
		switch {
		case strings.HasSuffix(name, "NOTES.txt"):
			out.Notes = files[name]
			continue
		case strings.HasPrefix(filepath.Base(name), "_"):
			continue
		}
		for _, doc := range docSeparator.Split(files[name], -1) {
			js, err := yaml.YAMLToJSON([]byte(doc))
			if err != nil {
				return nil, fmt.Errorf("%s: not YAML: %w\n%s", tpl, err, doc)
			}
			if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
				continue // empty or comments only
			}
			var m map[string]any
			if err := json.Unmarshal(js, &m); err != nil {
				return nil, fmt.Errorf("%s: a document that is not an object: %w\n%s", tpl, err, doc)
			}
			out.Objects = append(out.Objects, object{Template: tpl, JSON: js, Doc: m})
		}
	}
	return out, nil
}

// Renders shared by the tests (each is made once).
var (
	defaultRender  = sync.OnceValues(func() (*rendering, error) { return render(minimalValues()) })
	overrideRender = sync.OnceValues(func() (*rendering, error) {
		vals, err := overrideValues()
		if err != nil {
			return nil, err
		}
		return render(vals)
	})
)

func mustRender(t testing.TB, which func() (*rendering, error)) *rendering {
	t.Helper()
	r, err := which()
	if err != nil {
		t.Fatalf("rendering the chart: %v", err)
	}
	return r
}

// TestRender: the chart renders with the least values and with the override file, into
// the objects the compose stack's services map to, all in the release's namespace,
// named with the release prefix and carrying the standard labels; the chart asks for a
// Kubernetes version that includes the pinned one, and NOTES.txt names the URLs.
func TestRender(t *testing.T) {
	chrt, err := loadChart()
	if err != nil {
		t.Fatal(err)
	}
	if chrt.Metadata.APIVersion != chart.APIVersionV2 {
		t.Errorf("Chart.yaml apiVersion %q, want %s", chrt.Metadata.APIVersion, chart.APIVersionV2)
	}
	c, err := semver.NewConstraint(chrt.Metadata.KubeVersion)
	if err != nil || !c.Check(semver.MustParse(kubeVersion)) {
		t.Errorf("Chart.yaml kubeVersion %q does not admit %s (%v)", chrt.Metadata.KubeVersion, kubeVersion, err)
	}

	def := mustRender(t, defaultRender)
	counts := map[string]int{}
	for _, o := range def.Objects {
		counts[o.Kind()]++
	}
	// authsvc + five bridges (each bridge also a headless peers Service); Middlewares:
	// five mcpauth, security headers, retry; routes: auth-oauth and three per server
	// (auth-verify is off by default).
	want := map[string]int{
		"Deployment": 6, "Service": 11, "PodDisruptionBudget": 6, "NetworkPolicy": 6,
		"Secret": 1, "PersistentVolumeClaim": 2, "Middleware": 7, "TLSOption": 1, "IngressRoute": 16,
	}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("%d objects of kind %s, want %d", counts[k], k, n)
		}
	}
	for k := range counts {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected kind %s rendered", k)
		}
	}

	for _, r := range []*rendering{def, mustRender(t, overrideRender)} {
		seen := map[string]bool{}
		for _, o := range r.Objects {
			if ns := str(o.Doc, "metadata", "namespace"); ns != namespace {
				t.Errorf("%s: namespace %q, want the release's %q", o, ns, namespace)
			}
			if !strings.HasPrefix(o.Name(), fullname+"-") && o.Kind() != "PersistentVolumeClaim" {
				t.Errorf("%s: name not prefixed with %s-", o, fullname)
			}
			key := o.APIVersion() + "/" + o.Kind() + "/" + o.Name()
			if seen[key] {
				t.Errorf("%s rendered twice", key)
			}
			seen[key] = true
			l := o.Labels()
			for k, v := range map[string]string{
				"app.kubernetes.io/name": "mcp-oauth-gateway", "app.kubernetes.io/instance": releaseName,
				"app.kubernetes.io/part-of": "mcp-oauth-gateway", "app.kubernetes.io/managed-by": "Helm",
				"helm.sh/chart": "mcp-oauth-gateway-" + chrt.Metadata.Version,
			} {
				if l[k] != v {
					t.Errorf("%s: label %s=%q, want %q", o, k, l[k], v)
				}
			}
			if l["app.kubernetes.io/component"] == "" {
				t.Errorf("%s: no app.kubernetes.io/component label", o)
			}
		}
	}

	for _, s := range []string{"https://auth." + testDomain, "https://memory." + testDomain + "/mcp", "deploy/helm/traefik-values.yaml"} {
		if !strings.Contains(def.Notes, s) {
			t.Errorf("NOTES.txt does not mention %s:\n%s", s, def.Notes)
		}
	}
}

// TestRequiredValues: without a value the chart cannot do without, rendering fails
// with a message that names it (the `required` and `fail` of the templates), and
// values that would break the stack are refused.
func TestRequiredValues(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(v map[string]any)
		want   string
	}{
		{"nothing set", func(v map[string]any) { clear(v) }, "baseDomain is required"},
		{"no baseDomain", func(v map[string]any) { delete(v, "baseDomain") }, "baseDomain is required"},
		{"no GitHub client id", func(v map[string]any) { delete(sub(v, "github"), "clientID") }, "github.clientID is required"},
		{"no allowed users", func(v map[string]any) { delete(sub(v, "github"), "allowedUsers") }, "github.allowedUsers is required"},
		{"no Redis", func(v map[string]any) { delete(v, "redis") }, "set redis.url (e.g. redis://my-redis-master:6379/0) or redis.sentinels"},
		{"sentinels without a master name", func(v map[string]any) {
			v["redis"] = map[string]any{"sentinels": []any{"s1:26379"}}
		}, "redis.masterName is required with redis.sentinels"},
		{"no secrets", func(v map[string]any) { delete(v, "secrets") }, "secrets.identitySecret is required"},
		{"no GitHub secret", func(v map[string]any) { delete(sub(v, "secrets"), "githubClientSecret") }, "secrets.githubClientSecret is required"},
		{"no revocation token", func(v map[string]any) { delete(sub(v, "secrets"), "revocationFeedToken") }, "secrets.revocationFeedToken is required"},
		{"short identity secret", func(v map[string]any) { sub(v, "secrets")["identitySecret"] = "short" }, "at least 32 bytes"},
		{"no Secret at all", func(v map[string]any) {
			v["secrets"] = map[string]any{"create": false}
		}, "set secrets.existingSecret"},
		{"secret in authsvc.config", func(v map[string]any) {
			v["authsvc"] = map[string]any{"config": map[string]any{"JWT_PRIVATE_KEY": "-----BEGIN"}}
		}, "authsvc.config.JWT_PRIVATE_KEY: not a setting this chart passes through"},
		{"identity secret in a server's env", func(v map[string]any) {
			v["mcpServers"] = []any{map[string]any{"name": "x", "image": map[string]any{"repository": "x"},
				"args": []any{"--", "x"}, "env": map[string]any{"MCPBRIDGE_IDENTITY_SECRET": "x"}}}
		}, "env.MCPBRIDGE_IDENTITY_SECRET is set by the chart"},
		{"server name not a DNS label", func(v map[string]any) {
			v["mcpServers"] = []any{map[string]any{"name": "My_Server", "image": map[string]any{"repository": "x"}, "args": []any{"--", "x"}}}
		}, `name "My_Server" must be a DNS label`},
		{"server named auth", func(v map[string]any) {
			v["mcpServers"] = []any{map[string]any{"name": "auth", "image": map[string]any{"repository": "x"}, "args": []any{"--", "x"}}}
		}, `name "auth" is used twice, or is auth`},
		{"server without args", func(v map[string]any) {
			v["mcpServers"] = []any{map[string]any{"name": "x", "image": map[string]any{"repository": "x"}}}
		}, "mcpServers: x needs args"},
		{"mcpauth option the chart sets", func(v map[string]any) {
			v["traefik"] = map[string]any{"mcpauthOptions": map[string]any{"resource": "https://elsewhere/mcp"}}
		}, "mcpauth option resource"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := minimalValues()
			tt.mutate(v)
			_, err := render(v)
			if err == nil {
				t.Fatalf("rendered without error; want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
	// And the least values render (the control of the cases above).
	if _, err := render(minimalValues()); err != nil {
		t.Fatalf("the minimal values do not render: %v", err)
	}
}

// TestLint runs Helm's own chart linter (`helm lint`: Chart.yaml, values, every
// template rendered and its objects' names and API versions checked for the pinned
// Kubernetes version) with the least values and with the override file: nothing above
// INFO.
func TestLint(t *testing.T) {
	kv, err := common.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	over, err := overrideValues()
	if err != nil {
		t.Fatal(err)
	}
	for name, vals := range map[string]map[string]any{"minimal": minimalValues(), "override": over} {
		res := lint.RunAll(chartDir, vals, namespace, lint.WithKubeVersion(kv))
		for _, m := range res.Messages {
			if m.Severity > support.InfoSev {
				t.Errorf("helm lint (%s values): %s", name, m)
			}
		}
	}
}

// str returns the string at path in a decoded JSON document, or "".
func str(doc any, path ...string) string {
	s, _ := dig(doc, path...).(string)
	return s
}

// dig walks maps by key.
func dig(doc any, path ...string) any {
	for _, p := range path {
		m, ok := doc.(map[string]any)
		if !ok {
			return nil
		}
		doc = m[p]
	}
	return doc
}

// sub returns v[key] as a map, making it when missing.
func sub(v map[string]any, key string) map[string]any {
	m, ok := v[key].(map[string]any)
	if !ok {
		m = map[string]any{}
		v[key] = m
	}
	return m
}
