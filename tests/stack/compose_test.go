package stack_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/mcp-oauth-gateway/gateway/internal/labels"
)

func TestComposeProject(t *testing.T) {
	st, _ := loadStack(t)
	p := st.Project
	if p.Name != labels.ProjectName {
		t.Errorf("project name %q, want %q", p.Name, labels.ProjectName)
	}
	want := append([]string{"auth", "redis", "traefik"}, mcpServices...)
	slices.Sort(want)
	if got := p.ServiceNames(); !slices.Equal(got, want) {
		t.Errorf("services %v, want %v", got, want)
	}
}

// TestNetworkIsolation: nothing but Traefik reaches a bridge. authsvc and Traefik meet
// on edge, authsvc and Redis on backend, and each MCP service sits alone with Traefik
// on its own network, so that neither another bridge, nor the MCP servers (fetch
// fetches URLs for its users), nor authsvc can call a bridge with a made-up identity
// (the bridges also check the edge's signature). Every network is the project's own.
func TestNetworkIsolation(t *testing.T) {
	st, _ := loadStack(t)
	p := st.Project
	want := map[string][]string{edgeNetwork: {"auth", "traefik"}, "backend": {"auth", "redis"}}
	for _, svc := range mcpServices {
		want[traefikNetwork(svc)] = []string{svc, "traefik"}
	}
	got := map[string][]string{}
	for _, name := range p.ServiceNames() {
		for n := range p.Services[name].Networks {
			got[n] = append(got[n], name)
		}
	}
	for n, members := range got {
		slices.Sort(members)
		if w, ok := want[n]; !ok || !slices.Equal(members, w) {
			t.Errorf("network %s joins %v, want %v", n, members, w)
		}
	}
	for n, w := range want {
		if _, ok := got[n]; !ok {
			t.Errorf("network %s (%v) missing", n, w)
		}
		if net := p.Networks[n]; bool(net.External) || net.Name != labels.ProjectName+"_"+n {
			t.Errorf("network %s = external %v name %q, want the project's own %s_%s", n, net.External, net.Name, labels.ProjectName, n)
		}
	}
}

// TestHealthchecks: every service proves it works before its dependants start.
func TestHealthchecks(t *testing.T) {
	st, _ := loadStack(t)
	for _, name := range st.Project.ServiceNames() {
		svc := st.Project.Services[name]
		t.Run(name, func(t *testing.T) {
			hc := svc.HealthCheck
			if hc == nil || hc.Disable || len(hc.Test) < 2 || (hc.Test[0] != "CMD" && hc.Test[0] != "CMD-SHELL") {
				t.Fatalf("healthcheck = %+v, want a CMD or CMD-SHELL test", hc)
			}
			if hc.Interval == nil || hc.Timeout == nil || hc.Retries == nil || hc.StartPeriod == nil || hc.StartInterval == nil {
				t.Errorf("healthcheck sets no interval/timeout/retries/start_period/start_interval: %+v", hc)
			}
			for dep, d := range svc.DependsOn {
				if d.Condition != types.ServiceConditionHealthy {
					t.Errorf("depends_on %s: condition %q, want %q", dep, d.Condition, types.ServiceConditionHealthy)
				}
			}
		})
	}
	deps := map[string][]string{"auth": {"redis"}, "traefik": {"auth"}}
	for svc, want := range deps {
		var got []string
		for dep := range st.Project.Services[svc].DependsOn {
			got = append(got, dep)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s depends on %v, want %v", svc, got, want)
		}
	}
	// What each check proves.
	wantTest := map[string]string{
		"redis":   "redis-cli ping",
		"auth":    "authsvc healthcheck",
		"traefik": "--ping",
	}
	for _, name := range mcpServices {
		wantTest[name] = "mcpbridge healthcheck"
	}
	for name, want := range wantTest {
		if got := strings.Join(st.Project.Services[name].HealthCheck.Test[1:], " "); !strings.Contains(got, want) {
			t.Errorf("%s healthcheck %q, want it to run %q", name, got, want)
		}
	}
}

func TestRedisPersistsWithPassword(t *testing.T) {
	st, env := loadStack(t)
	redis := st.Project.Services["redis"]
	cmd := strings.Join(redis.Command, " ")
	for _, want := range []string{"--appendonly yes", "--requirepass " + env["REDIS_PASSWORD"]} {
		if !strings.Contains(cmd, want) {
			t.Errorf("redis command %q lacks %q", cmd, want)
		}
	}
	if got := redis.Environment["REDISCLI_AUTH"]; got == nil || *got != env["REDIS_PASSWORD"] {
		t.Errorf("redis REDISCLI_AUTH (the healthcheck's password) = %v, want REDIS_PASSWORD", got)
	}
	var data *types.ServiceVolumeConfig
	for i, v := range redis.Volumes {
		if v.Target == "/data" {
			data = &redis.Volumes[i]
		}
	}
	if data == nil || data.Type != types.VolumeTypeVolume {
		t.Fatalf("redis /data = %+v, want a named volume (the AOF lives there)", data)
	}
	if _, ok := st.Project.Volumes[data.Source]; !ok {
		t.Errorf("volume %s is not declared at the top level", data.Source)
	}
	if _, ok := redis.Networks[edgeNetwork]; ok {
		t.Errorf("redis joins %s; it must be reachable by authsvc only", edgeNetwork)
	}
	auth := st.Project.Services["auth"]
	for k, want := range map[string]string{"REDIS_PASSWORD": env["REDIS_PASSWORD"], "REDIS_URL": "redis://redis:6379/0"} {
		if got := auth.Environment[k]; got == nil || *got != want {
			t.Errorf("auth %s = %v, want %q", k, got, want)
		}
	}
	shared := false
	for n := range redis.Networks {
		if _, ok := auth.Networks[n]; ok {
			shared = true
		}
	}
	if !shared {
		t.Errorf("auth and redis share no network")
	}
}

// TestStatefulVolumes: everything that must survive `docker compose down` sits on a
// declared named volume.
func TestStatefulVolumes(t *testing.T) {
	st, _ := loadStack(t)
	want := map[string]string{"redis": "/data", "memory": "/data", "filesystem": "/data", "traefik": "/letsencrypt"}
	for svc, target := range want {
		found := false
		for _, v := range st.Project.Services[svc].Volumes {
			if v.Target != target {
				continue
			}
			found = true
			if v.Type != types.VolumeTypeVolume {
				t.Errorf("%s %s is a %s mount, want a named volume", svc, target, v.Type)
			} else if _, ok := st.Project.Volumes[v.Source]; !ok {
				t.Errorf("%s %s: volume %s not declared", svc, target, v.Source)
			}
		}
		if !found {
			t.Errorf("%s mounts nothing at %s", svc, target)
		}
	}
}

// TestRequiredVariablesFailFast: a missing secret stops `docker compose up` with a
// message naming it, instead of starting a service with an empty value.
func TestRequiredVariablesFailFast(t *testing.T) {
	required := requiredVariables(t)
	for _, name := range []string{"BASE_DOMAIN", "ACME_EMAIL", "REDIS_PASSWORD", "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET", "ALLOWED_GITHUB_USERS", "REVOCATION_FEED_TOKEN"} {
		if !required[name] {
			t.Errorf("%s is not read as ${%s:?…} by any compose file", name, name)
		}
		t.Run(name, func(t *testing.T) {
			env := exampleEnv(t)
			env[name] = ""
			_, err := labels.LoadProject(composeDir, env)
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("loading with %s empty: error = %v, want one naming %s", name, err, name)
			}
		})
	}
}

// TestMCPServerImages: each MCP service's image installs the server it runs, pinned,
// and the npm servers are the versions the bridge's tests run against
// (scripts/install-mcp-npm.sh), so the images ship what CI has exercised.
func TestMCPServerImages(t *testing.T) {
	st, env := loadStack(t)
	script, err := os.ReadFile(repoPath(t, "scripts/install-mcp-npm.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^SERVERS_VERSION=(\S+)`).FindSubmatch(script)
	if m == nil {
		t.Fatal("scripts/install-mcp-npm.sh has no SERVERS_VERSION")
	}
	tested := string(m[1])
	if env["MCP_NPM_SERVERS_VERSION"] != tested {
		t.Errorf(".env.example MCP_NPM_SERVERS_VERSION = %q, want %q (scripts/install-mcp-npm.sh)", env["MCP_NPM_SERVERS_VERSION"], tested)
	}
	want := map[string]struct{ pkg, bin string }{
		"everything": {"@modelcontextprotocol/server-everything@" + tested, "mcp-server-everything"},
		"memory":     {"@modelcontextprotocol/server-memory@" + tested, "mcp-server-memory"},
		"filesystem": {"@modelcontextprotocol/server-filesystem@" + tested, "mcp-server-filesystem"},
		"fetch":      {"mcp-server-fetch==" + env["MCP_FETCH_VERSION"], "mcp-server-fetch"},
		"time":       {"mcp-server-time==" + env["MCP_TIME_VERSION"], "mcp-server-time"},
	}
	for _, name := range mcpServices {
		svc := st.Project.Services[name]
		w := want[name]
		if svc.Build == nil || svc.Build.Args["MCP_PACKAGE"] == nil || *svc.Build.Args["MCP_PACKAGE"] != w.pkg {
			t.Errorf("%s: MCP_PACKAGE build arg is not %q", name, w.pkg)
		}
		if len(svc.Command) < 2 || svc.Command[0] != "--" || svc.Command[1] != w.bin {
			t.Errorf("%s: command %q, want [-- %s …] (mcpbridge's arguments)", name, svc.Command, w.bin)
		}
		// mcpbridge runs as PID 1 otherwise and does not reap grandchildren a server leaves.
		if svc.Init == nil || !*svc.Init {
			t.Errorf("%s: init is not true (an init process must reap orphaned grandchildren)", name)
		}
	}
}
