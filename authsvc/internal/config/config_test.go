package config

import (
	"errors"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/internal/contract"
)

// base is a valid serve environment; cases change one variable.
func base() map[string]string {
	return map[string]string{
		"BASE_DOMAIN":          "example.com",
		"GITHUB_CLIENT_ID":     "Iv1.abc",
		"GITHUB_CLIENT_SECRET": "secret",
		"ALLOWED_GITHUB_USERS": "Alice, bob",
	}
}

func load(t *testing.T, env map[string]string, mode Mode, check KeyCheck) (*Config, error) {
	t.Helper()
	return Load(func(k string) string { return env[k] }, mode, check)
}

func TestDefaults(t *testing.T) {
	c, err := load(t, base(), Serve, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"ListenAddr", c.ListenAddr, ":8000"},
		{"IssuerURL", c.IssuerURL, "https://auth.example.com"},
		{"RedisURL", c.RedisURL, "redis://127.0.0.1:6379/0"},
		{"GitHubURL", c.GitHubURL, "https://github.com"},
		{"GitHubAPIURL", c.GitHubAPIURL, "https://api.github.com"},
		{"AllowedGitHubUsers", strings.Join(c.AllowedGitHubUsers, ","), "alice,bob"},
		{"ClientLifetime", c.ClientLifetime, 7776000 * time.Second},
		{"AccessTokenLifetime", c.AccessTokenLifetime, time.Hour},
		{"RefreshTokenLifetime", c.RefreshTokenLifetime, 30 * 24 * time.Hour},
		{"AuthCodeLifetime", c.AuthCodeLifetime, 10 * time.Minute},
		{"SessionLifetime", c.SessionLifetime, 12 * time.Hour},
		{"JWTAlgorithm", c.JWTAlgorithm, "RS256"},
		{"DefaultAudience", c.DefaultAudience, "urn:mcp-oauth-gateway:default"},
		{"RegistrationRateLimit", c.RegistrationRateLimit, 30},
		{"MaxBodyBytes", c.MaxBodyBytes, int64(65536)},
		{"LogFormat", c.LogFormat, "json"},
		{"LogLevel", c.LogLevel.String(), "INFO"},
		{"TrustedProxies has 10.0.0.0/8", containsPrefix(c.TrustedProxies, "10.0.0.0/8"), true},
		{"SessionSecret empty", len(c.SessionSecret), 0},
	}
	for _, tc := range checks {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func containsPrefix(ps []netip.Prefix, s string) bool {
	for _, p := range ps {
		if p.String() == s {
			return true
		}
	}
	return false
}

func TestValues(t *testing.T) {
	env := base()
	env["AUTH_ISSUER_URL"] = "http://127.0.0.1:9000/"
	env["CLIENT_LIFETIME"] = "0"
	env["JWT_ALGORITHM"] = "hs256"
	env["GATEWAY_JWT_SECRET"] = strings.Repeat("k", 32)
	env["TRUSTED_PROXIES"] = "192.0.2.1, 2001:db8::/32"
	env["LOG_LEVEL"] = "debug"
	env["LOG_FORMAT"] = "TEXT"
	env["GITHUB_URL"] = "http://localhost:9999/"
	c, err := load(t, env, Serve, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.IssuerURL != "http://127.0.0.1:9000" {
		t.Errorf("IssuerURL = %q, want trailing slash removed", c.IssuerURL)
	}
	if c.ClientLifetime != 0 {
		t.Errorf("ClientLifetime = %v, want 0 (eternal)", c.ClientLifetime)
	}
	if c.JWTAlgorithm != HS256 || string(c.GatewayJWTSecret) != env["GATEWAY_JWT_SECRET"] {
		t.Errorf("JWT = %q/%q", c.JWTAlgorithm, c.GatewayJWTSecret)
	}
	if len(c.TrustedProxies) != 2 || c.TrustedProxies[0].String() != "192.0.2.1/32" {
		t.Errorf("TrustedProxies = %v", c.TrustedProxies)
	}
	if c.LogFormat != "text" || c.LogLevel.String() != "DEBUG" {
		t.Errorf("log = %s/%s", c.LogFormat, c.LogLevel)
	}
	if c.GitHubURL != "http://localhost:9999" {
		t.Errorf("GitHubURL = %q", c.GitHubURL)
	}
}

// TestProblems changes one variable at a time and checks that the error names it.
func TestProblems(t *testing.T) {
	cases := []struct {
		name, key, value string
		want             string // substring of the message, after "KEY"
	}{
		{"listen addr", "LISTEN_ADDR", "8000", "not host:port"},
		{"metrics addr", "METRICS_LISTEN_ADDR", "9100", "not host:port"},
		{"metrics on the public port", "METRICS_LISTEN_ADDR", ":8000", "need their own port"},
		{"base domain with scheme", "BASE_DOMAIN", "https://example.com", "bare domain"},
		{"base domain missing", "BASE_DOMAIN", "", "is not set"},
		{"issuer not a URL", "AUTH_ISSUER_URL", "auth.example.com", "not an absolute URL"},
		{"issuer http public", "AUTH_ISSUER_URL", "http://auth.example.com", "only for loopback"},
		{"issuer http lookalike", "AUTH_ISSUER_URL", "http://localhost.evil.com", "only for loopback"},
		{"issuer ftp", "AUTH_ISSUER_URL", "ftp://auth.example.com", "must use https"},
		{"issuer with path", "AUTH_ISSUER_URL", "https://example.com/auth", "must not have a path"},
		{"issuer with query", "AUTH_ISSUER_URL", "https://example.com?x=1", "query"},
		{"issuer with userinfo", "AUTH_ISSUER_URL", "https://u@example.com", "user info"},
		{"redis scheme", "REDIS_URL", "http://redis:6379", "not a redis://"},
		{"redis no host", "REDIS_URL", "redis://", "not a redis://"},
		{"sentinel not host:port", "REDIS_SENTINELS", "sentinel1", "not host:port"},
		{"sentinels without master", "REDIS_SENTINELS", "s1:26379,s2:26379", "with REDIS_SENTINELS name the master"},
		{"master without sentinels", "REDIS_MASTER_NAME", "gateway", "list the sentinels"},
		{"wait replicas text", "REDIS_WAIT_REPLICAS", "all", "whole number"},
		{"wait timeout zero", "REDIS_WAIT_TIMEOUT_MS", "0", "out of range"},
		{"github id missing", "GITHUB_CLIENT_ID", "", "is not set"},
		{"github secret missing", "GITHUB_CLIENT_SECRET", "", "is not set"},
		{"allowed users missing", "ALLOWED_GITHUB_USERS", " , ", "is not set"},
		{"github url http", "GITHUB_URL", "http://github.example.com", "must use https"},
		{"github url relative", "GITHUB_URL", "github.com", "not an absolute URL"},
		{"github api url query", "GITHUB_API_URL", "https://api.github.com?x", "query"},
		{"client lifetime text", "CLIENT_LIFETIME", "90d", "whole number of seconds"},
		{"client lifetime negative", "CLIENT_LIFETIME", "-1", "out of range"},
		{"access lifetime zero", "ACCESS_TOKEN_LIFETIME", "0", "too small"},
		{"access lifetime float", "ACCESS_TOKEN_LIFETIME", "1.5", "whole number"},
		{"refresh lifetime zero", "REFRESH_TOKEN_LIFETIME", "0", "too small"},
		{"refresh lifetime huge", "REFRESH_TOKEN_LIFETIME", "99999999999999", "out of range"},
		{"code lifetime zero", "AUTH_CODE_LIFETIME", "0", "too small"},
		{"code lifetime too long", "AUTH_CODE_LIFETIME", "601", "at most 600"},
		{"session lifetime zero", "SESSION_LIFETIME", "0", "too small"},
		{"session lifetime text", "SESSION_LIFETIME", "12h", "whole number"},
		{"algorithm", "JWT_ALGORITHM", "none", "not one of RS256, ES256, HS256"},
		{"algorithm PS256", "JWT_ALGORITHM", "PS256", "not one of"},
		{"session secret short", "SESSION_SECRET", "short", "at least 32"},
		{"default audience relative", "DEFAULT_AUDIENCE", "not a uri", "absolute URI"},
		{"default audience fragment", "DEFAULT_AUDIENCE", "https://x.example/#f", "absolute URI"},
		{"revocation token space", "REVOCATION_FEED_TOKEN", strings.Repeat("a", 32) + " b", "without spaces"},
		{"key dir is a file", "JWT_KEY_DIR", "config_test.go", "not a directory"},
		{"rate limit text", "REGISTRATION_RATE_LIMIT", "many", "whole number"},
		{"rate limit negative", "REGISTRATION_RATE_LIMIT", "-1", "out of range"},
		{"trusted proxies", "TRUSTED_PROXIES", "10.0.0.0/33", "CIDR"},
		{"trusted proxies word", "TRUSTED_PROXIES", "traefik", "not an IP address"},
		{"max body small", "MAX_BODY_BYTES", "10", "out of range"},
		{"max body text", "MAX_BODY_BYTES", "64k", "whole number"},
		{"log level", "LOG_LEVEL", "verbose", "not one of debug"},
		{"log format", "LOG_FORMAT", "xml", "not json or text"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := base()
			env[tc.key] = tc.value
			_, err := load(t, env, Serve, nil)
			if err == nil {
				t.Fatalf("Load with %s=%q succeeded, want an error", tc.key, tc.value)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
			var p Problems
			if !errors.As(err, &p) {
				t.Fatalf("error %T is not Problems", err)
			}
			found := false
			for _, msg := range p {
				if strings.HasPrefix(msg, tc.key) && strings.Contains(msg, tc.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("problems %q: none starts with %s and contains %q", p, tc.key, tc.want)
			}
		})
	}
}

func TestJWTProblems(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		key  string
		want string
	}{
		{"hs256 without secret", map[string]string{"JWT_ALGORITHM": "HS256"}, "GATEWAY_JWT_SECRET", "is not set"},
		{"hs256 short secret", map[string]string{"JWT_ALGORITHM": "HS256", "GATEWAY_JWT_SECRET": strings.Repeat("x", 31)}, "GATEWAY_JWT_SECRET", "at least 32"},
		{"hs256 with key", map[string]string{"JWT_ALGORITHM": "HS256", "GATEWAY_JWT_SECRET": strings.Repeat("x", 32), "JWT_KEY_DIR": "/k"}, "JWT_ALGORITHM", "unset JWT_PRIVATE_KEY"},
		{"key and dir", map[string]string{"JWT_PRIVATE_KEY": "pem", "JWT_KEY_DIR": "/k"}, "JWT_PRIVATE_KEY", "both set"},
		{"bad key", map[string]string{"JWT_PRIVATE_KEY": "not a pem"}, "JWT_PRIVATE_KEY", "rejected by check"},
	}
	check := func(pem, alg string) error { return errors.New("rejected by check") }
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := base()
			for k, v := range tc.env {
				env[k] = v
			}
			_, err := load(t, env, Serve, check)
			if err == nil || !strings.Contains(err.Error(), tc.key+": ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %s: …%s…", err, tc.key, tc.want)
			}
		})
	}
}

// TestAllProblemsAtOnce: several bad variables give one error listing all of them.
func TestAllProblemsAtOnce(t *testing.T) {
	env := map[string]string{
		"AUTH_ISSUER_URL": "http://auth.example.com",
		"CLIENT_LIFETIME": "x",
		"LOG_FORMAT":      "xml",
		"JWT_ALGORITHM":   "none",
	}
	_, err := load(t, env, Serve, nil)
	var p Problems
	if !errors.As(err, &p) {
		t.Fatalf("err = %v, want Problems", err)
	}
	for _, key := range []string{"AUTH_ISSUER_URL", "CLIENT_LIFETIME", "LOG_FORMAT", "JWT_ALGORITHM", "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET", "ALLOWED_GITHUB_USERS"} {
		if !strings.Contains(err.Error(), key+": ") {
			t.Errorf("error does not name %s:\n%v", key, err)
		}
	}
	if len(p) != 7 {
		t.Errorf("got %d problems, want 7:\n%v", len(p), err)
	}
}

func TestAdminModeNeedsNoGitHub(t *testing.T) {
	env := map[string]string{"BASE_DOMAIN": "example.com"}
	if _, err := load(t, env, Admin, nil); err != nil {
		t.Fatalf("Admin mode without GitHub credentials: %v", err)
	}
	if _, err := load(t, env, Serve, nil); err == nil {
		t.Fatal("Serve mode without GitHub credentials succeeded")
	}
}

func TestLoopbackIssuers(t *testing.T) {
	for _, iss := range []string{"http://localhost:8000", "http://auth.localhost", "http://127.0.0.1", "http://127.9.9.9:1", "http://[::1]:8000", "https://auth.example.com:8443"} {
		env := base()
		env["AUTH_ISSUER_URL"] = iss
		c, err := load(t, env, Serve, nil)
		if err != nil {
			t.Errorf("issuer %s: %v", iss, err)
			continue
		}
		if c.IssuerURL != iss {
			t.Errorf("IssuerURL = %q, want %q", c.IssuerURL, iss)
		}
	}
}

func TestVariablesListsEveryName(t *testing.T) {
	got := strings.Join(Variables(), " ")
	for _, want := range []string{"LISTEN_ADDR", "AUTH_ISSUER_URL", "REDIS_PASSWORD", "GATEWAY_JWT_SECRET", "TRUSTED_PROXIES", "REVOCATION_FEED_TOKEN", "MAX_BODY_BYTES"} {
		if !strings.Contains(got, want) {
			t.Errorf("Variables() lacks %s", want)
		}
	}
}

// TestEnvExampleDocumentsEveryVariable keeps .env.example and docs/authsvc.md in step
// with the variables authsvc reads.
// TestTunablesAreVariables: every variable `just run` passes through to authsvc
// (contract.AuthsvcTunables) is one authsvc reads.
func TestTunablesAreVariables(t *testing.T) {
	vars := map[string]bool{}
	for _, v := range Variables() {
		vars[v] = true
	}
	for _, v := range contract.AuthsvcTunables {
		if !vars[v] {
			t.Errorf("just run passes %s to authsvc, which reads no such variable", v)
		}
	}
}

func TestEnvExampleDocumentsEveryVariable(t *testing.T) {
	for _, file := range []string{"../../../.env.example", "../../../docs/authsvc.md"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range Variables() {
			want := name + "="
			if strings.HasSuffix(file, ".md") {
				want = "`" + name + "`"
			}
			if !strings.Contains(string(b), want) {
				t.Errorf("%s does not document %s", file, name)
			}
		}
	}
	// And the other way: the configuration table documents no variable authsvc does
	// not read.
	b, err := os.ReadFile("../../../docs/authsvc.md")
	if err != nil {
		t.Fatal(err)
	}
	read := map[string]bool{}
	for _, name := range Variables() {
		read[name] = true
	}
	// A row's first cell holds one or more `NAME`s.
	var documented []string
	for _, cell := range regexp.MustCompile("(?m)^\\| (`[A-Z][^|]*) \\|").FindAllStringSubmatch(string(b), -1) {
		for _, name := range regexp.MustCompile("`([A-Z][A-Z0-9_]+)`").FindAllStringSubmatch(cell[1], -1) {
			documented = append(documented, name[1])
		}
	}
	if len(documented) < len(read) {
		t.Fatalf("docs/authsvc.md: found %d variables in table rows, want at least %d (did the table's format change?)", len(documented), len(read))
	}
	for _, name := range documented {
		if !read[name] {
			t.Errorf("docs/authsvc.md documents %s, which authsvc does not read", name)
		}
	}
}

// TestSecretFiles: each secret variable can come from a file (NAME_FILE, as Docker and
// Swarm mount secrets), with one trailing line break removed; setting both, or naming
// a file that cannot be read, is refused with the variable's name.
func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := dir + "/" + name
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := base()
	delete(env, "GITHUB_CLIENT_SECRET")
	env["GITHUB_CLIENT_SECRET_FILE"] = write("gh", "from-a-file\n")
	env["SESSION_SECRET_FILE"] = write("session", strings.Repeat("s", 40)+"\r\n")
	env["REDIS_PASSWORD_FILE"] = write("redis", "two words\n\n") // only one break goes
	env["REVOCATION_FEED_TOKEN_FILE"] = write("feed", "feed-token-from-file")
	c, err := load(t, env, Serve, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for name, got := range map[string]string{
		"GitHubClientSecret": c.GitHubClientSecret, "SessionSecret": string(c.SessionSecret),
		"RedisPassword": c.RedisPassword, "RevocationFeedToken": c.RevocationFeedToken,
	} {
		want := map[string]string{
			"GitHubClientSecret": "from-a-file", "SessionSecret": strings.Repeat("s", 40),
			"RedisPassword": "two words\n", "RevocationFeedToken": "feed-token-from-file",
		}[name]
		if got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}

	cases := map[string]struct {
		env  map[string]string
		want string
	}{
		"both set":     {map[string]string{"GITHUB_CLIENT_SECRET": "x", "GITHUB_CLIENT_SECRET_FILE": write("gh2", "y")}, "GITHUB_CLIENT_SECRET and GITHUB_CLIENT_SECRET_FILE are both set"},
		"missing file": {map[string]string{"SESSION_SECRET_FILE": dir + "/nope"}, "SESSION_SECRET_FILE: open " + dir + "/nope"},
		"empty file":   {map[string]string{"REDIS_PASSWORD_FILE": write("empty", "\n")}, "REDIS_PASSWORD_FILE: " + dir + "/empty is empty"},
		"a directory":  {map[string]string{"GATEWAY_JWT_SECRET_FILE": dir}, "GATEWAY_JWT_SECRET_FILE: " + dir + " is not a regular file"},
	}
	for name, tc := range cases {
		env := base()
		for k, v := range tc.env {
			env[k] = v
		}
		_, err := load(t, env, Serve, nil)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want ErrInvalid containing %q", name, err, tc.want)
		}
	}
	// Every secret variable is one authsvc reads.
	read := strings.Join(Variables(), " ")
	for _, k := range SecretVariables {
		if !strings.Contains(" "+read+" ", " "+k+" ") {
			t.Errorf("SecretVariables names %s, which authsvc does not read", k)
		}
	}
}
