package stack_test

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-oauth-gateway/gateway/internal/contract"
	"github.com/mcp-oauth-gateway/gateway/internal/labels"
	"github.com/mcp-oauth-gateway/gateway/internal/swarmstack"
)

// TestSwarmRoutesMatchCompose: the Swarm stack that `just swarm-deploy` renders from
// the compose files routes exactly as the compose stack does. Each rendered service's
// deploy.labels decode (Traefik's label decoder, as the Swarm provider reads them) to
// the same routers (rule, priority, entry points, middlewares, service, TLS), the same
// services (port) and the same middlewares as the compose labels; the only difference
// allowed is that the plugin's secret options name the Swarm secret's file
// (identitySecretFile, revocationTokenFile) instead of holding the value.
func TestSwarmRoutesMatchCompose(t *testing.T) {
	st, _ := loadStack(t)
	config, err := st.Project.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	out, err := swarmstack.Render(config, swarmstack.Options{SecretsDir: t.TempDir()})
	if err != nil {
		t.Fatalf("rendering the compose stack for Swarm: %v", err)
	}
	got := decodeSwarmLabels(t, out.File)
	want := normalizeSecrets(t, st.HTTP, false)
	have := normalizeSecrets(t, got, true)
	for _, kind := range []string{"routers", "services", "middlewares"} {
		w, h := want[kind], have[kind]
		for _, name := range slices.Sorted(maps.Keys(w)) {
			if !reflect.DeepEqual(w[name], h[name]) {
				wj, _ := json.Marshal(w[name])
				hj, _ := json.Marshal(h[name])
				t.Errorf("%s %s:\ncompose %s\nswarm   %s", kind, name, wj, hj)
			}
		}
		for name := range h {
			if _, ok := w[name]; !ok {
				t.Errorf("%s %s: in the Swarm stack only", kind, name)
			}
		}
	}
	if len(want["routers"]) < 10 {
		t.Fatalf("only %d routers in the compose stack: the comparison compared nothing", len(want["routers"]))
	}
}

// decodeSwarmLabels decodes every service's deploy.labels of a rendered stack file
// and merges them, as Traefik's Swarm provider does (its network label is
// traefik.swarm.network where the Docker provider's is traefik.docker.network).
func decodeSwarmLabels(t *testing.T, file []byte) *labels.HTTPConfiguration {
	t.Helper()
	var stack struct {
		Services map[string]struct {
			Deploy struct {
				Labels map[string]string `json:"labels"`
			} `json:"deploy"`
		} `json:"services"`
	}
	if err := json.Unmarshal(file, &stack); err != nil {
		t.Fatalf("the stack file: %v", err)
	}
	var containers []*labels.Container
	for _, name := range slices.Sorted(maps.Keys(stack.Services)) {
		l := stack.Services[name].Deploy.Labels
		if len(l) == 0 {
			continue
		}
		decoded := map[string]string{}
		for k, v := range l {
			decoded[strings.Replace(k, "traefik.swarm.", "traefik.docker.", 1)] = v
		}
		c, err := labels.DecodeContainer(name, decoded)
		if err != nil {
			t.Fatalf("service %s: %v", name, err)
		}
		containers = append(containers, c)
	}
	http, err := labels.Merge(containers)
	if err != nil {
		t.Fatal(err)
	}
	return http
}

// normalizeSecrets returns cfg as plain maps (routers, services, middlewares by name),
// with each plugin secret option written as "secret": its value on the compose side,
// the file of a Swarm secret (/run/secrets/…) on the Swarm side.
func normalizeSecrets(t *testing.T, cfg *labels.HTTPConfiguration, swarm bool) map[string]map[string]any {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for name, mw := range m["middlewares"] {
		plugin, _ := mw.(map[string]any)["plugin"].(map[string]any)
		conf, _ := plugin["mcpauth"].(map[string]any)
		for _, opt := range contract.PluginSecretOptions {
			if !swarm {
				if _, ok := conf[opt]; ok {
					conf[opt] = "secret"
				}
				continue
			}
			if _, ok := conf[opt]; ok {
				t.Errorf("middleware %s: the Swarm stack gives %s as a value", name, opt)
			}
			if f, ok := conf[opt+"File"].(string); ok {
				if !strings.HasPrefix(f, "/run/secrets/") {
					t.Errorf("middleware %s: %sFile = %q, not a Swarm secret", name, opt, f)
				}
				delete(conf, opt+"File")
				conf[opt] = "secret"
			}
		}
	}
	return m
}
