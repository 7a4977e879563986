// Package config reads the bridge's configuration from its command line and, for every
// flag, an environment variable; a flag given on the command line wins. Validation
// collects every problem before failing.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/mcp-oauth-gateway/gateway/internal/contract"
	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/policy"
)

// DefaultProtocolVersions are the MCP versions the bridge accepts, newest first. 2024-11-05
// is kept because clients may negotiate it with an older server over Streamable HTTP.
// 2026-07-28 and later are served statelessly by per-user pools of children; the 2025
// versions by sessions.
var DefaultProtocolVersions = []string{"2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}

// FirstModernVersion is the first protocol version without sessions and initialize.
const FirstModernVersion = "2026-07-28"

// Config is the bridge's configuration.
type Config struct {
	Listen           string
	MetricsListen    string // "": no metrics endpoint
	AllowedOrigins   []string
	ProtocolVersions []string // the 2025-era versions of --protocol-versions
	ModernVersions   []string // its 2026-07-28-era versions
	PoolSize         int
	PoolIdle         time.Duration
	GoMaxProcs       int // 0: Go's default
	Spares           int
	ToolPolicy       *policy.Policy
	MaxSessions      int
	MaxPerUser       int
	IdleTimeout      time.Duration
	RequestTimeout   time.Duration
	MaxMessageBytes  int
	ShutdownTimeout  time.Duration
	ShutdownDelay    time.Duration
	ReadyCache       time.Duration
	LogFormat        string
	LogLevel         slog.Level
	// IdentitySecret verifies the edge's signature over the identity headers; nil
	// when AllowUnsigned (loopback use only).
	IdentitySecret []byte
	AllowUnsigned  bool
	// ReplicaURL is this replica's base URL as the other replicas of the bridge reach
	// it ("auto": from the host name); "": one bridge, no forwarding.
	ReplicaURL string
	// Peers names the replicas that share the 2026-07-28 traffic by user: a DNS name
	// whose addresses are the replicas, on this replica's port (PeersName), or a fixed
	// list of their URLs (PeerURLs); neither: no user affinity.
	PeersName string
	PeerURLs  []string
	// Command is the stdio MCP server's argv, after `--`.
	Command []string
}

// Parse reads args (without the program name) and the environment through getenv.
func Parse(args []string, getenv func(string) string, usageOut io.Writer) (*Config, error) {
	fs := flag.NewFlagSet("mcpbridge", flag.ContinueOnError)
	fs.SetOutput(usageOut)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	listen := fs.String("listen", env("LISTEN_ADDR", ":3000"), "address to serve HTTP on (env LISTEN_ADDR)")
	metricsListen := fs.String("metrics-listen", env("MCPBRIDGE_METRICS_LISTEN", ""), "address to serve Prometheus /metrics on, apart from /mcp; empty: none (env MCPBRIDGE_METRICS_LISTEN)")
	origins := fs.String("allowed-origins", env("MCPBRIDGE_ALLOWED_ORIGINS", ""),
		"comma-separated browser origins allowed to call /mcp; empty: loopback origins only; * : any (env MCPBRIDGE_ALLOWED_ORIGINS)")
	versions := fs.String("protocol-versions", env("MCPBRIDGE_PROTOCOL_VERSIONS", strings.Join(DefaultProtocolVersions, ",")),
		"comma-separated MCP protocol versions accepted, newest first (env MCPBRIDGE_PROTOCOL_VERSIONS)")
	maxSessions := fs.String("max-sessions", env("MCPBRIDGE_MAX_SESSIONS", "256"), "most concurrent sessions (child processes); 0: no limit (env MCPBRIDGE_MAX_SESSIONS)")
	maxPerUser := fs.String("max-sessions-per-user", env("MCPBRIDGE_MAX_SESSIONS_PER_USER", "32"), "most concurrent sessions of one X-User-Id; 0: no limit (env MCPBRIDGE_MAX_SESSIONS_PER_USER)")
	idle := fs.String("idle-timeout", env("MCPBRIDGE_IDLE_TIMEOUT", "30m"), "end sessions unused this long; 0: never (env MCPBRIDGE_IDLE_TIMEOUT)")
	reqTimeout := fs.String("request-timeout", env("MCPBRIDGE_REQUEST_TIMEOUT", "5m"), "give up on a request after this long; 0: never (env MCPBRIDGE_REQUEST_TIMEOUT)")
	maxMsg := fs.String("max-message-bytes", env("MCPBRIDGE_MAX_MESSAGE_BYTES", "4194304"), "largest POST body (one message or batch); a child may send up to this or 64 MiB, whichever is larger (env MCPBRIDGE_MAX_MESSAGE_BYTES)")
	poolSize := fs.String("pool-size", env("MCPBRIDGE_POOL_SIZE", "2"), "most children one user's 2026-07-28 requests may use (env MCPBRIDGE_POOL_SIZE)")
	poolIdle := fs.String("pool-idle-timeout", env("MCPBRIDGE_POOL_IDLE_TIMEOUT", "5m"), "end a pooled child unused this long (env MCPBRIDGE_POOL_IDLE_TIMEOUT)")
	goMaxProcs := fs.String("gomaxprocs", env("MCPBRIDGE_GOMAXPROCS", "0"), "OS threads that run the bridge's own Go code at once (runtime.GOMAXPROCS); 0: Go's default, the CPUs available. 1 spares the wake-up of an idle thread each time a child's answer goes to its request (lower latency per call) and gives the bridge's own work one core; the children are not affected (env MCPBRIDGE_GOMAXPROCS)")
	spares := fs.String("spares", env("MCPBRIDGE_SPARES", "2"), "started children kept waiting for new sessions and pools; 0: none (env MCPBRIDGE_SPARES)")
	toolPolicy := fs.String("tool-policy", env("MCPBRIDGE_TOOL_POLICY", ""), "which tools a caller may list and call, e.g. 'write_*=scope:fs.write; delete_*=user:alice'; empty: every tool (env MCPBRIDGE_TOOL_POLICY)")
	shutdown := fs.String("shutdown-timeout", env("MCPBRIDGE_SHUTDOWN_TIMEOUT", "10s"), "how long a graceful shutdown may take (env MCPBRIDGE_SHUTDOWN_TIMEOUT)")
	shutdownDelay := fs.String("shutdown-delay", env("MCPBRIDGE_SHUTDOWN_DELAY", "0s"), "on SIGTERM, keep serving this long (with /ready failing) before shutting down, so that a load balancer stops sending requests first; 0: shut down at once (env MCPBRIDGE_SHUTDOWN_DELAY)")
	readyCache := fs.String("ready-cache", env("MCPBRIDGE_READY_CACHE", "10s"), "how long /ready reuses a handshake result (env MCPBRIDGE_READY_CACHE)")
	logFormat := fs.String("log-format", env("LOG_FORMAT", "text"), "text or json (env LOG_FORMAT)")
	logLevel := fs.String("log-level", env("LOG_LEVEL", "info"), "debug, info, warn or error (env LOG_LEVEL)")
	idSecret := fs.String("identity-secret", env("MCPBRIDGE_IDENTITY_SECRET", ""), "the secret shared with the mcpauth plugin (identitySecret), at least 32 bytes: only requests whose identity headers it signed are served (env MCPBRIDGE_IDENTITY_SECRET)")
	idSecretFile := fs.String("identity-secret-file", env("MCPBRIDGE_IDENTITY_SECRET_FILE", ""), "read the identity secret from this file instead (a Docker or Swarm secret under /run/secrets; one trailing line break is removed) (env MCPBRIDGE_IDENTITY_SECRET_FILE)")
	allowUnsigned := fs.String("allow-unsigned-identity", env("MCPBRIDGE_ALLOW_UNSIGNED_IDENTITY", "false"), "trust the identity headers without a signature: only where nothing but a trusted proxy can reach the bridge, such as loopback (env MCPBRIDGE_ALLOW_UNSIGNED_IDENTITY)")
	peers := fs.String("peers", env("MCPBRIDGE_PEERS", ""), "with replicas: the replicas that share the 2026-07-28 traffic by user, so that each user's children and listen streams are on one replica: a DNS name whose addresses are the replicas (Docker Swarm's tasks.<service>, a Kubernetes headless Service; resolved every 5 s, each on this replica's port) or a comma-separated list of their URLs. Needs --replica-url (env MCPBRIDGE_PEERS)")
	replicaURL := fs.String("replica-url", env("MCPBRIDGE_REPLICA_URL", ""), "with several replicas of this bridge: this replica's base URL as the others reach it (http://host:port), or auto (the address the host name resolves to, with the listen port); requests for another replica's session are forwarded there. Needs the identity secret (env MCPBRIDGE_REPLICA_URL)")
	fs.Usage = func() {
		fmt.Fprintln(usageOut, "usage: mcpbridge [flags] -- <command> [args...]\n       mcpbridge healthcheck [--url URL]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	c := &Config{Listen: *listen, MetricsListen: *metricsListen, LogFormat: *logFormat, Command: fs.Args()}
	var problems []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		problems = append(problems, fmt.Errorf("listen address %q: %w", c.Listen, err))
	}
	if c.MetricsListen != "" {
		if _, port, err := net.SplitHostPort(c.MetricsListen); err != nil {
			problems = append(problems, fmt.Errorf("metrics listen address %q: %w", c.MetricsListen, err))
		} else if c.MetricsListen == c.Listen && port != "0" {
			problems = append(problems, errors.New("metrics listen address: must differ from the listen address (the edge routes that one)"))
		}
	}
	c.AllowedOrigins = splitList(*origins)
	for _, v := range splitList(*versions) {
		if v >= FirstModernVersion {
			c.ModernVersions = append(c.ModernVersions, v)
		} else {
			c.ProtocolVersions = append(c.ProtocolVersions, v)
		}
	}
	if len(c.ProtocolVersions) == 0 {
		problems = append(problems, errors.New("protocol versions: at least one 2025-era version is required (the bridge initializes its children with the first)"))
	}
	c.PoolSize = parseInt("pool size", *poolSize, &problems)
	if c.PoolSize < 1 {
		problems = append(problems, fmt.Errorf("pool size %q: want at least 1", *poolSize))
	}
	c.PoolIdle = parseDuration("pool idle timeout", *poolIdle, &problems)
	c.Spares = parseInt("spares", *spares, &problems)
	if c.GoMaxProcs = parseInt("gomaxprocs", *goMaxProcs, &problems); c.GoMaxProcs < 0 {
		problems = append(problems, fmt.Errorf("gomaxprocs %q: want 0 (Go's default) or more", *goMaxProcs))
	}
	if p, err := policy.Parse(*toolPolicy); err != nil {
		problems = append(problems, err)
	} else {
		c.ToolPolicy = p
	}
	c.MaxSessions = parseInt("max sessions", *maxSessions, &problems)
	c.MaxPerUser = parseInt("max sessions per user", *maxPerUser, &problems)
	c.MaxMessageBytes = parseInt("max message bytes", *maxMsg, &problems)
	if c.MaxMessageBytes < 1024 {
		problems = append(problems, fmt.Errorf("max message bytes %d: must be at least 1024", c.MaxMessageBytes))
	}
	c.IdleTimeout = parseDuration("idle timeout", *idle, &problems)
	c.RequestTimeout = parseDuration("request timeout", *reqTimeout, &problems)
	c.ShutdownTimeout = parseDuration("shutdown timeout", *shutdown, &problems)
	c.ShutdownDelay = parseDuration("shutdown delay", *shutdownDelay, &problems)
	c.ReadyCache = parseDuration("ready cache", *readyCache, &problems)
	if c.LogFormat != "text" && c.LogFormat != "json" {
		problems = append(problems, fmt.Errorf("log format %q: want text or json", c.LogFormat))
	}
	if err := c.LogLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		problems = append(problems, fmt.Errorf("log level %q: %w", *logLevel, err))
	}
	if len(c.Command) == 0 {
		problems = append(problems, errors.New("no MCP server command: use mcpbridge [flags] -- <command> [args...]"))
	}
	if *idSecretFile != "" {
		if *idSecret != "" {
			problems = append(problems, errors.New("identity secret: set MCPBRIDGE_IDENTITY_SECRET (--identity-secret) or MCPBRIDGE_IDENTITY_SECRET_FILE (--identity-secret-file), not both"))
		} else if v, err := contract.ReadSecretFile(*idSecretFile); err != nil {
			problems = append(problems, fmt.Errorf("identity secret file: %w", err))
		} else {
			*idSecret = v
		}
	}
	switch allow, err := strconv.ParseBool(*allowUnsigned); {
	case err != nil:
		problems = append(problems, fmt.Errorf("allow unsigned identity %q: want true or false", *allowUnsigned))
	case *idSecret != "" && allow:
		problems = append(problems, errors.New("identity: set either an identity secret or allow unsigned identity, not both"))
	case *idSecret != "" && len(*idSecret) < 32:
		problems = append(problems, errors.New("identity secret: must be at least 32 bytes (the plugin's identitySecret, same value)"))
	case *idSecret != "":
		c.IdentitySecret = []byte(*idSecret)
	case allow:
		c.AllowUnsigned = true
	default:
		problems = append(problems, errors.New("identity: set MCPBRIDGE_IDENTITY_SECRET (--identity-secret) to the mcpauth plugin's identitySecret, "+
			"or MCPBRIDGE_ALLOW_UNSIGNED_IDENTITY=true (--allow-unsigned-identity) where only a trusted proxy can reach the bridge"))
	}
	c.ReplicaURL = strings.TrimSpace(*replicaURL)
	if c.ReplicaURL != "" && c.IdentitySecret == nil {
		problems = append(problems, errors.New("replica URL: replicas need MCPBRIDGE_IDENTITY_SECRET (--identity-secret): it signs the session ids that name a replica"))
	}
	if p := strings.TrimSpace(*peers); p != "" {
		if strings.Contains(p, "://") {
			for _, u := range strings.Split(p, ",") {
				if u = strings.TrimSpace(u); u != "" {
					c.PeerURLs = append(c.PeerURLs, u)
				}
			}
		} else {
			c.PeersName = p
		}
		if c.ReplicaURL == "" {
			problems = append(problems, errors.New("peers: MCPBRIDGE_PEERS needs MCPBRIDGE_REPLICA_URL (--replica-url): the peers reach each other by their replica URLs"))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("config: %w", errors.Join(problems...))
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func parseInt(name, s string, problems *[]error) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		*problems = append(*problems, fmt.Errorf("%s %q: want a non-negative integer", name, s))
	}
	return n
}

func parseDuration(name, s string, problems *[]error) time.Duration {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < 0 {
		*problems = append(*problems, fmt.Errorf("%s %q: want a non-negative duration like 30s", name, s))
	}
	return d
}

// HealthcheckURL is the default URL of `mcpbridge healthcheck`: the bridge's /mcp on the
// loopback interface, at the port of LISTEN_ADDR.
func HealthcheckURL(getenv func(string) string) string {
	port := "3000"
	if addr := getenv("LISTEN_ADDR"); addr != "" {
		if _, p, err := net.SplitHostPort(addr); err == nil && p != "" {
			port = p
		}
	}
	return "http://" + net.JoinHostPort("127.0.0.1", port) + "/mcp"
}
