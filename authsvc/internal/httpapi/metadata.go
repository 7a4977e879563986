// metadata.go serves authsvc's discovery documents: the RFC 8414 authorization
// server metadata (also at the OpenID Connect discovery path, which several MCP
// clients try first) and the RFC 7517 JWKS of the token signing keys.

package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/mcp-oauth-gateway/gateway/authsvc/internal/keys"
	"github.com/mcp-oauth-gateway/gateway/internal/contract"
)

// ScopesSupported are the scopes advertised. "mcp" is the scope MCP clients ask for
// access to the MCP services behind the gateway.
var ScopesSupported = []string{"mcp"}

// Document is the RFC 8414 authorization server metadata.
type Document struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	RegistrationEndpoint                       string   `json:"registration_endpoint"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint"`
	JWKSURI                                    string   `json:"jwks_uri"`
	ScopesSupported                            []string `json:"scopes_supported"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported"`
	AuthorizationResponseIssParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
	// ClientIDMetadataDocumentSupported: an https client_id names its metadata
	// document (MCP 2026-07-28; package cimd).
	ClientIDMetadataDocumentSupported bool   `json:"client_id_metadata_document_supported"`
	ServiceDocumentation              string `json:"service_documentation,omitempty"`
}

// NewDocument builds the metadata for issuer (already validated, no trailing slash).
func NewDocument(issuer string) *Document {
	clientAuth := []string{"client_secret_basic", "client_secret_post", "none"}
	return &Document{
		Issuer:                            issuer,
		AuthorizationEndpoint:             issuer + contract.PathAuthorize,
		TokenEndpoint:                     issuer + contract.PathToken,
		RegistrationEndpoint:              issuer + contract.PathRegister,
		RevocationEndpoint:                issuer + contract.PathRevoke,
		IntrospectionEndpoint:             issuer + contract.PathIntrospect,
		JWKSURI:                           issuer + contract.PathJWKS,
		ScopesSupported:                   ScopesSupported,
		ResponseTypesSupported:            []string{"code"},
		ResponseModesSupported:            []string{"query"},
		GrantTypesSupported:               []string{"authorization_code", "refresh_token"},
		CodeChallengeMethodsSupported:     []string{"S256"},
		TokenEndpointAuthMethodsSupported: clientAuth,
		// A public client may revoke its own tokens by client_id alone (RFC 7009 §5).
		RevocationEndpointAuthMethodsSupported: clientAuth,
		// Introspection requires a confidential client: "none" would let anyone probe.
		IntrospectionEndpointAuthMethodsSupported:  []string{"client_secret_basic", "client_secret_post"},
		AuthorizationResponseIssParameterSupported: true,
		ClientIDMetadataDocumentSupported:          true,
	}
}

// metadataHandler serves the metadata document. It is immutable after construction.
type metadataHandler struct{ doc *Document }

// NewMetadataHandler returns a handler serving the metadata for issuer.
func NewMetadataHandler(issuer string) *metadataHandler {
	return &metadataHandler{doc: NewDocument(issuer)}
}

// Document returns the served document.
func (h *metadataHandler) Document() *Document { return h.doc }

// ServeHTTP implements http.Handler.
func (h *metadataHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, http.StatusOK, h.doc)
}

// KeySource is what the JWKS handler needs from keys.Manager.
type KeySource interface {
	JWKS(ctx context.Context) (keys.JWKS, error)
}

// JWKSHandler serves the public signing keys.
type JWKSHandler struct {
	keys KeySource
	log  *slog.Logger
}

// NewJWKSHandler returns a handler publishing src's keys.
func NewJWKSHandler(src KeySource, log *slog.Logger) *JWKSHandler {
	return &JWKSHandler{keys: src, log: log}
}

// ServeHTTP implements http.Handler.
func (h *JWKSHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	set, err := h.keys.JWKS(r.Context())
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	WriteJSON(w, http.StatusOK, set)
}
