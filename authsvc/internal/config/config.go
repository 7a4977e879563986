// Package config reads authsvc's configuration from the environment once, at start-up,
// and validates all of it. Every problem is collected and reported together, each
// naming the variable and what is wrong, so an operator fixes a bad .env in one pass.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v10"

	"github.com/mcp-oauth-gateway/gateway/internal/contract"
)

// Signing algorithms accepted in JWT_ALGORITHM.
const (
	RS256 = "RS256"
	ES256 = "ES256"
	HS256 = "HS256"
)

// MinSecretBytes is the shortest accepted GATEWAY_JWT_SECRET and SESSION_SECRET: 256
// bits, the HMAC-SHA256 key size (RFC 7518 §3.2 requires at least the hash size).
const MinSecretBytes = 32

// MaxAuthCodeLifetime is the longest authorization code lifetime: OAuth 2.1 §4.1.2
// recommends at most 10 minutes.
const MaxAuthCodeLifetime = 10 * time.Minute

// Config is authsvc's validated configuration. Durations and URLs are already parsed.
type Config struct {
	ListenAddr string // LISTEN_ADDR
	// MetricsListenAddr (METRICS_LISTEN_ADDR) serves Prometheus /metrics on its own
	// listener, never routed by Traefik; empty: no metrics endpoint.
	MetricsListenAddr string
	BaseDomain        string // BASE_DOMAIN
	// IssuerURL is the exact issuer, scheme://host[:port] with no path and no
	// trailing slash (AUTH_ISSUER_URL, default https://auth.$BASE_DOMAIN).
	IssuerURL string

	RedisURL      string // REDIS_URL
	RedisPassword string // REDIS_PASSWORD; overrides a password in REDIS_URL
	// RedisSentinels (REDIS_SENTINELS, host:port list) switch to Redis Sentinel: the
	// master named RedisMasterName (REDIS_MASTER_NAME); REDIS_URL then gives only the
	// database number and TLS. RedisSentinelPassword is REDIS_SENTINEL_PASSWORD.
	RedisSentinels        []string
	RedisMasterName       string
	RedisSentinelPassword string
	// RedisWaitReplicas (REDIS_WAIT_REPLICAS): replicas each grant, registration,
	// consent and revocation waits for (Redis WAIT), at most RedisWaitTimeout
	// (REDIS_WAIT_TIMEOUT_MS); 0 = no waiting.
	RedisWaitReplicas int
	RedisWaitTimeout  time.Duration

	GitHubClientID     string // GITHUB_CLIENT_ID
	GitHubClientSecret string // GITHUB_CLIENT_SECRET
	GitHubURL          string // GITHUB_URL, no trailing slash
	GitHubAPIURL       string // GITHUB_API_URL, no trailing slash
	// AllowedGitHubUsers are GitHub logins, lower-cased; "*" allows everyone.
	AllowedGitHubUsers []string

	ClientLifetime       time.Duration // CLIENT_LIFETIME; 0 = registrations never expire
	AccessTokenLifetime  time.Duration // ACCESS_TOKEN_LIFETIME
	RefreshTokenLifetime time.Duration // REFRESH_TOKEN_LIFETIME
	AuthCodeLifetime     time.Duration // AUTH_CODE_LIFETIME, 1s..10m
	TokenRetryWindow     time.Duration // TOKEN_RETRY_WINDOW, 0..10m
	// CIMDAllowPrivate lets client metadata documents be fetched from loopback, private
	// and link-local addresses (CIMD_ALLOW_PRIVATE_ADDRESSES; tests, private networks).
	CIMDAllowPrivate bool
	SessionLifetime  time.Duration // SESSION_LIFETIME (browser session after login)

	JWTAlgorithm     string // JWT_ALGORITHM: RS256, ES256 or HS256
	JWTPrivateKeyPEM string // JWT_PRIVATE_KEY: PEM private key matching JWTAlgorithm, optional
	JWTKeyDir        string // JWT_KEY_DIR: keep the key set in this directory instead of Redis
	GatewayJWTSecret []byte // GATEWAY_JWT_SECRET: HS256 key, required in HS256 mode

	DefaultAudience     string // DEFAULT_AUDIENCE
	SessionSecret       []byte // SESSION_SECRET, optional
	RevocationFeedToken string // REVOCATION_FEED_TOKEN, optional

	RegistrationRateLimit int            // REGISTRATION_RATE_LIMIT per minute per source; 0 = off
	TrustedProxies        []netip.Prefix // TRUSTED_PROXIES
	MaxBodyBytes          int64          // MAX_BODY_BYTES

	LogLevel  slog.Level // LOG_LEVEL
	LogFormat string     // LOG_FORMAT: json or text
}

// raw is the environment as strings: env/v10 fills it (with defaults), and [Load]
// converts and validates each field itself so that every error names its variable.
type raw struct {
	ListenAddr            string `env:"LISTEN_ADDR" envDefault:":8000"`
	MetricsListenAddr     string `env:"METRICS_LISTEN_ADDR"`
	BaseDomain            string `env:"BASE_DOMAIN"`
	IssuerURL             string `env:"AUTH_ISSUER_URL"`
	RedisURL              string `env:"REDIS_URL" envDefault:"redis://127.0.0.1:6379/0"`
	RedisPassword         string `env:"REDIS_PASSWORD"`
	RedisSentinels        string `env:"REDIS_SENTINELS"`
	RedisMasterName       string `env:"REDIS_MASTER_NAME"`
	RedisSentinelPassword string `env:"REDIS_SENTINEL_PASSWORD"`
	RedisWaitReplicas     string `env:"REDIS_WAIT_REPLICAS" envDefault:"0"`
	RedisWaitTimeoutMS    string `env:"REDIS_WAIT_TIMEOUT_MS" envDefault:"500"`
	GitHubClientID        string `env:"GITHUB_CLIENT_ID"`
	GitHubClientSecret    string `env:"GITHUB_CLIENT_SECRET"`
	GitHubURL             string `env:"GITHUB_URL" envDefault:"https://github.com"`
	GitHubAPIURL          string `env:"GITHUB_API_URL" envDefault:"https://api.github.com"`
	AllowedGitHubUsers    string `env:"ALLOWED_GITHUB_USERS"`
	ClientLifetime        string `env:"CLIENT_LIFETIME" envDefault:"7776000"`
	AccessTokenLifetime   string `env:"ACCESS_TOKEN_LIFETIME" envDefault:"3600"`
	RefreshTokenLifetime  string `env:"REFRESH_TOKEN_LIFETIME" envDefault:"2592000"`
	AuthCodeLifetime      string `env:"AUTH_CODE_LIFETIME" envDefault:"600"`
	TokenRetryWindow      string `env:"TOKEN_RETRY_WINDOW" envDefault:"60"`
	CIMDAllowPrivate      string `env:"CIMD_ALLOW_PRIVATE_ADDRESSES" envDefault:"false"`
	SessionLifetime       string `env:"SESSION_LIFETIME" envDefault:"43200"`
	JWTAlgorithm          string `env:"JWT_ALGORITHM" envDefault:"RS256"`
	JWTPrivateKey         string `env:"JWT_PRIVATE_KEY"`
	JWTKeyDir             string `env:"JWT_KEY_DIR"`
	GatewayJWTSecret      string `env:"GATEWAY_JWT_SECRET"`
	DefaultAudience       string `env:"DEFAULT_AUDIENCE" envDefault:"urn:mcp-oauth-gateway:default"`
	SessionSecret         string `env:"SESSION_SECRET"`
	RevocationFeedToken   string `env:"REVOCATION_FEED_TOKEN"`
	RegistrationRateLimit string `env:"REGISTRATION_RATE_LIMIT" envDefault:"30"`
	TrustedProxies        string `env:"TRUSTED_PROXIES" envDefault:"127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"`
	MaxBodyBytes          string `env:"MAX_BODY_BYTES" envDefault:"65536"`
	LogLevel              string `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat             string `env:"LOG_FORMAT" envDefault:"json"`
}

// ErrInvalid is wrapped by every error [Load] returns.
var ErrInvalid = errors.New("invalid configuration")

// Problems lists every configuration problem found; its Error joins them one per line.
type Problems []string

func (p Problems) Error() string {
	return "invalid configuration:\n  " + strings.Join(p, "\n  ")
}

// Unwrap lets errors.Is(err, ErrInvalid) hold.
func (p Problems) Unwrap() error { return ErrInvalid }

// Mode says which command the configuration is for: the server needs GitHub
// credentials, admin commands that only touch Redis and keys do not.
type Mode int

const (
	// Serve requires everything the OAuth flow needs, GitHub credentials included.
	Serve Mode = iota
	// Admin requires only what talks to Redis and the signing keys.
	Admin
)

// KeyCheck validates JWT_PRIVATE_KEY for an algorithm. It is injected (the keys
// package provides it) so that this package does not parse keys itself.
type KeyCheck func(pemKey, alg string) error

// Load reads the configuration through getenv (os.Getenv in production; a map in
// tests), validates it for mode and returns every problem at once as [Problems].
// An empty variable counts as unset. checkKey may be nil (no PEM validation).
func Load(getenv func(string) string, mode Mode, checkKey KeyCheck) (*Config, error) {
	environ, err := environment(getenv)
	if err != nil {
		return nil, err
	}
	var r raw
	if err := env.ParseWithOptions(&r, env.Options{Environment: environ}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	v := &validator{}
	c := v.convert(&r, mode, checkKey)
	if len(v.problems) > 0 {
		return nil, v.problems
	}
	return c, nil
}

// Variables returns the name of every environment variable authsvc reads.
func Variables() []string {
	params, err := env.GetFieldParams(&raw{})
	if err != nil {
		panic(err) // the struct tags are static; a failure is a programming error
	}
	names := make([]string, len(params))
	for i, p := range params {
		names[i] = p.Key
	}
	return names
}

// SecretVariables are the variables whose value may instead be read from a file:
// NAME_FILE holds the file's path (Docker and Swarm secrets are mounted as files under
// /run/secrets, so the value never shows in the container's or the service's
// definition). One trailing line break is removed (contract.ReadSecretFile).
var SecretVariables = contract.AuthsvcSecrets

func environment(getenv func(string) string) (map[string]string, error) {
	m := map[string]string{}
	for _, k := range Variables() {
		if v := getenv(k); v != "" {
			m[k] = v
		}
	}
	var problems Problems
	for _, k := range SecretVariables {
		path := getenv(k + "_FILE")
		if path == "" {
			continue
		}
		if m[k] != "" {
			problems = append(problems, fmt.Sprintf("%s and %s_FILE are both set: set one", k, k))
			continue
		}
		v, err := contract.ReadSecretFile(path)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s_FILE: %v", k, err))
			continue
		}
		m[k] = v
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return m, nil
}

type validator struct{ problems Problems }

func (v *validator) bad(name, format string, args ...any) {
	v.problems = append(v.problems, name+": "+fmt.Sprintf(format, args...))
}

func (v *validator) convert(r *raw, mode Mode, checkKey KeyCheck) *Config {
	c := &Config{
		ListenAddr:          r.ListenAddr,
		BaseDomain:          strings.TrimSpace(r.BaseDomain),
		RedisPassword:       r.RedisPassword,
		GitHubClientID:      strings.TrimSpace(r.GitHubClientID),
		GitHubClientSecret:  strings.TrimSpace(r.GitHubClientSecret),
		JWTPrivateKeyPEM:    r.JWTPrivateKey,
		JWTKeyDir:           r.JWTKeyDir,
		DefaultAudience:     r.DefaultAudience,
		RevocationFeedToken: r.RevocationFeedToken,
	}
	if _, _, err := net.SplitHostPort(r.ListenAddr); err != nil {
		v.bad("LISTEN_ADDR", "%q is not host:port (for example :8000): %v", r.ListenAddr, err)
	}
	if c.MetricsListenAddr = strings.TrimSpace(r.MetricsListenAddr); c.MetricsListenAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListenAddr); err != nil {
			v.bad("METRICS_LISTEN_ADDR", "%q is not host:port (for example :9100): %v", c.MetricsListenAddr, err)
		} else if _, port, _ := net.SplitHostPort(c.MetricsListenAddr); c.MetricsListenAddr == r.ListenAddr && port != "0" {
			v.bad("METRICS_LISTEN_ADDR", "is LISTEN_ADDR; metrics need their own port, which the edge does not route")
		}
	}
	v.issuer(c, r)
	v.redisURL(c, r)
	v.github(c, r, mode)

	c.ClientLifetime = v.seconds("CLIENT_LIFETIME", r.ClientLifetime, 0, 0)
	c.AccessTokenLifetime = v.seconds("ACCESS_TOKEN_LIFETIME", r.AccessTokenLifetime, time.Second, 0)
	c.RefreshTokenLifetime = v.seconds("REFRESH_TOKEN_LIFETIME", r.RefreshTokenLifetime, time.Second, 0)
	c.AuthCodeLifetime = v.seconds("AUTH_CODE_LIFETIME", r.AuthCodeLifetime, time.Second, MaxAuthCodeLifetime)
	c.TokenRetryWindow = v.seconds("TOKEN_RETRY_WINDOW", r.TokenRetryWindow, 0, 10*time.Minute)
	switch strings.ToLower(strings.TrimSpace(r.CIMDAllowPrivate)) {
	case "true", "1", "yes":
		c.CIMDAllowPrivate = true
	case "false", "0", "no", "":
	default:
		v.bad("CIMD_ALLOW_PRIVATE_ADDRESSES", "%q is not true or false", r.CIMDAllowPrivate)
	}
	c.SessionLifetime = v.seconds("SESSION_LIFETIME", r.SessionLifetime, time.Second, 0)

	v.jwt(c, r, checkKey)

	if u, err := url.Parse(r.DefaultAudience); err != nil || u.Scheme == "" || u.Fragment != "" {
		v.bad("DEFAULT_AUDIENCE", "%q must be an absolute URI without a fragment (for example urn:mcp-oauth-gateway:default)", r.DefaultAudience)
	}
	if r.SessionSecret != "" {
		if len(r.SessionSecret) < MinSecretBytes {
			v.bad("SESSION_SECRET", "is %d bytes; it must be at least %d (generate one with `just generate-jwt-secret`)", len(r.SessionSecret), MinSecretBytes)
		}
		c.SessionSecret = []byte(r.SessionSecret)
	}
	if t := r.RevocationFeedToken; t != "" {
		// No length rule: the plugin and local tooling choose it; it only has to
		// survive being sent as a Bearer token.
		if strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
			v.bad("REVOCATION_FEED_TOKEN", "must be printable ASCII without spaces (it is sent as a Bearer token)")
		}
	}
	if d := r.JWTKeyDir; d != "" {
		if fi, err := os.Stat(d); err == nil && !fi.IsDir() {
			v.bad("JWT_KEY_DIR", "%q exists and is not a directory", d)
		}
	}
	c.RegistrationRateLimit = int(v.integer("REGISTRATION_RATE_LIMIT", r.RegistrationRateLimit, 0, 1_000_000))
	c.MaxBodyBytes = v.integer("MAX_BODY_BYTES", r.MaxBodyBytes, 1024, 16<<20)
	c.TrustedProxies = v.prefixes("TRUSTED_PROXIES", r.TrustedProxies)

	if err := c.LogLevel.UnmarshalText([]byte(r.LogLevel)); err != nil {
		v.bad("LOG_LEVEL", "%q is not one of debug, info, warn, error", r.LogLevel)
	}
	switch f := strings.ToLower(r.LogFormat); f {
	case "json", "text":
		c.LogFormat = f
	default:
		v.bad("LOG_FORMAT", "%q is not json or text", r.LogFormat)
	}
	return c
}

func (v *validator) issuer(c *Config, r *raw) {
	if c.BaseDomain != "" {
		if strings.ContainsAny(c.BaseDomain, "/:@ ") || strings.HasPrefix(c.BaseDomain, ".") {
			v.bad("BASE_DOMAIN", "%q must be a bare domain name such as example.com", c.BaseDomain)
		}
	}
	iss := strings.TrimSpace(r.IssuerURL)
	name := "AUTH_ISSUER_URL"
	if iss == "" {
		if c.BaseDomain == "" {
			v.bad("BASE_DOMAIN", "is not set; set BASE_DOMAIN (the issuer becomes https://auth.$BASE_DOMAIN) or AUTH_ISSUER_URL")
			return
		}
		iss = "https://auth." + c.BaseDomain
		name = "AUTH_ISSUER_URL (derived from BASE_DOMAIN)"
	}
	iss = strings.TrimSuffix(iss, "/")
	u, err := url.Parse(iss)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		v.bad(name, "%q is not an absolute URL like https://auth.example.com", iss)
	case u.Scheme != "https" && u.Scheme != "http":
		v.bad(name, "%q must use https", iss)
	case u.Scheme == "http" && !contract.IsLoopbackHost(u.Hostname()):
		v.bad(name, "%q uses http, which is allowed only for loopback hosts (localhost, *.localhost, 127.0.0.0/8, ::1); use https", iss)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		v.bad(name, "%q must not contain user info, a query or a fragment", iss)
	case u.Path != "":
		v.bad(name, "%q must not have a path; the issuer is scheme://host[:port]", iss)
	default:
		c.IssuerURL = u.Scheme + "://" + strings.ToLower(u.Host)
	}
}

func (v *validator) redisURL(c *Config, r *raw) {
	u, err := url.Parse(r.RedisURL)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") || (u.Scheme != "unix" && u.Host == "") {
		v.bad("REDIS_URL", "%q is not a redis://host:port/db, rediss:// or unix:// URL", redactURL(r.RedisURL))
		return
	}
	c.RedisURL = r.RedisURL
	for _, a := range strings.Split(r.RedisSentinels, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			v.bad("REDIS_SENTINELS", "%q is not host:port", a)
		}
		c.RedisSentinels = append(c.RedisSentinels, a)
	}
	c.RedisMasterName = strings.TrimSpace(r.RedisMasterName)
	c.RedisSentinelPassword = r.RedisSentinelPassword
	switch {
	case len(c.RedisSentinels) > 0 && c.RedisMasterName == "":
		v.bad("REDIS_SENTINELS", "is set without REDIS_MASTER_NAME: with REDIS_SENTINELS name the master the sentinels monitor")
	case len(c.RedisSentinels) == 0 && c.RedisMasterName != "":
		v.bad("REDIS_MASTER_NAME", "is set without REDIS_SENTINELS: list the sentinels (host:port, comma separated)")
	case len(c.RedisSentinels) > 0 && u.Scheme == "unix":
		v.bad("REDIS_URL", "is a unix socket; with REDIS_SENTINELS use redis://any/<db> (only the database number and TLS are read)")
	}
	c.RedisWaitReplicas = int(v.integer("REDIS_WAIT_REPLICAS", r.RedisWaitReplicas, 0, 16))
	c.RedisWaitTimeout = time.Duration(v.integer("REDIS_WAIT_TIMEOUT_MS", r.RedisWaitTimeoutMS, 1, 60000)) * time.Millisecond
}

func (v *validator) github(c *Config, r *raw, mode Mode) {
	c.GitHubURL = v.httpsURL("GITHUB_URL", r.GitHubURL)
	c.GitHubAPIURL = v.httpsURL("GITHUB_API_URL", r.GitHubAPIURL)
	for _, u := range strings.Split(r.AllowedGitHubUsers, ",") {
		if u = strings.ToLower(strings.TrimSpace(u)); u != "" {
			c.AllowedGitHubUsers = append(c.AllowedGitHubUsers, u)
		}
	}
	if mode != Serve {
		return
	}
	if c.GitHubClientID == "" {
		v.bad("GITHUB_CLIENT_ID", "is not set; create a GitHub OAuth App (callback $AUTH_ISSUER_URL/callback) and set its client id")
	}
	if c.GitHubClientSecret == "" {
		v.bad("GITHUB_CLIENT_SECRET", "is not set; set the client secret of the GitHub OAuth App")
	}
	if len(c.AllowedGitHubUsers) == 0 {
		v.bad("ALLOWED_GITHUB_USERS", "is not set; list the GitHub logins allowed to log in (comma separated), or * for every GitHub user")
	}
}

// httpsURL validates a base URL that must be https (http only for loopback hosts,
// where the test stand-in for GitHub runs) and returns it without a trailing slash.
func (v *validator) httpsURL(name, s string) string {
	s = strings.TrimSuffix(strings.TrimSpace(s), "/")
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "":
		v.bad(name, "%q is not an absolute URL", s)
	case u.Scheme != "https" && !(u.Scheme == "http" && contract.IsLoopbackHost(u.Hostname())):
		v.bad(name, "%q must use https (http only for loopback hosts)", s)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		v.bad(name, "%q must not contain user info, a query or a fragment", s)
	default:
		return s
	}
	return ""
}

func (v *validator) jwt(c *Config, r *raw, checkKey KeyCheck) {
	alg := strings.ToUpper(strings.TrimSpace(r.JWTAlgorithm))
	switch alg {
	case RS256, ES256, HS256:
		c.JWTAlgorithm = alg
	default:
		v.bad("JWT_ALGORITHM", "%q is not one of RS256, ES256, HS256", r.JWTAlgorithm)
		return
	}
	if r.GatewayJWTSecret != "" {
		c.GatewayJWTSecret = []byte(r.GatewayJWTSecret)
	}
	if alg == HS256 {
		switch {
		case r.GatewayJWTSecret == "":
			v.bad("GATEWAY_JWT_SECRET", "is not set but JWT_ALGORITHM=HS256 needs it (generate one with `just generate-jwt-secret`)")
		case len(r.GatewayJWTSecret) < MinSecretBytes:
			v.bad("GATEWAY_JWT_SECRET", "is %d bytes; it must be at least %d (generate one with `just generate-jwt-secret`)", len(r.GatewayJWTSecret), MinSecretBytes)
		}
		if r.JWTPrivateKey != "" || r.JWTKeyDir != "" {
			v.bad("JWT_ALGORITHM", "is HS256, which signs with GATEWAY_JWT_SECRET; unset JWT_PRIVATE_KEY and JWT_KEY_DIR or choose RS256/ES256")
		}
		return
	}
	if r.JWTPrivateKey != "" && r.JWTKeyDir != "" {
		v.bad("JWT_PRIVATE_KEY", "and JWT_KEY_DIR are both set; choose one")
	}
	if r.JWTPrivateKey != "" && checkKey != nil {
		if err := checkKey(r.JWTPrivateKey, alg); err != nil {
			v.bad("JWT_PRIVATE_KEY", "%v", err)
		}
	}
}

// seconds parses a whole number of seconds in [lo, hi] (hi 0 = no upper bound).
func (v *validator) seconds(name, s string, lo, hi time.Duration) time.Duration {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	const maxSeconds = 100 * 365 * 24 * 3600
	switch {
	case err != nil:
		v.bad(name, "%q is not a whole number of seconds", s)
	case n < 0 || n > maxSeconds:
		v.bad(name, "%d is out of range (0..%d seconds)", n, maxSeconds)
	case time.Duration(n)*time.Second < lo:
		v.bad(name, "%d is too small; it must be at least %d seconds", n, int64(lo/time.Second))
	case hi > 0 && time.Duration(n)*time.Second > hi:
		v.bad(name, "%d is too large; it must be at most %d seconds", n, int64(hi/time.Second))
	default:
		return time.Duration(n) * time.Second
	}
	return 0
}

func (v *validator) integer(name, s string, lo, hi int64) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	switch {
	case err != nil:
		v.bad(name, "%q is not a whole number", s)
	case n < lo || n > hi:
		v.bad(name, "%d is out of range (%d..%d)", n, lo, hi)
	default:
		return n
	}
	return 0
}

func (v *validator) prefixes(name, s string) []netip.Prefix {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			a, err := netip.ParseAddr(part)
			if err != nil {
				v.bad(name, "%q is not an IP address or CIDR", part)
				continue
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			v.bad(name, "%q is not a CIDR like 10.0.0.0/8", part)
			continue
		}
		out = append(out, p.Masked())
	}
	return out
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		if err != nil {
			return "(unparseable)"
		}
		return s
	}
	return u.Redacted()
}
