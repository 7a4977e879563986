package localstack

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func testPlan() RoutingPlan {
	return RoutingPlan{
		Auth:         Route{Name: AuthService, PublicURL: "http://localhost:8080", EntryPoint: AuthService, Backend: "http://127.0.0.1:9000"},
		Issuer:       "http://localhost:8080",
		AuthInternal: "http://127.0.0.1:9000",
		Services: []Route{
			{Name: "everything", PublicURL: "http://localhost:8081", EntryPoint: "everything", Backend: "http://127.0.0.1:9001"},
			{Name: "memory", PublicURL: "http://localhost:8082", EntryPoint: "memory", Backend: "http://127.0.0.1:9002"},
		},
		RevocationToken: "feedtoken",
		IdentitySecret:  "identity-secret-identity-secret-32",
	}
}

func TestDynamicRouters(t *testing.T) {
	cfg := testPlan().Dynamic()
	tests := []struct {
		router, rule, service, entry string
		prio                         int
		middlewares                  []string
	}{
		{"everything-oauth-discovery", "Host(`localhost`) && (PathPrefix(`/.well-known/oauth-authorization-server`) || PathPrefix(`/.well-known/openid-configuration`))", "auth", "everything", 10, nil},
		{"auth-oauth", "Host(`localhost`) && (PathPrefix(`/register`) || PathPrefix(`/authorize`) || PathPrefix(`/token`) || PathPrefix(`/callback`) || PathPrefix(`/revoke`) || PathPrefix(`/introspect`) || PathPrefix(`/consent`) || PathPrefix(`/.well-known`) || Path(`/health`) || Path(`/health/live`))", "auth", "auth", 4, nil},
		{"auth-verify", "PathPrefix(`/verify`)", "auth", "internal", 3, nil},
		{"memory", "Host(`localhost`) && PathPrefix(`/mcp`)", "memory", "memory", 2, []string{"mcpauth-memory"}},
		{"memory-catchall", "Host(`localhost`)", "memory", "memory", 1, []string{"mcpauth-memory"}},
	}
	for _, tc := range tests {
		t.Run(tc.router, func(t *testing.T) {
			r, ok := cfg.HTTP.Routers[tc.router]
			if !ok {
				t.Fatalf("router %s missing", tc.router)
			}
			if r.Rule != tc.rule || r.Service != tc.service || r.Priority != tc.prio {
				t.Errorf("router = %+v, want rule %q service %q priority %d", r, tc.rule, tc.service, tc.prio)
			}
			if len(r.EntryPoints) != 1 || r.EntryPoints[0] != tc.entry {
				t.Errorf("entry points = %v, want [%s]", r.EntryPoints, tc.entry)
			}
			if strings.Join(r.Middlewares, ",") != strings.Join(tc.middlewares, ",") {
				t.Errorf("middlewares = %v, want %v", r.Middlewares, tc.middlewares)
			}
		})
	}
	if got, want := len(cfg.HTTP.Routers), 2+3*2; got != want {
		t.Errorf("%d routers, want %d", got, want)
	}
}

func TestDynamicPluginConfig(t *testing.T) {
	cfg := testPlan().Dynamic()
	m, ok := cfg.HTTP.Middlewares["mcpauth-everything"]
	if !ok {
		t.Fatal("middleware mcpauth-everything missing")
	}
	got := m.Plugin[PluginName]
	want := map[string]any{
		"issuer":          "http://localhost:8080",
		"resource":        "http://localhost:8081/mcp",
		"jwksURL":         "http://127.0.0.1:9000/.well-known/jwks.json",
		"revocationURL":   "http://127.0.0.1:9000/internal/revocations",
		"revocationToken": "feedtoken",
		"identitySecret":  "identity-secret-identity-secret-32",
		"scopesSupported": "mcp",
	}
	if len(got) != len(want) {
		t.Errorf("plugin config = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("plugin config %s = %v, want %v", k, got[k], v)
		}
	}
	if s := cfg.HTTP.Services["memory"].LoadBalancer.Servers; len(s) != 1 || s[0].URL != "http://127.0.0.1:9002" {
		t.Errorf("memory service servers = %v", s)
	}
}

func TestDynamicYAMLIsJSON(t *testing.T) {
	b, err := testPlan().Dynamic().YAML()
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("dynamic config is not JSON (and so not the YAML subset Traefik reads): %v", err)
	}
	if _, ok := back["http"].(map[string]any)["routers"]; !ok {
		t.Errorf("no http.routers in %s", b)
	}
}

func TestStaticArgs(t *testing.T) {
	args := strings.Join(testPlan().StaticArgs("/d/dynamic.yml", "/logs", "127.0.0.1:7000", "127.0.0.1:7001"), "\n") + "\n"
	for _, want := range []string{
		"--entryPoints.auth.address=127.0.0.1:8080",
		"--entryPoints.everything.address=127.0.0.1:8081",
		"--entryPoints.memory.address=127.0.0.1:8082",
		"--entryPoints.internal.address=127.0.0.1:7001",
		"--entryPoints.memory.http.middlewares=security-headers@file,retry-unreachable@file",
		"--experimental.localPlugins.mcpauth.moduleName=github.com/mcp-oauth-gateway/gateway",
		"--providers.file.filename=/d/dynamic.yml",
	} {
		if !strings.Contains(args, want+"\n") {
			t.Errorf("static args lack %s:\n%s", want, args)
		}
	}
	if strings.Contains(args, "--entryPoints.internal.http.middlewares") {
		t.Errorf("internal entry point must not get the public middlewares")
	}
}

func TestCopyPlugin(t *testing.T) {
	repo := t.TempDir()
	must := func(path, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must(filepath.Join(repo, ".traefik.yml"), "import: x\n")
	must(filepath.Join(repo, "go.mod"), "module x\n")
	must(filepath.Join(repo, "plugin", "a.go"), "package a\n")
	must(filepath.Join(repo, "plugin", "a_test.go"), "package a\n")
	must(filepath.Join(repo, "plugin", "testdata", "x.go"), "package x\n")
	dst := t.TempDir()
	if err := CopyPlugin(repo, dst); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dst, "plugins-local", "src", "github.com", "mcp-oauth-gateway", "gateway")
	for path, want := range map[string]bool{".traefik.yml": true, "go.mod": true, "plugin/a.go": true, "plugin/a_test.go": false, "plugin/testdata/x.go": false} {
		_, err := os.Stat(filepath.Join(base, path))
		if got := err == nil; got != want {
			t.Errorf("%s copied = %v, want %v", path, got, want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{
		RepoDir: "r", StateDir: "s", LogDir: "l",
		Bin:     Binaries{Traefik: "t", Authsvc: "a", Bridge: "b"},
		GitHub:  GitHub{URL: "u", APIURL: "a", ClientID: "i", ClientSecret: "s"},
		Servers: []MCPServer{{Name: "everything", Command: []string{"x"}}},
	}
	if err := good.validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	for name, mod := range map[string]func(*Config){
		"no servers":    func(c *Config) { c.Servers = nil },
		"bad name":      func(c *Config) { c.Servers[0].Name = "Every Thing" },
		"reserved name": func(c *Config) { c.Servers[0].Name = "auth" },
		"duplicate":     func(c *Config) { c.Servers = append(c.Servers, c.Servers[0]) },
		"no command":    func(c *Config) { c.Servers[0].Command = nil },
		"no traefik":    func(c *Config) { c.Bin.Traefik = "" },
		"no github":     func(c *Config) { c.GitHub.ClientSecret = "" },
		"no state dir":  func(c *Config) { c.StateDir = "" },
	} {
		t.Run(name, func(t *testing.T) {
			c := good
			c.Servers = append([]MCPServer(nil), good.Servers...)
			mod(&c)
			if err := c.validate(); err == nil {
				t.Errorf("config accepted, want an error")
			}
		})
	}
}

func TestPlanRefusesTakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	cfg := &Config{Host: "localhost", AuthPort: taken, Servers: []MCPServer{{Name: "everything", Command: []string{"x"}}}}
	if _, err := newPlan(cfg, newPorts()); !errors.Is(err, ErrPortInUse) || !strings.Contains(err.Error(), strconv.Itoa(taken)) {
		t.Errorf("newPlan with taken port %d: %v, want ErrPortInUse naming the port", taken, err)
	}
	cfg.AuthPort = 0
	p, err := newPlan(cfg, newPorts())
	if err != nil {
		t.Fatal(err)
	}
	if p.Issuer != p.Auth.PublicURL || !strings.HasPrefix(p.Issuer, "http://localhost:") || p.Services[0].MCPURL() != p.Services[0].PublicURL+"/mcp" {
		t.Errorf("plan = %+v", p)
	}
}

func TestBaseEnvDropsDotenvSettings(t *testing.T) {
	t.Setenv("JWT_KEY_DIR", "/keys")
	t.Setenv("BASE_DOMAIN", "example.com")
	t.Setenv("HOME", "/home/x")
	env := strings.Join(baseEnv(), "\n")
	if strings.Contains(env, "JWT_KEY_DIR") || strings.Contains(env, "BASE_DOMAIN") {
		t.Errorf("stack processes would inherit compose settings from .env:\n%s", env)
	}
	if !strings.Contains(env, "HOME=/home/x") {
		t.Errorf("HOME not inherited:\n%s", env)
	}
}

// TestPortsNeverRepeat: a port handed out (free or fixed) is never handed out again,
// so a later free pick cannot land on a fixed public port Traefik has yet to bind.
func TestPortsNeverRepeat(t *testing.T) {
	ps := newPorts()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fixedPort := l.Addr().(*net.TCPAddr).Port
	l.Close()
	if _, err := ps.fixed(fixedPort); err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{fixedPort: true}
	for i := 0; i < 200; i++ {
		p, err := ps.free()
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}

func TestPlanClaimsFixedServicePorts(t *testing.T) {
	var (
		base int
		ps   *ports
		p    RoutingPlan
		err  error
	)
	// Three consecutive free ports: retry a few bases, other tests use ports too.
	for try := 0; try < 20; try++ {
		if base, err = FreePort(); err != nil {
			t.Fatal(err)
		}
		ps = newPorts()
		cfg := &Config{Host: "localhost", AuthPort: base, FirstServicePort: base + 1,
			Servers: []MCPServer{{Name: "a", Command: []string{"x"}}, {Name: "b", Command: []string{"x"}}}}
		if p, err = newPlan(cfg, ps); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("no three consecutive free ports found: %v", err)
	}
	for _, port := range []int{base, base + 1, base + 2} {
		if !ps.taken[port] {
			t.Errorf("public port %d not claimed", port)
		}
	}
	if p.Services[1].PublicURL != "http://localhost:"+strconv.Itoa(base+2) {
		t.Errorf("second service at %s, want port %d", p.Services[1].PublicURL, base+2)
	}
}
