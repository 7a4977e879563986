package labels

// The types below mirror the part of Traefik v3.6's dynamic configuration
// (github.com/traefik/traefik/v3/pkg/config/dynamic) that the stack's labels use, with
// the same field names and struct tags, so that paerser decodes labels into them exactly
// as Traefik's Docker provider does (label.DecodeConfiguration).
//
// Why a mirror instead of importing Traefik: the tests module is shared by six engineers
// and requiring github.com/traefik/traefik/v3 would pull Traefik's whole module graph
// (hundreds of modules) into it and raise versions of libraries the other suites use.
// The mirror is deliberately partial: a label naming a field or middleware kind the
// stack does not use fails to decode ("field not found"), which is the behaviour the
// tests want for typos; a new kind of label means adding its field here. The end-to-end
// suite loads the generated configuration into a real Traefik, which checks the mirror.

// Configuration is the dynamic configuration decoded from labels (HTTP only: the
// stack has no TCP or UDP routers, and labels outside traefik.http are refused).
type Configuration struct {
	HTTP *HTTPConfiguration `json:"http,omitempty" yaml:"http,omitempty"`
}

// HTTPConfiguration mirrors dynamic.HTTPConfiguration.
type HTTPConfiguration struct {
	Routers     map[string]*Router     `json:"routers,omitempty" yaml:"routers,omitempty"`
	Services    map[string]*Service    `json:"services,omitempty" yaml:"services,omitempty"`
	Middlewares map[string]*Middleware `json:"middlewares,omitempty" yaml:"middlewares,omitempty"`
}

// Router mirrors dynamic.Router.
type Router struct {
	EntryPoints []string         `json:"entryPoints,omitempty" yaml:"entryPoints,omitempty"`
	Middlewares []string         `json:"middlewares,omitempty" yaml:"middlewares,omitempty"`
	Service     string           `json:"service,omitempty" yaml:"service,omitempty"`
	Rule        string           `json:"rule,omitempty" yaml:"rule,omitempty"`
	Priority    int              `json:"priority,omitempty" yaml:"priority,omitempty"`
	TLS         *RouterTLSConfig `json:"tls,omitempty" yaml:"tls,omitempty" label:"allowEmpty"`
}

// RouterTLSConfig mirrors dynamic.RouterTLSConfig.
type RouterTLSConfig struct {
	Options      string `json:"options,omitempty" yaml:"options,omitempty"`
	CertResolver string `json:"certResolver,omitempty" yaml:"certResolver,omitempty"`
}

// Service mirrors dynamic.Service (load balancers only, as labels allow).
type Service struct {
	LoadBalancer *ServersLoadBalancer `json:"loadBalancer,omitempty" yaml:"loadBalancer,omitempty"`
}

// ServersLoadBalancer mirrors dynamic.ServersLoadBalancer.
type ServersLoadBalancer struct {
	Servers          []Server `json:"servers,omitempty" yaml:"servers,omitempty" label-slice-as-struct:"server"`
	PassHostHeader   *bool    `json:"passHostHeader,omitempty" yaml:"passHostHeader,omitempty"`
	ServersTransport string   `json:"serversTransport,omitempty" yaml:"serversTransport,omitempty"`
}

// Server mirrors dynamic.Server. In labels only Port and Scheme are set; the Docker
// provider builds URL from the container's address, DynamicConfig from its options.
type Server struct {
	URL    string `json:"url,omitempty" yaml:"url,omitempty"`
	Scheme string `json:"-" yaml:"-"`
	Port   string `json:"-" yaml:"-"`
}

// Middleware mirrors dynamic.Middleware: only plugins, the one kind the labels declare
// (shared middlewares such as security headers live in traefik/dynamic/*.yml).
type Middleware struct {
	Plugin map[string]PluginConf `json:"plugin,omitempty" yaml:"plugin,omitempty"`
}

// PluginConf mirrors dynamic.PluginConf: a plugin's settings, decoded by Traefik with
// mapstructure into the plugin's own Config (field names match case-insensitively,
// unknown keys are silently ignored, hence the drift test against plugin/).
type PluginConf map[string]any
