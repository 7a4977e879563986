package swarmstack

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// config is the shape `docker compose config --format json` prints, cut down to one
// service of each kind.
const config = `{
  "name": "gw",
  "services": {
    "traefik": {
      "image": "traefik:v3.6.12", "restart": "unless-stopped",
      "environment": {"TRAEFIK_STATIC_CONFIG": "traefik.yml", "COMPOSE_PROJECT": "gw"},
      "depends_on": {"auth": {"condition": "service_healthy"}},
      "ports": [{"mode": "ingress", "host_ip": "127.0.0.1", "target": 80, "published": "0", "protocol": "tcp"},
                {"mode": "ingress", "host_ip": "127.0.0.1", "target": 443, "published": "8443", "protocol": "tcp"}],
      "volumes": [{"type": "bind", "source": "/srv/gw/traefik/traefik.yml", "target": "/etc/traefik/traefik.yml", "read_only": true, "bind": {}}],
      "networks": {"edge": null, "mcp-memory": null}
    },
    "auth": {
      "build": {"context": "/srv/gw"}, "image": "gw/authsvc:local",
      "environment": {"REDIS_URL": "redis://redis:6379/0"},
      "healthcheck": {"test": ["CMD", "authsvc", "healthcheck"], "interval": "15s", "start_interval": "1s"},
      "extra_hosts": {"github.localhost": ["host-gateway"]},
      "labels": {"traefik.enable": "true", "traefik.docker.network": "gw_edge",
                 "traefik.http.routers.auth-oauth.rule": "Host(` + "`auth.example.com`" + `)"},
      "networks": {"edge": null, "backend": null}
    },
    "memory": {
      "image": "gw/mcp-memory:local", "init": true, "command": ["--", "mcp-server-memory"],
      "environment": {"MCPBRIDGE_IDENTITY_SECRET": "s3cret"},
      "labels": ["traefik.enable=true", "traefik.docker.network=gw_mcp-memory"],
      "volumes": [{"type": "volume", "source": "memory-data", "target": "/data", "volume": {}}],
      "networks": {"mcp-memory": null}
    },
    "redis": {"image": "redis:8.2-alpine", "command": ["redis-server"], "networks": {"backend": null}}
  },
  "networks": {"edge": {"name": "gw_edge", "ipam": {}}, "backend": {"name": "gw_backend"}, "mcp-memory": {"name": "gw_mcp-memory"}},
  "volumes": {"memory-data": {"name": "gw_memory-data"}}
}`

type stackFile struct {
	Version  string                    `json:"version"`
	Services map[string]map[string]any `json:"services"`
	Networks map[string]map[string]any `json:"networks"`
	Volumes  map[string]map[string]any `json:"volumes"`
}

func render(t *testing.T, opts Options) stackFile {
	t.Helper()
	b, err := Render([]byte(config), opts)
	if err != nil {
		t.Fatal(err)
	}
	var st stackFile
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("the stack file is not JSON: %v\n%s", err, b)
	}
	return st
}

func get(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

func TestRender(t *testing.T) {
	st := render(t, Options{})
	if st.Version != "3.9" {
		t.Errorf("version %q", st.Version)
	}
	for name, want := range map[string]float64{"auth": 2, "memory": 2, "traefik": 1, "redis": 1} {
		if got := get(st.Services[name], "deploy", "replicas"); got != want {
			t.Errorf("%s: replicas %v, want %v", name, got, want)
		}
		if got := get(st.Services[name], "deploy", "endpoint_mode"); got != "dnsrr" {
			t.Errorf("%s: endpoint_mode %v, want dnsrr", name, got)
		}
		for _, gone := range []string{"build", "depends_on", "restart", "labels"} {
			if _, ok := st.Services[name][gone]; ok {
				t.Errorf("%s keeps %s", name, gone)
			}
		}
	}

	// Labels: on the service (deploy.labels), traefik.docker.* as traefik.swarm.*.
	auth := st.Services["auth"]
	if got := get(auth, "deploy", "labels", "traefik.swarm.network"); got != "gw_edge" {
		t.Errorf("auth traefik.swarm.network = %v", got)
	}
	if get(auth, "deploy", "labels", "traefik.docker.network") != nil {
		t.Error("traefik.docker.network kept")
	}
	if got := get(auth, "deploy", "labels", "traefik.http.routers.auth-oauth.rule"); got != "Host(`auth.example.com`)" {
		t.Errorf("router rule %v", got)
	}
	if got := get(st.Services["memory"], "deploy", "labels", "traefik.swarm.network"); got != "gw_mcp-memory" {
		t.Errorf("memory (list labels) traefik.swarm.network = %v", got)
	}
	if got := get(auth, "deploy", "update_config", "order"); got != "start-first" {
		t.Errorf("auth update order %v, want start-first", got)
	}
	if _, ok := get(auth, "healthcheck").(map[string]any)["start_interval"]; ok {
		t.Error("healthcheck keeps start_interval, which the stack format lacks")
	}
	if got := auth["extra_hosts"]; !reflect.DeepEqual(got, []any{"github.localhost:host-gateway"}) {
		t.Errorf("extra_hosts %v", got)
	}

	// Bridges with replicas forward between them; the identity secret stays.
	mem := st.Services["memory"]
	if got := get(mem, "environment", "MCPBRIDGE_REPLICA_URL"); got != "auto" {
		t.Errorf("memory MCPBRIDGE_REPLICA_URL = %v, want auto", got)
	}
	if got := get(mem, "environment", "MCPBRIDGE_PEERS"); got != "tasks.memory" {
		t.Errorf("memory MCPBRIDGE_PEERS = %v, want tasks.memory", got)
	}
	if got := get(mem, "environment", "MCPBRIDGE_SHUTDOWN_DELAY"); got != "5s" || mem["stop_grace_period"] != "30s" {
		t.Errorf("memory MCPBRIDGE_SHUTDOWN_DELAY = %v, stop_grace_period %v; want 5s within 30s", got, mem["stop_grace_period"])
	}
	if got := get(mem, "environment", "MCPBRIDGE_IDENTITY_SECRET"); got != "s3cret" {
		t.Errorf("memory lost its identity secret: %v", got)
	}
	if mem["init"] != true || !reflect.DeepEqual(mem["command"], []any{"--", "mcp-server-memory"}) {
		t.Errorf("memory init %v command %v", mem["init"], mem["command"])
	}
	if got := mem["volumes"]; !reflect.DeepEqual(got, []any{map[string]any{"type": "volume", "source": "memory-data", "target": "/data"}}) {
		t.Errorf("memory volumes %v", got)
	}

	// Traefik: the Swarm static configuration, on a manager, ports on the node, the
	// port nobody asked for (published 0) left out.
	tr := st.Services["traefik"]
	if got := get(tr, "environment", "TRAEFIK_STATIC_CONFIG"); got != "traefik.swarm.yml" {
		t.Errorf("traefik static config %v", got)
	}
	if got := get(tr, "deploy", "placement", "constraints"); !reflect.DeepEqual(got, []any{"node.role == manager"}) {
		t.Errorf("traefik placement %v", got)
	}
	if got := tr["ports"]; !reflect.DeepEqual(got, []any{map[string]any{"target": float64(443), "published": float64(8443), "protocol": "tcp", "mode": "host"}}) {
		t.Errorf("traefik ports %v", got)
	}
	if get(st.Services["redis"], "environment") != nil {
		t.Error("redis got an environment it did not have")
	}

	// Networks overlay and attachable, names kept; volumes keep their names.
	for key, name := range map[string]string{"edge": "gw_edge", "backend": "gw_backend", "mcp-memory": "gw_mcp-memory"} {
		n := st.Networks[key]
		if n["driver"] != "overlay" || n["name"] != name || n["attachable"] != true {
			t.Errorf("network %s = %v", key, n)
		}
	}
	if st.Volumes["memory-data"]["name"] != "gw_memory-data" {
		t.Errorf("volume %v", st.Volumes["memory-data"])
	}
}

func TestRenderReplicas(t *testing.T) {
	st := render(t, Options{DefaultReplicas: 3, Replicas: map[string]int{"memory": 1}})
	if got := get(st.Services["auth"], "deploy", "replicas"); got != float64(3) {
		t.Errorf("auth replicas %v, want the default 3", got)
	}
	if got := get(st.Services["memory"], "deploy", "replicas"); got != float64(1) {
		t.Errorf("memory replicas %v, want 1", got)
	}
	if got := get(st.Services["memory"], "environment", "MCPBRIDGE_REPLICA_URL"); got != nil {
		t.Errorf("a single memory replica forwards (%v)", got)
	}
	if got := get(st.Services["memory"], "environment", "MCPBRIDGE_SHUTDOWN_DELAY"); got != nil {
		t.Errorf("a single memory replica delays its shutdown (%v)", got)
	}
}

func TestRenderRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"not JSON":    "services:\n  a: {}",
		"no services": `{"services": {}}`,
		"no image":    `{"services": {"a": {"build": {"context": "."}}}}`,
	} {
		if _, err := Render([]byte(in), Options{}); err == nil || !strings.Contains(err.Error(), "swarmstack") {
			t.Errorf("%s: %v, want a swarmstack error", name, err)
		}
	}
}
