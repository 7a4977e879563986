package contract

// Paths of authsvc's endpoints, relative to the issuer URL. authsvc's routes and
// metadata document, the routing of `just run` and the tools that call authsvc all use
// these, so that none of them can name an endpoint the others do not serve.
const (
	PathMetadata       = "/.well-known/oauth-authorization-server"
	PathOpenIDConfig   = "/.well-known/openid-configuration"
	PathJWKS           = "/.well-known/jwks.json"
	PathAuthorize      = "/authorize"
	PathToken          = "/token"
	PathRegister       = "/register"
	PathRevoke         = "/revoke"
	PathIntrospect     = "/introspect"
	PathCallback       = "/callback"
	PathConsent        = "/consent"
	PathVerify         = "/verify"
	PathHealth         = "/health"      // readiness: 200 only while Redis answers
	PathHealthLive     = "/health/live" // liveness: 200 while the process serves
	PathRevocationFeed = "/internal/revocations"
)

// PublicPathPrefixes are the path prefixes the edge routes to authsvc on its public
// host: the browser and client endpoints and the well-known documents. /verify and the
// revocation feed are internal (reached on the backend network only), and /health is
// routed by exact path.
var PublicPathPrefixes = []string{
	PathRegister, PathAuthorize, PathToken, PathCallback, PathRevoke, PathIntrospect,
	PathConsent, "/.well-known",
}
