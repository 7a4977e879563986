package swarmstack

import (
	"encoding/json"
	"os"
	"path/filepath"
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
      "environment": {"REDIS_URL": "redis://redis:6379/0", "REDIS_PASSWORD": "redis-pw-1", "GITHUB_CLIENT_SECRET": "gh-secret-2$$x",
                      "SESSION_SECRET": "", "GATEWAY_JWT_SECRET": null},
      "healthcheck": {"test": ["CMD", "authsvc", "healthcheck"], "interval": "15s", "start_interval": "1s"},
      "extra_hosts": {"github.localhost": ["host-gateway"]},
      "labels": {"traefik.enable": "true", "traefik.docker.network": "gw_edge",
                 "traefik.http.routers.auth-oauth.rule": "Host(` + "`auth.example.com`" + `)"},
      "networks": {"edge": null, "backend": null}
    },
    "memory": {
      "image": "gw/mcp-memory:local", "init": true, "command": ["--", "mcp-server-memory"],
      "environment": {"MCPBRIDGE_IDENTITY_SECRET": "s3cret"},
      "labels": ["traefik.enable=true", "traefik.docker.network=gw_mcp-memory",
                 "traefik.http.middlewares.mcpauth-memory.plugin.mcpauth.identitySecret=s3cret",
                 "traefik.http.middlewares.mcpauth-memory.plugin.mcpauth.revocationToken=feed-token-3",
                 "traefik.http.middlewares.mcpauth-memory.plugin.mcpauth.issuer=https://auth.example.com"],
      "volumes": [{"type": "volume", "source": "memory-data", "target": "/data", "volume": {}}],
      "networks": {"mcp-memory": null}
    },
    "redis": {"image": "redis:8.2-alpine", "command": ["redis-server", "--appendonly", "yes", "--requirepass", "redis-pw-1"],
              "environment": {"REDISCLI_AUTH": "redis-pw-1"},
              "healthcheck": {"test": ["CMD-SHELL", "redis-cli ping | grep -q PONG"]},
              "networks": {"backend": null}}
  },
  "networks": {"edge": {"name": "gw_edge", "ipam": {}}, "backend": {"name": "gw_backend"}, "mcp-memory": {"name": "gw_mcp-memory"}},
  "volumes": {"memory-data": {"name": "gw_memory-data"}}
}`

type stackFile struct {
	Version  string                    `json:"version"`
	Services map[string]map[string]any `json:"services"`
	Networks map[string]map[string]any `json:"networks"`
	Volumes  map[string]map[string]any `json:"volumes"`
	Secrets  map[string]map[string]any `json:"secrets"`
}

const secretsDir = "/tmp/gw-secrets"

func render(t *testing.T, opts Options) stackFile {
	t.Helper()
	st, _ := renderStack(t, opts)
	return st
}

func renderStack(t *testing.T, opts Options) (stackFile, *Stack) {
	t.Helper()
	if opts.SecretsDir == "" {
		opts.SecretsDir = secretsDir
	}
	out, err := Render([]byte(config), opts)
	if err != nil {
		t.Fatal(err)
	}
	var st stackFile
	if err := json.Unmarshal(out.File, &st); err != nil {
		t.Fatalf("the stack file is not JSON: %v\n%s", err, out.File)
	}
	return st, out
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
		if _, err := Render([]byte(in), Options{SecretsDir: secretsDir}); err == nil || !strings.Contains(err.Error(), "swarmstack") {
			t.Errorf("%s: %v, want a swarmstack error", name, err)
		}
	}
}

// TestRenderSecrets: no secret is a value in the stack file. The secret variables of
// authsvc and the bridges become NAME_FILE naming a mounted Swarm secret; the plugin's
// secret options in the labels become …File options naming secrets mounted into
// Traefik; Redis reads its password from a secret. Each secret's file is in the
// secrets directory, its name changes with its value.
func TestRenderSecrets(t *testing.T) {
	st, out := renderStack(t, Options{})
	for _, v := range []string{"redis-pw-1", "gh-secret-2", "s3cret", "feed-token-3"} {
		if strings.Contains(string(out.File), v) {
			t.Errorf("the stack file holds the secret %q:\n%s", v, out.File)
		}
	}
	byTarget := map[string]string{} // target -> value, through the stack's names
	check := func(svc string, want ...string) {
		t.Helper()
		refs, _ := st.Services[svc]["secrets"].([]any)
		var got []string
		for _, r := range refs {
			m := r.(map[string]any)
			src, target := m["source"].(string), m["target"].(string)
			got = append(got, target)
			if st.Secrets[src]["file"] != secretsDir+"/"+src {
				t.Errorf("secret %s: file %v, want %s", src, st.Secrets[src]["file"], secretsDir+"/"+src)
			}
			if !strings.HasPrefix(src, target+"_") {
				t.Errorf("secret %s mounted as %s", src, target)
			}
			byTarget[target] = string(out.Secrets[src])
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s mounts the secrets %v, want %v", svc, got, want)
		}
	}
	check("auth", "github_client_secret", "redis_password")
	check("memory", "mcpbridge_identity_secret")
	check("traefik", "mcpauth-memory_identitysecret", "mcpauth-memory_revocationtoken")
	check("redis", "redis_password", "redis_users_acl")
	for target, want := range map[string]string{
		"github_client_secret": "gh-secret-2$x", "redis_password": "redis-pw-1", "mcpbridge_identity_secret": "s3cret",
		"mcpauth-memory_identitysecret": "s3cret", "mcpauth-memory_revocationtoken": "feed-token-3",
		"redis_users_acl": "user default on >redis-pw-1 ~* &* +@all\n",
	} {
		if byTarget[target] != want {
			t.Errorf("the secret mounted as %s holds %q, want %q", target, byTarget[target], want)
		}
	}
	if len(out.Secrets) != 6 || len(st.Secrets) != 6 {
		t.Errorf("%d secrets to write, %d in the stack file; want 6", len(out.Secrets), len(st.Secrets))
	}

	auth := st.Services["auth"]
	for k, want := range map[string]any{
		"GITHUB_CLIENT_SECRET_FILE": "/run/secrets/github_client_secret", "REDIS_PASSWORD_FILE": "/run/secrets/redis_password",
		"GITHUB_CLIENT_SECRET": nil, "REDIS_PASSWORD": nil, "SESSION_SECRET": nil, "SESSION_SECRET_FILE": nil,
		"GATEWAY_JWT_SECRET": nil, "REDIS_URL": "redis://redis:6379/0",
	} {
		if got := get(auth, "environment", k); got != want {
			t.Errorf("auth %s = %v, want %v", k, got, want)
		}
	}
	mem := st.Services["memory"]
	if got := get(mem, "environment", "MCPBRIDGE_IDENTITY_SECRET_FILE"); got != "/run/secrets/mcpbridge_identity_secret" {
		t.Errorf("memory MCPBRIDGE_IDENTITY_SECRET_FILE = %v", got)
	}
	prefix := "traefik.http.middlewares.mcpauth-memory.plugin.mcpauth."
	for k, want := range map[string]any{
		"identitySecretFile": "/run/secrets/mcpauth-memory_identitysecret", "revocationTokenFile": "/run/secrets/mcpauth-memory_revocationtoken",
		"identitySecret": nil, "revocationToken": nil, "issuer": "https://auth.example.com",
	} {
		if got := get(mem, "deploy", "labels", prefix+k); got != want {
			t.Errorf("memory label %s = %v, want %v", k, got, want)
		}
	}

	redis := st.Services["redis"]
	if got := redis["command"]; !reflect.DeepEqual(got, []any{"redis-server", "--appendonly", "yes", "--aclfile", "/run/secrets/redis_users_acl"}) {
		t.Errorf("redis command %v", got)
	}
	if get(redis, "environment") != nil {
		t.Errorf("redis keeps an environment: %v", redis["environment"])
	}
	if got := get(redis, "healthcheck", "test"); !reflect.DeepEqual(got, []any{"CMD-SHELL",
		`REDISCLI_AUTH="$$(cat /run/secrets/redis_password)" && export REDISCLI_AUTH && redis-cli ping | grep -q PONG`}) {
		t.Errorf("redis healthcheck %v", got)
	}

	// Another value, another name: Swarm secrets cannot change, so a new value must
	// be a new secret for docker stack deploy to update the services.
	other, err := Render([]byte(strings.ReplaceAll(config, "gh-secret-2", "gh-secret-9")), Options{SecretsDir: secretsDir})
	if err != nil {
		t.Fatal(err)
	}
	for name := range out.Secrets {
		_, same := other.Secrets[name]
		if strings.HasPrefix(name, "github_client_secret_") == same {
			t.Errorf("secret %s: kept %v after the GitHub secret changed", name, same)
		}
	}

	if _, err := Render([]byte(strings.ReplaceAll(config, "redis-pw-1", `pw with space`)), Options{SecretsDir: secretsDir}); err == nil ||
		!strings.Contains(err.Error(), "Redis password") {
		t.Errorf("a Redis password a configuration line cannot hold: %v", err)
	}
	if _, err := Render([]byte(config), Options{}); err == nil || !strings.Contains(err.Error(), "SecretsDir") {
		t.Errorf("no secrets directory: %v", err)
	}
	// Two bridges whose labels give the plugin different identity secrets: each
	// middleware reads its own file in Traefik.
	two := `{"services": {"traefik": {"image": "t", "environment": {"TRAEFIK_STATIC_CONFIG": "traefik.yml"}},
		"a": {"image": "a", "labels": {"traefik.http.middlewares.mw-a.plugin.mcpauth.identitySecret": "one-secret"}},
		"b": {"image": "b", "labels": {"traefik.http.middlewares.mw-b.plugin.mcpauth.identitySecret": "another-secret"}}}}`
	out2, err := Render([]byte(two), Options{SecretsDir: secretsDir})
	if err != nil {
		t.Fatal(err)
	}
	var st2 stackFile
	if err := json.Unmarshal(out2.File, &st2); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range st2.Services["traefik"]["secrets"].([]any) {
		m := r.(map[string]any)
		got[m["target"].(string)] = string(out2.Secrets[m["source"].(string)])
	}
	if want := map[string]string{"mw-a_identitysecret": "one-secret", "mw-b_identitysecret": "another-secret"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Traefik mounts %v, want %v", got, want)
	}
	for svc, file := range map[string]string{"a": "/run/secrets/mw-a_identitysecret", "b": "/run/secrets/mw-b_identitysecret"} {
		mw := map[string]string{"a": "mw-a", "b": "mw-b"}[svc]
		if v := get(st2.Services[svc], "deploy", "labels", "traefik.http.middlewares."+mw+".plugin.mcpauth.identitySecretFile"); v != file {
			t.Errorf("%s: identitySecretFile = %v, want %s", svc, v, file)
		}
	}
	// One middleware given two different values by two services' labels: Traefik could
	// mount only one, so it is refused rather than picked.
	clash := strings.ReplaceAll(two, "mw-b", "mw-a")
	if _, err := Render([]byte(clash), Options{SecretsDir: secretsDir}); err == nil || !strings.Contains(err.Error(), "two different secrets would be mounted as mw-a_identitysecret") {
		t.Errorf("one middleware, two identity secrets: %v", err)
	}
}

// TestRenderBindMounts: a task must not need the deploying machine's files. A read-only
// bind of a file becomes a Swarm config at the same place (a secret when it holds a
// private key), of a directory one per file (test files and testdata left out); a
// writable bind becomes a named volume; the Docker socket and a missing path stay.
func TestRenderBindMounts(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("traefik.yml", "entryPoints: {}\n")
	write("plugin/mcpauth.go", "package mcpauth\n")
	write("plugin/mcpauth_test.go", "package mcpauth\n")
	write("plugin/testdata/fuzz/x", "fuzz\n")
	write("tls/gateway.crt", "-----BEGIN CERTIFICATE-----\n")
	write("tls/gateway.key", "key bytes\n")
	write("tls/other.pem", "-----BEGIN EC PRIVATE KEY-----\n")
	bind := func(src, target string, ro bool) string {
		b, _ := json.Marshal(map[string]any{"type": "bind", "source": src, "target": target, "read_only": ro})
		return string(b)
	}
	cfg := `{"services": {"traefik": {"image": "t", "environment": {"TRAEFIK_STATIC_CONFIG": "traefik.yml"}, "volumes": [` +
		strings.Join([]string{
			bind("/var/run/docker.sock", "/var/run/docker.sock", true),
			bind(filepath.Join(dir, "traefik.yml"), "/etc/traefik/traefik.yml", true),
			bind(filepath.Join(dir, "plugin"), "/plugins-local/src/x/plugin", true),
			bind(filepath.Join(dir, "tls"), "/etc/traefik/dynamic/local-tls", true),
			bind(filepath.Join(dir, "missing"), "/etc/missing", true),
			bind(filepath.Join(dir, "logs"), "/logs", false),
		}, ",") + `]},
		"memory": {"image": "m", "labels": {"traefik.http.middlewares.m.plugin.mcpauth.identitySecret": "label-secret"}}}}`
	out, err := Render([]byte(cfg), Options{SecretsDir: secretsDir})
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Services map[string]map[string]any `json:"services"`
		Configs  map[string]map[string]any `json:"configs"`
		Secrets  map[string]map[string]any `json:"secrets"`
		Volumes  map[string]map[string]any `json:"volumes"`
	}
	if err := json.Unmarshal(out.File, &st); err != nil {
		t.Fatal(err)
	}
	tr := st.Services["traefik"]
	mounted := map[string]string{} // target -> content, through configs and secrets
	for kind, refs := range map[string]any{"config": tr["configs"], "secret": tr["secrets"]} {
		list, _ := refs.([]any)
		for _, r := range list {
			m := r.(map[string]any)
			src, target := m["source"].(string), m["target"].(string)
			content := map[string][]byte{"config": out.Configs[src], "secret": out.Secrets[src]}[kind]
			if content == nil {
				t.Errorf("%s %s (at %s) is not to be written", kind, src, target)
			}
			mounted[kind+" "+target] = string(content)
		}
	}
	want := map[string]string{
		"config /etc/traefik/traefik.yml":                   "entryPoints: {}\n",
		"config /plugins-local/src/x/plugin/mcpauth.go":     "package mcpauth\n",
		"config /etc/traefik/dynamic/local-tls/gateway.crt": "-----BEGIN CERTIFICATE-----\n",
		"secret /etc/traefik/dynamic/local-tls/gateway.key": "key bytes\n",
		"secret /etc/traefik/dynamic/local-tls/other.pem":   "-----BEGIN EC PRIVATE KEY-----\n",
		// Traefik also gets the secrets the labels' plugin options name.
		"secret m_identitysecret": "label-secret",
	}
	if !reflect.DeepEqual(mounted, want) {
		t.Errorf("mounted %v\nwant %v", mounted, want)
	}
	if len(st.Configs) != 3 || len(st.Secrets) != 3 {
		t.Errorf("the stack file names %d configs and %d secrets, want 3 and 3", len(st.Configs), len(st.Secrets))
	}
	wantVols := []any{
		map[string]any{"type": "bind", "source": "/var/run/docker.sock", "target": "/var/run/docker.sock", "read_only": true},
		map[string]any{"type": "bind", "source": filepath.Join(dir, "missing"), "target": "/etc/missing", "read_only": true},
		map[string]any{"type": "volume", "source": "traefik-logs", "target": "/logs"},
	}
	if !reflect.DeepEqual(tr["volumes"], wantVols) {
		t.Errorf("volumes %v\nwant %v", tr["volumes"], wantVols)
	}
	if _, ok := st.Volumes["traefik-logs"]; !ok {
		t.Errorf("no named volume traefik-logs: %v", st.Volumes)
	}
	// A file Swarm cannot hold is refused, naming it.
	write("big/huge.bin", strings.Repeat("x", 500*1024+1))
	big := `{"services": {"a": {"image": "a", "volumes": [` + bind(filepath.Join(dir, "big"), "/big", true) + `]}}}`
	if _, err := Render([]byte(big), Options{SecretsDir: secretsDir}); err == nil || !strings.Contains(err.Error(), "huge.bin") {
		t.Errorf("a 500 KiB + 1 file: %v", err)
	}
}
