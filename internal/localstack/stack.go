// Package localstack runs the whole gateway on one machine without Docker:
// redis-server, authsvc, one mcpbridge per MCP server and a real Traefik with the
// mcpauth plugin loaded as a local plugin, routed exactly like the compose labels but
// on loopback with a plain-HTTP issuer.
//
// `just run` (cmd/mcpgw-run) and the end-to-end tests (tests/e2e) both start the
// stack through [Start], so the tests exercise what users run.
//
// Every public origin is http://localhost:<port>, one port per service (auth and each
// MCP server). Plain names on one port (everything.localhost) would be nicer, but MCP
// clients, the official Go SDK among them, accept plain http only for "localhost" and
// loopback IP literals, so a per-service port is what lets every client connect.
package localstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mcp-oauth-gateway/gateway/internal/contract"
)

// MCPServer is one stdio MCP server to put behind the gateway.
type MCPServer struct {
	// Name becomes the router, middleware and service name and the log file name:
	// lower-case letters, digits and dashes.
	Name string
	// Command is the stdio server's command line (argv), run by mcpbridge.
	Command []string
	// Env is added to the bridge's environment (and so the server's), KEY=VALUE.
	Env []string
}

// Binaries are the programs the stack runs.
type Binaries struct {
	Traefik string // Traefik v3.6.12 (scripts/build-traefik.sh)
	Authsvc string // authsvc ([Build] makes it)
	Bridge  string // mcpbridge ([Build] makes it)
	Redis   string // redis-server; empty: looked up in PATH
}

// GitHub says where humans log in.
type GitHub struct {
	URL          string // GITHUB_URL, e.g. https://github.com or a stand-in's URL
	APIURL       string // GITHUB_API_URL
	ClientID     string
	ClientSecret string
}

// Config configures [Start]. RepoDir, StateDir, LogDir, Bin, GitHub and Servers are
// required; zero ports mean free ephemeral ports.
type Config struct {
	// RepoDir is the repository root: the plugin is loaded from its plugin/ and
	// .traefik.yml.
	RepoDir string
	// StateDir holds Traefik's working directory, Redis data and other state.
	StateDir string
	// LogDir receives one <process>.log per process and Traefik's access log.
	LogDir string

	// Host is the public host name, "localhost" by default.
	Host string
	// AuthPort is the public port of authsvc (the issuer); 0 picks a free one.
	AuthPort int
	// FirstServicePort is the public port of the first MCP server, the next ones
	// following it; 0 picks free ones.
	FirstServicePort int

	Servers []MCPServer
	Bin     Binaries
	GitHub  GitHub

	// AllowedUsers is ALLOWED_GITHUB_USERS.
	AllowedUsers string
	// AuthEnv is extra KEY=VALUE environment for authsvc (lifetimes, log level...).
	AuthEnv []string
	// BridgeArgs are extra flags for every mcpbridge, before the `--`.
	BridgeArgs []string
	// RedisPersist keeps Redis data (AOF) in StateDir/redis across runs; tests leave
	// it off.
	RedisPersist bool
	// RevocationInterval is how old the plugin's revocation list may get before it
	// polls again; zero keeps the plugin's default, as the compose labels do.
	RevocationInterval time.Duration
	// TracesEndpoint, when set, is an OTLP/HTTP traces URL: Traefik, authsvc and every
	// bridge send their spans there (W3C trace context joins them into one trace).
	TracesEndpoint string
	// ReadyTimeout bounds each process's start-up (default 90s: npx and Yaegi are
	// slow on a busy machine).
	ReadyTimeout time.Duration

	// Logger receives progress; nil discards it.
	Logger *slog.Logger
}

// Stack is a running local gateway. Stop it when done.
type Stack struct {
	// Issuer is authsvc's public issuer URL, e.g. http://localhost:8080.
	Issuer string
	// AuthInternal is authsvc's own loopback address, bypassing Traefik.
	AuthInternal string
	// RedisURL is the Redis that authsvc uses.
	RedisURL string
	// Plan is the routing the Traefik configuration was generated from.
	Plan RoutingPlan
	// DynamicFile is the Traefik dynamic configuration file written for this run.
	DynamicFile string
	// LogDir holds the logs.
	LogDir string

	group   *group
	ports   *ports
	log     *slog.Logger
	runFile string // RunFile in StateDir, while running
}

// MCPURL returns the public MCP endpoint of the named server, or "" if unknown.
func (s *Stack) MCPURL(name string) string {
	for _, r := range s.Plan.Services {
		if r.Name == name {
			return r.MCPURL()
		}
	}
	return ""
}

// BridgeURL returns the loopback URL of the named server's bridge, bypassing
// Traefik (for tests that must show what the edge adds), or "".
func (s *Stack) BridgeURL(name string) string {
	for _, r := range s.Plan.Services {
		if r.Name == name {
			return r.Backend
		}
	}
	return ""
}

// Died delivers a message when a process cannot be kept running: it exited more than
// maxRestarts times within stormWindow, or could not be started again. A process that
// exits is otherwise restarted alone while the others go on (see [spec]). Nothing is
// delivered after [Stack.Stop].
func (s *Stack) Died() <-chan string {
	out := make(chan string, 1)
	go func() {
		select {
		case msg := <-s.group.died:
			out <- msg
		case <-s.group.stopC:
		}
	}()
	return out
}

// PIDs returns the current process id of each process of the stack by name (redis,
// authsvc, traefik, and each MCP server's bridge).
func (s *Stack) PIDs() map[string]int { return s.group.pids() }

// Stop stops every process (Traefik first, Redis last), each with a grace period
// before it is killed together with anything it spawned, and removes the run file.
func (s *Stack) Stop() {
	s.log.Info("stopping the local gateway")
	s.group.stopAll(10 * time.Second)
	if s.runFile != "" {
		_ = os.Remove(s.runFile)
	}
}

// ErrConfig is wrapped by every configuration error of [Start].
var ErrConfig = errors.New("localstack: invalid configuration")

func (c *Config) validate() error {
	var problems []string
	if c.RepoDir == "" || c.StateDir == "" || c.LogDir == "" {
		problems = append(problems, "RepoDir, StateDir and LogDir are required")
	}
	if c.Bin.Traefik == "" || c.Bin.Authsvc == "" || c.Bin.Bridge == "" {
		problems = append(problems, "the Traefik, authsvc and mcpbridge binaries are required")
	}
	if c.GitHub.URL == "" || c.GitHub.APIURL == "" || c.GitHub.ClientID == "" || c.GitHub.ClientSecret == "" {
		problems = append(problems, "GitHub URL, API URL, client id and secret are required")
	}
	if len(c.Servers) == 0 {
		problems = append(problems, "at least one MCP server is required")
	}
	seen := map[string]bool{AuthService: true}
	for _, s := range c.Servers {
		if !validName(s.Name) {
			problems = append(problems, fmt.Sprintf("server name %q must be lower-case letters, digits and dashes", s.Name))
		}
		if seen[s.Name] {
			problems = append(problems, fmt.Sprintf("server name %q is used twice (or is reserved)", s.Name))
		}
		seen[s.Name] = true
		if len(s.Command) == 0 {
			problems = append(problems, fmt.Sprintf("server %q has no command", s.Name))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrConfig, strings.Join(problems, "; "))
	}
	return nil
}

func validName(s string) bool {
	if s == "" || len(s) > 40 || s[0] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// Start starts the whole gateway and returns once every route answers through
// Traefik. On error, whatever was started is stopped again.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Host == "" {
		cfg.Host = "localhost"
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 90 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	for _, d := range []string{cfg.StateDir, cfg.LogDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("localstack: %w", err)
		}
	}
	s := &Stack{group: newGroup(log), ports: newPorts(), log: log, LogDir: cfg.LogDir}
	if err := s.start(ctx, &cfg); err != nil {
		s.group.stopAll(5 * time.Second)
		return nil, err
	}
	s.runFile = filepath.Join(cfg.StateDir, RunFile)
	s.group.changed = s.writeRunInfo
	s.writeRunInfo()
	return s, nil
}

func (s *Stack) start(ctx context.Context, cfg *Config) error {
	plan, err := newPlan(cfg, s.ports)
	if err != nil {
		return err
	}
	s.Plan = plan
	s.Issuer = plan.Issuer
	s.AuthInternal = plan.AuthInternal

	if err := s.startRedis(ctx, cfg); err != nil {
		return err
	}
	if err := s.startAuthsvc(ctx, cfg); err != nil {
		return err
	}
	if err := s.startBridges(ctx, cfg); err != nil {
		return err
	}
	return s.startTraefik(ctx, cfg)
}

// ports hands out loopback ports and remembers them: a port picked as free is not
// bound until its process starts, so without the memory a later pick could return
// it again, or return a fixed public port that Traefik has not bound yet.
type ports struct{ taken map[int]bool }

func newPorts() *ports { return &ports{taken: map[int]bool{}} }

// fixed claims a given port after checking that it is free.
func (ps *ports) fixed(port int) (int, error) {
	if err := portFree(port); err != nil {
		return 0, err
	}
	ps.taken[port] = true
	return port, nil
}

// free returns a free port not handed out before.
func (ps *ports) free() (int, error) {
	for try := 0; try < 100; try++ {
		p, err := FreePort()
		if err != nil {
			return 0, err
		}
		if !ps.taken[p] {
			ps.taken[p] = true
			return p, nil
		}
	}
	return 0, fmt.Errorf("localstack: no free port found")
}

// newPlan assigns ports and names every route.
func newPlan(cfg *Config, ps *ports) (RoutingPlan, error) {
	// Claim every fixed public port first, so no free pick can land on one.
	var fixed []int
	if cfg.AuthPort > 0 {
		fixed = append(fixed, cfg.AuthPort)
	}
	for i := range cfg.Servers {
		if cfg.FirstServicePort > 0 {
			fixed = append(fixed, cfg.FirstServicePort+i)
		}
	}
	for _, p := range fixed {
		if _, err := ps.fixed(p); err != nil {
			return RoutingPlan{}, err
		}
	}
	port := func(fixed, i int) (int, error) {
		if fixed > 0 {
			return fixed + i, nil
		}
		return ps.free()
	}
	authPort, err := port(cfg.AuthPort, 0)
	if err != nil {
		return RoutingPlan{}, err
	}
	authBackend, err := ps.free()
	if err != nil {
		return RoutingPlan{}, err
	}
	token, err := randomHex(32)
	if err != nil {
		return RoutingPlan{}, err
	}
	idSecret, err := randomHex(32)
	if err != nil {
		return RoutingPlan{}, err
	}
	p := RoutingPlan{
		Auth: Route{
			Name:       AuthService,
			PublicURL:  originURL(cfg.Host, authPort),
			EntryPoint: AuthService,
			Backend:    originURL("127.0.0.1", authBackend),
		},
		AuthInternal:    originURL("127.0.0.1", authBackend),
		RevocationToken: token,
		IdentitySecret:  idSecret,
	}
	if cfg.RevocationInterval > 0 {
		p.RevocationInterval = cfg.RevocationInterval.String()
	}
	p.Issuer = p.Auth.PublicURL
	for i, srv := range cfg.Servers {
		pub, err := port(cfg.FirstServicePort, i)
		if err != nil {
			return RoutingPlan{}, err
		}
		back, err := ps.free()
		if err != nil {
			return RoutingPlan{}, err
		}
		p.Services = append(p.Services, Route{
			Name:       srv.Name,
			PublicURL:  originURL(cfg.Host, pub),
			EntryPoint: srv.Name,
			Backend:    originURL("127.0.0.1", back),
		})
	}
	return p, nil
}

func (s *Stack) startRedis(ctx context.Context, cfg *Config) error {
	bin := cfg.Bin.Redis
	if bin == "" {
		bin = "redis-server"
	}
	port, err := s.ports.free()
	if err != nil {
		return err
	}
	password, err := randomHex(24)
	if err != nil {
		return err
	}
	dir := filepath.Join(cfg.StateDir, "redis")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("localstack: %w", err)
	}
	aof := "no"
	if cfg.RedisPersist {
		aof = "yes"
	}
	// The password travels in a config file, not argv, so `ps` does not show it.
	conf := filepath.Join(dir, "redis.conf")
	confText := fmt.Sprintf("port %d\nbind 127.0.0.1\nprotected-mode yes\ndir %s\nappendonly %s\nsave \"\"\nrequirepass %s\n", port, dir, aof, password)
	if err := os.WriteFile(conf, []byte(confText), 0o600); err != nil {
		return fmt.Errorf("localstack: %w", err)
	}
	s.log.Info("starting redis-server", "port", port, "persist", cfg.RedisPersist)
	sp := spec{name: "redis", dir: dir, logDir: cfg.LogDir, bin: bin, args: []string{conf}}
	p, err := sp.start()
	if err != nil {
		return err
	}
	s.group.add(sp, p)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s.RedisURL = "redis://:" + password + "@" + addr + "/0"
	return waitReady(ctx, p, cfg.ReadyTimeout, func(ctx context.Context) error { return redisPing(ctx, addr, password) })
}

func (s *Stack) startAuthsvc(ctx context.Context, cfg *Config) error {
	u := s.Plan.AuthInternal
	env := []string{
		"LISTEN_ADDR=" + strings.TrimPrefix(u, "http://"),
		"BASE_DOMAIN=" + cfg.Host,
		"AUTH_ISSUER_URL=" + s.Issuer,
		"REDIS_URL=" + s.RedisURL,
		"REDIS_PASSWORD=",
		"GITHUB_URL=" + cfg.GitHub.URL,
		"GITHUB_API_URL=" + cfg.GitHub.APIURL,
		"GITHUB_CLIENT_ID=" + cfg.GitHub.ClientID,
		"GITHUB_CLIENT_SECRET=" + cfg.GitHub.ClientSecret,
		"ALLOWED_GITHUB_USERS=" + cfg.AllowedUsers,
		"REVOCATION_FEED_TOKEN=" + s.Plan.RevocationToken,
		"TRUSTED_PROXIES=127.0.0.0/8,::1/128",
		"LOG_FORMAT=json",
	}
	env = append(env, cfg.AuthEnv...)
	env = append(env, tracingEnv(cfg)...)
	s.log.Info("starting authsvc", "issuer", s.Issuer, "listen", u)
	sp := spec{name: "authsvc", dir: cfg.StateDir, logDir: cfg.LogDir, env: env, bin: cfg.Bin.Authsvc, args: []string{"serve"}}
	p, err := sp.start()
	if err != nil {
		return err
	}
	s.group.add(sp, p)
	return waitReady(ctx, p, cfg.ReadyTimeout, func(ctx context.Context) error { return httpOK(ctx, u+contract.PathHealth) })
}

func (s *Stack) startBridges(ctx context.Context, cfg *Config) error {
	procs := make([]*process, len(cfg.Servers))
	for i, srv := range cfg.Servers {
		route := s.Plan.Services[i]
		args := append([]string{"--listen", strings.TrimPrefix(route.Backend, "http://")}, cfg.BridgeArgs...)
		args = append(append(args, "--"), srv.Command...)
		s.log.Info("starting mcpbridge", "server", srv.Name, "command", strings.Join(srv.Command, " "))
		env := append([]string{"LOG_FORMAT=json", "MCPBRIDGE_IDENTITY_SECRET=" + s.Plan.IdentitySecret}, srv.Env...)
		env = append(env, tracingEnv(cfg)...)
		sp := spec{name: srv.Name, dir: cfg.StateDir, logDir: cfg.LogDir, env: env, bin: cfg.Bin.Bridge, args: args}
		p, err := sp.start()
		if err != nil {
			return err
		}
		s.group.add(sp, p)
		procs[i] = p
	}
	// The bridges start their servers lazily; wait for all of them together.
	var wg sync.WaitGroup
	errs := make([]error, len(procs))
	for i, p := range procs {
		wg.Add(1)
		go func(i int, p *process) {
			defer wg.Done()
			errs[i] = waitReady(ctx, p, cfg.ReadyTimeout, func(ctx context.Context) error {
				return httpOK(ctx, s.Plan.Services[i].Backend+"/ready") // a real initialize handshake
			})
		}(i, p)
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *Stack) startTraefik(ctx context.Context, cfg *Config) error {
	dir := filepath.Join(cfg.StateDir, "traefik")
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("localstack: %w", err)
	}
	if err := CopyPlugin(cfg.RepoDir, dir); err != nil {
		return err
	}
	data, err := s.Plan.Dynamic().YAML()
	if err != nil {
		return err
	}
	s.DynamicFile = filepath.Join(dir, "dynamic.yml")
	if err := os.WriteFile(s.DynamicFile, data, 0o600); err != nil {
		return fmt.Errorf("localstack: %w", err)
	}
	pingPort, err := s.ports.free()
	if err != nil {
		return err
	}
	ping := originURL("127.0.0.1", pingPort)
	logDir, err := filepath.Abs(cfg.LogDir)
	if err != nil {
		return fmt.Errorf("localstack: %w", err)
	}
	internalPort, err := s.ports.free()
	if err != nil {
		return err
	}
	args := s.Plan.StaticArgs(s.DynamicFile, logDir, strings.TrimPrefix(ping, "http://"), "127.0.0.1:"+strconv.Itoa(internalPort))
	if cfg.TracesEndpoint != "" {
		args = append(args, "--tracing=true", "--tracing.otlp.http.endpoint="+cfg.TracesEndpoint)
	}
	s.log.Info("starting traefik", "binary", cfg.Bin.Traefik)
	sp := spec{name: "traefik", dir: dir, logDir: cfg.LogDir, bin: cfg.Bin.Traefik, args: args}
	p, err := sp.start()
	if err != nil {
		return err
	}
	s.group.add(sp, p)
	// Ready means every route answers: the plugin has been interpreted and the
	// protected-resource metadata comes back on each MCP host, and the issuer's
	// metadata on the auth host.
	checks := []string{s.Issuer + "/.well-known/oauth-authorization-server"}
	for _, r := range s.Plan.Services {
		checks = append(checks, r.PublicURL+"/.well-known/oauth-protected-resource/mcp")
	}
	return waitReady(ctx, p, cfg.ReadyTimeout, func(ctx context.Context) error {
		for _, u := range checks {
			if err := httpOK(ctx, u); err != nil {
				return err
			}
		}
		return nil
	})
}

// httpOK GETs u and wants 200.
func httpOK(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := noProxyClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	return nil
}

// noProxyClient talks to loopback directly whatever HTTP_PROXY says.
var noProxyClient = &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 30 * time.Second}

// redisPing authenticates and sends PING over a raw connection (RESP inline
// commands), so the package needs no Redis client.
func redisPing(ctx context.Context, addr, password string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if _, err := fmt.Fprintf(c, "AUTH %s\r\nPING\r\n", password); err != nil {
		return err
	}
	buf := make([]byte, 64)
	got := ""
	for !strings.Contains(got, "+PONG") {
		n, err := c.Read(buf)
		if err != nil {
			return fmt.Errorf("redis ping: %w (got %q)", err, got)
		}
		got += string(buf[:n])
		if strings.Contains(got, "-") {
			return fmt.Errorf("redis ping: %q", got)
		}
	}
	return nil
}

// ErrPortInUse is returned when a fixed public port is taken.
var ErrPortInUse = errors.New("localstack: port in use")

// portFree checks that a fixed public port can be bound, so that a taken port is
// reported by number instead of as a Traefik start-up failure.
func portFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("%w: 127.0.0.1:%d (%v); choose another base port (RUN_PORT / -port)", ErrPortInUse, port, err)
	}
	return l.Close()
}

// FreePort asks the kernel for a free loopback TCP port. Another process could take
// it before it is used; on a development machine that is rare enough.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("localstack: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("localstack: random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// tracingEnv is what turns tracing on in authsvc and a bridge: the collector, and a
// short batch delay so that a local run's spans show within a second.
func tracingEnv(cfg *Config) []string {
	if cfg.TracesEndpoint == "" {
		return nil
	}
	return []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=" + cfg.TracesEndpoint, "OTEL_BSP_SCHEDULE_DELAY=200"}
}
