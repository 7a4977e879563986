package mcpauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// Config is the middleware configuration as Traefik decodes it (mapstructure, weakly
// typed): only strings, string lists, bools and string maps, so the same config works
// from YAML, TOML, Docker labels and the catalog's testData. Durations are strings
// such as "30s".
type Config struct {
	// Issuer is the exact `iss` every token must carry (authsvc's AUTH_ISSUER_URL).
	Issuer string `json:"issuer,omitempty"`
	// JWKSURL is where the signing keys are fetched from, lazily, on first use.
	JWKSURL string `json:"jwksURL,omitempty"`
	// JWKS is an inline JSON Web Key Set, an alternative to JWKSURL.
	JWKS string `json:"jwks,omitempty"`
	// HMACSecret switches to HS256 compatibility mode (GATEWAY_JWT_SECRET). It is
	// exclusive with JWKSURL and JWKS so HS* can never be used with asymmetric keys.
	HMACSecret string `json:"hmacSecret,omitempty"`
	// HMACSecretFile, IdentitySecretFile and RevocationTokenFile read hmacSecret,
	// identitySecret and revocationToken from a file instead (a Docker or Swarm secret
	// mounted into Traefik under /run/secrets), so that the value is not in the
	// middleware's labels or dynamic configuration. One trailing line break is removed.
	// Each excludes its plain option.
	HMACSecretFile string `json:"hmacSecretFile,omitempty"`
	// Resource is this MCP service's URL: the audience tokens must name and the
	// `resource` of the protected-resource metadata.
	Resource string `json:"resource,omitempty"`
	// ResourceName is the optional human-readable resource_name in the metadata.
	ResourceName string `json:"resourceName,omitempty"`
	// Audiences are further accepted `aud` values (e.g. authsvc's DEFAULT_AUDIENCE).
	Audiences []string `json:"audiences,omitempty"`
	// AuthorizationServers are listed in the metadata; default: [Issuer].
	AuthorizationServers []string `json:"authorizationServers,omitempty"`
	// ScopesSupported are listed in the metadata.
	ScopesSupported []string `json:"scopesSupported,omitempty"`
	// RequiredScopes must all be in the token's `scope`, else 403 insufficient_scope.
	RequiredScopes []string `json:"requiredScopes,omitempty"`
	// AllowedUsers, when set, admits only these users, each matched against the
	// token's `login` (case-insensitive, as GitHub logins are) or `sub` (exact).
	// "*" admits everyone.
	AllowedUsers []string `json:"allowedUsers,omitempty"`
	// Algorithms is the `alg` allow-list. Default RS256, ES256 (HS256 in HMAC mode).
	Algorithms []string `json:"algorithms,omitempty"`
	// ClockSkew is the leeway for exp/nbf/iat, at most 60s. Default "30s".
	ClockSkew string `json:"clockSkew,omitempty"`
	// RevocationURL is authsvc's revocation feed (docs/interfaces.md); empty disables it.
	RevocationURL string `json:"revocationURL,omitempty"`
	// RevocationInterval is how often the revocation feed is read (whether or not
	// traffic flows), and how old the state may get before a request triggers a poll.
	// Default "5s".
	RevocationInterval string `json:"revocationInterval,omitempty"`
	// RevocationMaxStale, when set, bounds how long tokens are trusted while the feed
	// cannot be read: once the last successful poll is older than this, tokens issued
	// before it are refused (401). Empty or "0": no bound (tokens pass until they
	// expire). See docs/plugin.md for the trade-off.
	RevocationMaxStale string `json:"revocationMaxStale,omitempty"`
	// RevocationToken is sent as a Bearer token to the revocation feed.
	RevocationToken     string `json:"revocationToken,omitempty"`
	RevocationTokenFile string `json:"revocationTokenFile,omitempty"`
	// ForwardAuthorization keeps the Authorization header for the backend. Default false.
	ForwardAuthorization bool `json:"forwardAuthorization,omitempty"`
	// Headers renames the injected headers; keys: userId, userLogin, userName,
	// clientId, scopes.
	Headers map[string]string `json:"headers,omitempty"`
	// CORSAllowedOrigins are the origins whose preflights are answered with CORS
	// headers ("*" for any). Preflights are always answered at the edge.
	CORSAllowedOrigins []string `json:"corsAllowedOrigins,omitempty"`
	// IdentitySecret, when set (at least 32 bytes), signs the injected identity: each
	// admitted request gets X-Auth-Identity-Signature, an HMAC-SHA256 over the identity
	// header values, the method, host and path and the time, which mcpbridge checks with
	// the same secret (MCPBRIDGE_IDENTITY_SECRET). A caller that reaches a bridge
	// without passing Traefik then cannot name a user. Put mcpauth after any middleware
	// that rewrites the path.
	IdentitySecret     string `json:"identitySecret,omitempty"`
	IdentitySecretFile string `json:"identitySecretFile,omitempty"`
}

// CreateConfig returns the default configuration. Slices stay nil on purpose:
// mapstructure overwrites a non-nil slice element by element, which would leave stale
// defaults behind; New applies the defaults instead.
func CreateConfig() *Config {
	return &Config{
		ClockSkew:          "30s",
		RevocationInterval: "5s",
		Headers:            map[string]string{},
	}
}

// Errors New returns, wrapped with the offending field.
var (
	ErrConfig = errors.New("mcpauth: invalid configuration")
)

const (
	maxClockSkew       = 60 * time.Second
	minHMACSecretBytes = 32
)

// header keys of Config.Headers and their defaults.
var defaultHeaders = [][2]string{
	{"userid", "X-User-Id"},
	{"userlogin", "X-User-Login"},
	{"username", "X-User-Name"},
	{"clientid", "X-Auth-Client-Id"},
	{"scopes", "X-Auth-Scopes"},
}

// settings is the validated, parsed form of Config.
type settings struct {
	issuer         string
	resource       string
	audiences      map[string]bool
	algorithms     map[string]bool
	hmacKey        []byte
	identityKey    []byte // nil: identity not signed
	jwksURL        string
	inlineKeys     map[string]*publicKey
	skew           int64 // seconds
	revURL         string
	revToken       string
	revInterval    int64 // nanoseconds
	revMaxStale    int64 // nanoseconds; 0: no bound
	requiredScopes []string
	allowAllUsers  bool
	allowedLogins  map[string]bool
	allowedSubs    map[string]bool
	forwardAuth    bool
	headerNames    [5]string // canonical names, in defaultHeaders order
	prmPaths       [2]string
	resourcePath   string // the resource URL's path ("/" when empty): the fast path's only path
	prmURL         string
	prmBody        []byte
	scopeParam     string
	challengeScope string // scope="…" of the 401 challenge
	corsAll        bool
	corsOrigins    map[string]bool

	knownMu      sync.Mutex
	knownHeaders map[string]*jwtHeader // header segments of verified tokens (verify)
}

// parseConfig validates cfg, collecting every problem before failing.
func parseConfig(cfg *Config) (*settings, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: no configuration", ErrConfig)
	}
	var p problems
	bad := p.add
	hmacSecret := secretOption("hmacSecret", cfg.HMACSecret, cfg.HMACSecretFile, bad)
	identitySecret := secretOption("identitySecret", cfg.IdentitySecret, cfg.IdentitySecretFile, bad)
	revocationToken := secretOption("revocationToken", cfg.RevocationToken, cfg.RevocationTokenFile, bad)
	s := &settings{
		audiences:    map[string]bool{},
		algorithms:   map[string]bool{},
		corsOrigins:  map[string]bool{},
		knownHeaders: map[string]*jwtHeader{},
	}

	s.issuer = cfg.Issuer
	if err := checkHTTPURL(cfg.Issuer); err != nil {
		bad("issuer: %v", err)
	}
	s.resource = cfg.Resource
	resURL, err := url.Parse(cfg.Resource)
	if err != nil || checkHTTPURL(cfg.Resource) != nil || resURL.Fragment != "" {
		bad("resource: must be an absolute http(s) URL without fragment, got %q", cfg.Resource)
	} else {
		s.audiences[cfg.Resource] = true
		s.setPRM(resURL)
	}
	for _, a := range cfg.Audiences {
		if a == "" {
			bad("audiences: empty value")
			continue
		}
		s.audiences[a] = true
	}

	sources := 0
	if cfg.JWKSURL != "" {
		sources++
		if err := checkHTTPURL(cfg.JWKSURL); err != nil {
			bad("jwksURL: %v", err)
		}
		s.jwksURL = cfg.JWKSURL
	}
	if cfg.JWKS != "" {
		sources++
		keys, err := parseJWKS([]byte(cfg.JWKS))
		if err != nil {
			bad("jwks: %v", err)
		}
		s.inlineKeys = keys
	}
	if hmacSecret != "" {
		sources++
		if len(hmacSecret) < minHMACSecretBytes {
			bad("hmacSecret: must be at least %d bytes", minHMACSecretBytes)
		}
		s.hmacKey = []byte(hmacSecret)
	}
	if sources != 1 {
		bad("exactly one of jwksURL, jwks and hmacSecret must be set (got %d)", sources)
	}
	if identitySecret != "" {
		if len(identitySecret) < minHMACSecretBytes {
			bad("identitySecret: must be at least %d bytes", minHMACSecretBytes)
		}
		s.identityKey = []byte(identitySecret)
	}

	algs := cfg.Algorithms
	if len(algs) == 0 {
		if hmacSecret != "" {
			algs = []string{algHS256}
		} else {
			algs = []string{algRS256, algES256}
		}
	}
	for _, a := range algs {
		switch a {
		case algRS256, algES256:
			if hmacSecret != "" {
				bad("algorithms: %s needs jwksURL or jwks, not hmacSecret", a)
			}
		case algHS256:
			if hmacSecret == "" {
				bad("algorithms: HS256 is only allowed with hmacSecret (never with asymmetric keys)")
			}
		default:
			bad("algorithms: unsupported %q (supported: RS256, ES256, HS256)", a)
		}
		s.algorithms[a] = true
	}

	skew, err := time.ParseDuration(cfg.ClockSkew)
	if cfg.ClockSkew == "" {
		skew, err = 0, nil
	}
	if err != nil || skew < 0 || skew > maxClockSkew {
		bad("clockSkew: must be a duration between 0s and 60s, got %q", cfg.ClockSkew)
	}
	s.skew = int64(skew / time.Second)

	if cfg.RevocationURL != "" {
		if err := checkHTTPURL(cfg.RevocationURL); err != nil {
			bad("revocationURL: %v", err)
		}
		s.revURL = cfg.RevocationURL
		s.revToken = revocationToken
		iv := cfg.RevocationInterval
		if iv == "" {
			iv = "5s"
		}
		d, err := time.ParseDuration(iv)
		if err != nil || d < 100*time.Millisecond || d > time.Hour {
			bad("revocationInterval: must be a duration between 100ms and 1h, got %q", cfg.RevocationInterval)
		}
		s.revInterval = int64(d)
		if ms := cfg.RevocationMaxStale; ms != "" && ms != "0" {
			st, err := time.ParseDuration(ms)
			if err != nil || st < d || st > 24*time.Hour {
				bad("revocationMaxStale: must be 0 or a duration between revocationInterval and 24h, got %q", ms)
			}
			s.revMaxStale = int64(st)
		}
	}

	for _, sc := range cfg.RequiredScopes {
		if sc == "" || strings.ContainsAny(sc, " \"\\"+controlChars) {
			bad("requiredScopes: invalid scope %q", sc)
			continue
		}
		s.requiredScopes = append(s.requiredScopes, sc)
	}
	s.scopeParam = strings.Join(s.requiredScopes, " ")
	// The 401 challenge names the scope to ask for (MCP authorization, scope
	// selection): the required scopes, else the scopes the metadata lists.
	s.challengeScope = s.scopeParam
	for _, sc := range cfg.ScopesSupported {
		if sc == "" || strings.ContainsAny(sc, " \"\\"+controlChars) {
			bad("scopesSupported: invalid scope %q", sc)
		}
	}
	if s.challengeScope == "" {
		s.challengeScope = strings.Join(cfg.ScopesSupported, " ")
	}
	if len(cfg.AllowedUsers) == 0 {
		s.allowAllUsers = true
	}
	s.allowedLogins = map[string]bool{}
	s.allowedSubs = map[string]bool{}
	for _, u := range cfg.AllowedUsers {
		u = strings.TrimSpace(u)
		switch {
		case u == "*":
			s.allowAllUsers = true
		case u != "":
			s.allowedLogins[strings.ToLower(u)] = true
			s.allowedSubs[u] = true
		}
	}
	s.forwardAuth = cfg.ForwardAuthorization

	names := map[string]string{}
	for k, v := range cfg.Headers {
		names[strings.ToLower(k)] = v
	}
	seen := map[string]bool{}
	for i, d := range defaultHeaders {
		name := d[1]
		if v, ok := names[d[0]]; ok {
			delete(names, d[0])
			name = v
		}
		if !validHeaderName(name) {
			bad("headers.%s: invalid header name %q", d[0], name)
			continue
		}
		name = http.CanonicalHeaderKey(name)
		if seen[normalizeHeaderName(name)] || normalizeHeaderName(name) == "authorization" {
			bad("headers.%s: header name %q used twice or reserved", d[0], name)
		}
		seen[normalizeHeaderName(name)] = true
		s.headerNames[i] = name
	}
	for k := range names {
		bad("headers: unknown key %q (known: userId, userLogin, userName, clientId, scopes)", k)
	}

	for _, o := range cfg.CORSAllowedOrigins {
		if o == "*" {
			s.corsAll = true
		} else if o != "" {
			s.corsOrigins[o] = true
		}
	}

	servers := cfg.AuthorizationServers
	if len(servers) == 0 {
		servers = []string{cfg.Issuer}
	}
	doc := map[string]interface{}{
		"resource":                 cfg.Resource,
		"authorization_servers":    servers,
		"bearer_methods_supported": []string{"header"},
	}
	if len(cfg.ScopesSupported) > 0 {
		doc["scopes_supported"] = cfg.ScopesSupported
	}
	if cfg.ResourceName != "" {
		doc["resource_name"] = cfg.ResourceName
	}
	body, err := json.Marshal(doc)
	if err != nil {
		bad("protected resource metadata: %v", err)
	}
	s.prmBody = body

	if len(p.list) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrConfig, strings.Join(p.list, "; "))
	}
	return s, nil
}

// problems collects every configuration error so one start-up names them all.
type problems struct {
	list []string
}

func (p *problems) add(format string, args ...interface{}) {
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

// setPRM derives the RFC 9728 metadata URL and the two paths it is served at.
func (s *settings) setPRM(res *url.URL) {
	const wk = "/.well-known/oauth-protected-resource"
	p := strings.TrimSuffix(res.EscapedPath(), "/")
	s.prmPaths[0] = wk
	s.prmPaths[1] = wk + p
	s.prmURL = res.Scheme + "://" + res.Host + wk + p
	s.resourcePath = res.Path
	if s.resourcePath == "" {
		s.resourcePath = "/"
	}
	if s.resourcePath == s.prmPaths[0] || s.resourcePath == s.prmPaths[1] {
		s.resourcePath = "" // never leave the metadata paths to the fast path
	}
}

func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %q", raw)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an absolute http(s) URL, got %q", raw)
	}
	return nil
}

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// maxSecretFileBytes bounds a secret file (contract.MaxSecretFileBytes: the plugin
// keeps its own copy, since Traefik loads it from its directory alone).
const maxSecretFileBytes = 64 << 10

// secretOption returns a secret given inline (value) or in a file (path), reporting
// both set, or a file that cannot be read, as a problem of option name. It reads the
// file as authsvc and the bridges read their NAME_FILE variables: one trailing line
// break removed, empty refused.
func secretOption(name, value, path string, bad func(string, ...interface{})) string {
	if path == "" {
		return value
	}
	if value != "" {
		bad("%s and %sFile are both set: set one", name, name)
		return value
	}
	st, err := os.Stat(path)
	switch {
	case err != nil:
		bad("%sFile: %v", name, err)
		return ""
	case !st.Mode().IsRegular():
		bad("%sFile: %s is not a regular file", name, path)
		return ""
	case st.Size() > maxSecretFileBytes:
		bad("%sFile: %s holds %d bytes, more than a secret's %d", name, path, st.Size(), maxSecretFileBytes)
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		bad("%sFile: %v", name, err)
		return ""
	}
	v := string(b)
	if strings.HasSuffix(v, "\r\n") {
		v = v[:len(v)-2]
	} else {
		v = strings.TrimSuffix(v, "\n")
	}
	if v == "" {
		bad("%sFile: %s is empty", name, path)
	}
	return v
}
