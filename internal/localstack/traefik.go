package localstack

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/mcp-oauth-gateway/gateway/internal/contract"
)

// PluginModule is the Go module Traefik loads the mcpauth plugin from, as
// `.traefik.yml` declares it. Traefik finds a local plugin under
// ./plugins-local/src/<PluginModule> relative to its working directory.
const PluginModule = "github.com/mcp-oauth-gateway/gateway"

// PluginName is the key of the plugin in Traefik's static configuration
// (experimental.localPlugins.<PluginName>) and in each middleware's `plugin` block.
const PluginName = "mcpauth"

// AuthService is the name of the authsvc service and the host label of the issuer
// (auth.$BASE_DOMAIN in the compose stack).
const AuthService = "auth"

// Router priorities, the same as the compose labels (docs/stack.md, "Routing").
const (
	PriorityDiscovery = 10
	PriorityOAuth     = 4
	PriorityVerify    = 3
	PriorityMCP       = 2
	PriorityCatchAll  = 1
)

// DiscoveryPaths are the authorization-server metadata paths that each MCP host
// forwards to authsvc (RFC 8414 discovery by clients that look on the MCP host).
var DiscoveryPaths = []string{
	"/.well-known/oauth-authorization-server",
	"/.well-known/openid-configuration",
}

// Route describes where one public host lives locally and which backend serves it.
type Route struct {
	// Name is the service name: "auth" or an MCP service such as "everything".
	Name string
	// PublicURL is the origin clients use, e.g. http://localhost:8081.
	PublicURL string
	// EntryPoint is the Traefik entry point that listens for PublicURL.
	EntryPoint string
	// Backend is the loopback URL of the process behind it, e.g. http://127.0.0.1:41234.
	Backend string
}

// Host is the host name of the route's public URL (without port), as Traefik's
// Host() matcher compares it.
func (r Route) Host() string {
	u, err := url.Parse(r.PublicURL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// MCPURL is the MCP endpoint of an MCP service route: its RFC 8707 resource.
func (r Route) MCPURL() string { return r.PublicURL + "/mcp" }

// RoutingPlan is everything the Traefik configuration is generated from.
type RoutingPlan struct {
	Auth     Route
	Services []Route
	// Issuer is authsvc's issuer URL (the auth route's public URL).
	Issuer string
	// AuthInternal is the loopback URL Traefik's plugin uses to fetch JWKS and the
	// revocation feed (not routed publicly).
	AuthInternal string
	// RevocationToken authenticates the plugin's revocation-feed polls.
	RevocationToken string
	// IdentitySecret is shared by the plugin (identitySecret) and every bridge
	// (MCPBRIDGE_IDENTITY_SECRET): the bridges serve only identity the edge signed.
	IdentitySecret string
	// RevocationInterval is how often the plugin refreshes the revocation list,
	// e.g. "2s".
	RevocationInterval string
}

// DynamicConfig is the subset of Traefik's dynamic configuration the local stack
// uses, with Traefik's own field names. Its JSON encoding is valid YAML, so it is
// written as dynamic.yml for Traefik's file provider.
type DynamicConfig struct {
	HTTP HTTPConfig `json:"http"`
}

// HTTPConfig is Traefik's `http` section.
type HTTPConfig struct {
	Routers     map[string]Router     `json:"routers"`
	Services    map[string]Service    `json:"services"`
	Middlewares map[string]Middleware `json:"middlewares"`
}

// Router is one Traefik HTTP router.
type Router struct {
	EntryPoints []string `json:"entryPoints,omitempty"`
	Rule        string   `json:"rule"`
	Priority    int      `json:"priority"`
	Service     string   `json:"service"`
	Middlewares []string `json:"middlewares,omitempty"`
}

// Service is one Traefik HTTP service (a load balancer with one server).
type Service struct {
	LoadBalancer LoadBalancer `json:"loadBalancer"`
}

// LoadBalancer is a Traefik load balancer.
type LoadBalancer struct {
	Servers []Server `json:"servers"`
}

// Server is one backend of a load balancer.
type Server struct {
	URL string `json:"url"`
}

// Middleware is one Traefik middleware: the mcpauth plugin, response headers or retry.
type Middleware struct {
	Plugin  map[string]map[string]any `json:"plugin,omitempty"`
	Headers *Headers                  `json:"headers,omitempty"`
	Retry   *Retry                    `json:"retry,omitempty"`
}

// Retry is Traefik's retry middleware.
type Retry struct {
	Attempts        int    `json:"attempts"`
	InitialInterval string `json:"initialInterval,omitempty"`
}

// RetryUnreachable is the compose stack's retry-unreachable middleware: a request
// whose backend cannot be reached (nothing was sent) is tried again, on another
// replica where there is one.
func RetryUnreachable() *Retry { return &Retry{Attempts: 3, InitialInterval: "50ms"} }

// Headers is Traefik's headers middleware, the fields the stack uses.
type Headers struct {
	STSSeconds            int64             `json:"stsSeconds,omitempty"`
	STSIncludeSubdomains  bool              `json:"stsIncludeSubdomains,omitempty"`
	ContentTypeNosniff    bool              `json:"contentTypeNosniff,omitempty"`
	FrameDeny             bool              `json:"frameDeny,omitempty"`
	ReferrerPolicy        string            `json:"referrerPolicy,omitempty"`
	CustomResponseHeaders map[string]string `json:"customResponseHeaders,omitempty"`
}

// SecurityHeaders is the same response-header floor as the compose stack's
// security-headers middleware (STS is ignored by browsers on plain http).
func SecurityHeaders() *Headers {
	return &Headers{
		STSSeconds:            31536000,
		STSIncludeSubdomains:  true,
		ContentTypeNosniff:    true,
		FrameDeny:             true,
		ReferrerPolicy:        "no-referrer",
		CustomResponseHeaders: map[string]string{"Server": ""},
	}
}

// Router names, the same as the compose labels.
func discoveryRouter(svc string) string { return svc + "-oauth-discovery" }
func catchAllRouter(svc string) string  { return svc + "-catchall" }
func authMiddleware(svc string) string  { return PluginName + "-" + svc }

const (
	oauthRouter  = "auth-oauth"
	verifyRouter = "auth-verify"
	// internalEntryPoint serves /verify on a loopback port that no client is told
	// about, like the compose stack's unpublished `internal` entry point.
	internalEntryPoint = "internal"
	// securityHeaders is the response-header floor and retryUnreachable the retry of
	// unreachable backends that every public entry point applies
	// (traefik/dynamic/middlewares.yml in the compose stack).
	securityHeaders  = "security-headers"
	retryUnreachable = "retry-unreachable"
)

// pathPrefixes renders `(PathPrefix(`a`) || PathPrefix(`b`))`.
func pathPrefixes(paths []string) string {
	parts := make([]string, len(paths))
	for i, p := range paths {
		parts[i] = "PathPrefix(`" + p + "`)"
	}
	return "(" + strings.Join(parts, " || ") + ")"
}

func hostRule(host string) string { return "Host(`" + host + "`)" }

// Dynamic builds the Traefik dynamic configuration: the same routers, priorities,
// middlewares and services as the compose labels, with hosts and backends on loopback.
func (p RoutingPlan) Dynamic() DynamicConfig {
	cfg := DynamicConfig{HTTP: HTTPConfig{
		Routers:     map[string]Router{},
		Services:    map[string]Service{},
		Middlewares: map[string]Middleware{},
	}}
	h := &cfg.HTTP
	authEP := entryPoints(p.Auth.EntryPoint)
	h.Services[AuthService] = Service{LoadBalancer{Servers: []Server{{URL: p.Auth.Backend}}}}
	h.Middlewares[securityHeaders] = Middleware{Headers: SecurityHeaders()}
	h.Middlewares[retryUnreachable] = Middleware{Retry: RetryUnreachable()}
	h.Routers[oauthRouter] = Router{
		EntryPoints: authEP,
		Rule:        hostRule(p.Auth.Host()) + " && (" + strings.TrimSuffix(strings.TrimPrefix(pathPrefixes(contract.PublicPathPrefixes), "("), ")") + " || Path(`" + contract.PathHealth + "`) || Path(`" + contract.PathHealthLive + "`))",
		Priority:    PriorityOAuth,
		Service:     AuthService,
	}
	h.Routers[verifyRouter] = Router{
		EntryPoints: []string{internalEntryPoint},
		Rule:        "PathPrefix(`/verify`)",
		Priority:    PriorityVerify,
		Service:     AuthService,
	}
	for _, s := range p.Services {
		ep := entryPoints(s.EntryPoint)
		host := hostRule(s.Host())
		h.Services[s.Name] = Service{LoadBalancer{Servers: []Server{{URL: s.Backend}}}}
		h.Middlewares[authMiddleware(s.Name)] = Middleware{Plugin: map[string]map[string]any{
			PluginName: p.pluginConfig(s),
		}}
		h.Routers[discoveryRouter(s.Name)] = Router{
			EntryPoints: ep,
			Rule:        host + " && " + pathPrefixes(DiscoveryPaths),
			Priority:    PriorityDiscovery,
			Service:     AuthService,
		}
		h.Routers[s.Name] = Router{
			EntryPoints: ep,
			Rule:        host + " && PathPrefix(`/mcp`)",
			Priority:    PriorityMCP,
			Service:     s.Name,
			Middlewares: []string{authMiddleware(s.Name)},
		}
		h.Routers[catchAllRouter(s.Name)] = Router{
			EntryPoints: ep,
			Rule:        host,
			Priority:    PriorityCatchAll,
			Service:     s.Name,
			Middlewares: []string{authMiddleware(s.Name)},
		}
	}
	return cfg
}

// pluginConfig is the mcpauth configuration of one MCP service (docs/interfaces.md,
// "Resources and hosts"): its resource is its own MCP URL, so a token for another
// service is refused.
func (p RoutingPlan) pluginConfig(s Route) map[string]any {
	c := map[string]any{
		"issuer":        p.Issuer,
		"jwksURL":       p.AuthInternal + "/.well-known/jwks.json",
		"resource":      s.MCPURL(),
		"revocationURL": p.AuthInternal + contract.PathRevocationFeed,
		// The scope clients should ask for: in the metadata and the 401 challenge. A
		// string, as the compose label gives it (Traefik turns it into the plugin's list).
		"scopesSupported": "mcp",
	}
	if p.RevocationToken != "" {
		c["revocationToken"] = p.RevocationToken
	}
	if p.IdentitySecret != "" {
		c["identitySecret"] = p.IdentitySecret
	}
	if p.RevocationInterval != "" {
		c["revocationInterval"] = p.RevocationInterval
	}
	return c
}

func entryPoints(ep string) []string {
	if ep == "" {
		return nil
	}
	return []string{ep}
}

// YAML renders the configuration for Traefik's file provider. JSON is a subset of
// YAML 1.2, which Traefik's YAML decoder reads, so no YAML library is needed.
func (c DynamicConfig) YAML() ([]byte, error) {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode traefik dynamic config: %w", err)
	}
	return append(b, '\n'), nil
}

// StaticArgs are the command-line flags of Traefik's static configuration: one entry
// point per public origin plus an internal one for ping, the file provider watching
// dynamicFile, the mcpauth plugin as a local plugin, and logs in logDir.
func (p RoutingPlan) StaticArgs(dynamicFile, logDir, pingAddr, internalAddr string) []string {
	args := []string{
		"--global.checkNewVersion=false",
		"--global.sendAnonymousUsage=false",
		"--providers.file.filename=" + dynamicFile,
		"--providers.file.watch=false",
		"--experimental.localPlugins." + PluginName + ".moduleName=" + PluginModule,
		"--entryPoints.ping.address=" + pingAddr,
		"--ping=true",
		"--ping.entryPoint=ping",
		"--log.level=INFO",
		"--log.format=json",
		"--accessLog=true",
		"--accessLog.format=json",
		"--accessLog.filePath=" + logDir + "/traefik-access.log",
		// No request paths: their query strings carry codes, state and, from a wrong
		// client, tokens (traefik/traefik.yml does the same).
		"--accessLog.fields.names.RequestPath=drop",
	}
	eps := map[string]string{}
	for _, r := range append([]Route{p.Auth}, p.Services...) {
		u, err := url.Parse(r.PublicURL)
		if err != nil {
			continue
		}
		port := u.Port()
		if port == "" {
			port = "80"
		}
		eps[r.EntryPoint] = "127.0.0.1:" + port
	}
	eps[internalEntryPoint] = internalAddr
	names := make([]string, 0, len(eps))
	for n := range eps {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		args = append(args, "--entryPoints."+n+".address="+eps[n])
		if n != internalEntryPoint {
			args = append(args, "--entryPoints."+n+".http.middlewares="+securityHeaders+"@file,"+retryUnreachable+"@file")
		}
	}
	return args
}

// originURL is http://host:port.
func originURL(host string, port int) string {
	return "http://" + host + ":" + strconv.Itoa(port)
}
