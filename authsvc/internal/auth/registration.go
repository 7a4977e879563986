// Client registration metadata (RFC 7591 §2) and Client ID Metadata Documents: parsing
// and the rules of what may be registered.

package auth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mcp-oauth-gateway/gateway/internal/contract"
)

// Limits on registration input. They are generous for real clients and stop a
// registration from becoming a storage or rendering problem.
const (
	MaxRedirectURIs = 20
	MaxNameRunes    = 200
	MaxURILength    = 2000
	MaxScopeLength  = 1000
	MaxContacts     = 10
	MaxContactLen   = 320
	MaxShortString  = 200
	// MaxDepth is the deepest JSON nesting accepted: the deepest legal document is an
	// object holding an array of strings (depth 2).
	MaxDepth = 4
)

// Token endpoint authentication methods.
const (
	AuthBasic = "client_secret_basic"
	AuthPost  = "client_secret_post"
	AuthNone  = "none"
)

// serverOwned are response fields a client may not set. In POST they are refused;
// in PUT (RFC 7592 §2.2) client_id must equal the path and client_secret must be the
// current secret, and the others are refused.
var serverOwned = []string{
	"client_id", "client_secret", "client_id_issued_at", "client_secret_expires_at",
	"registration_access_token", "registration_client_uri",
}

// Registration is a parsed registration request: the metadata plus the server-owned fields
// a PUT must repeat.
type Registration struct {
	Metadata     ClientMetadata
	ClientID     string // only read for PUT
	ClientSecret string // only read for PUT
}

func metadataError(format string, args ...any) *Error {
	return ErrInvalidClientMetadata.WithDescription(format, args...)
}

// ParseMetadata parses and validates a registration request body (RFC 7591 §2) for
// POST. Every failure is an *Error (invalid_client_metadata or
// invalid_redirect_uri) whose description says what is wrong. Unknown fields are
// ignored; server-owned fields are refused.
func ParseMetadata(body []byte) (*ClientMetadata, error) {
	req, err := ParseRegistration(body, false)
	if err != nil {
		return nil, err
	}
	return &req.Metadata, nil
}

// ParseRegistration parses and validates a registration request body: for POST, or
// with update for an RFC 7592 PUT, which must repeat client_id and client_secret.
func ParseRegistration(body []byte, update bool) (*Registration, error) {
	fields, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	req := &Registration{}
	for _, name := range serverOwned {
		raw, ok := fields[name]
		if !ok {
			continue
		}
		switch {
		case update && name == "client_id":
			if err := decodeString(raw, name, MaxShortString, &req.ClientID); err != nil {
				return nil, err
			}
		case update && name == "client_secret":
			if err := decodeString(raw, name, MaxShortString, &req.ClientSecret); err != nil {
				return nil, err
			}
		case update:
			return nil, metadataError("%s is set by the server and must not be sent in an update (RFC 7592 §2.2)", name)
		default:
			return nil, metadataError("%s is assigned by the server; remove it from the registration request", name)
		}
	}
	m := &req.Metadata
	if err := decodeStrings(fields["redirect_uris"], "redirect_uris", MaxRedirectURIs, MaxRedirectURILength, &m.RedirectURIs); err != nil {
		return nil, err
	}
	if err := decodeString(fields["token_endpoint_auth_method"], "token_endpoint_auth_method", MaxShortString, &m.TokenEndpointAuthMethod); err != nil {
		return nil, err
	}
	if err := decodeStrings(fields["grant_types"], "grant_types", 10, MaxShortString, &m.GrantTypes); err != nil {
		return nil, err
	}
	if err := decodeStrings(fields["response_types"], "response_types", 10, MaxShortString, &m.ResponseTypes); err != nil {
		return nil, err
	}
	strs := []struct {
		name string
		max  int
		dst  *string
	}{
		{"application_type", MaxShortString, &m.ApplicationType},
		{"client_name", MaxNameRunes * 4, &m.ClientName},
		{"client_uri", MaxURILength, &m.ClientURI},
		{"logo_uri", MaxURILength, &m.LogoURI},
		{"tos_uri", MaxURILength, &m.TOSURI},
		{"policy_uri", MaxURILength, &m.PolicyURI},
		{"scope", MaxScopeLength, &m.Scope},
		{"software_id", MaxShortString, &m.SoftwareID},
		{"software_version", MaxShortString, &m.SoftwareVersion},
	}
	for _, s := range strs {
		if err := decodeString(fields[s.name], s.name, s.max, s.dst); err != nil {
			return nil, err
		}
	}
	if err := decodeStrings(fields["contacts"], "contacts", MaxContacts, MaxContactLen, &m.Contacts); err != nil {
		return nil, err
	}
	if err := validate(m); err != nil {
		return nil, err
	}
	return req, nil
}

// decodeObject checks that body is one JSON object nested no deeper than MaxDepth and
// splits it into its members. Depth is checked before decoding so a 10,000-deep
// document costs one linear scan.
func decodeObject(body []byte) (map[string]json.RawMessage, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, metadataError("the request body is empty; send a JSON object with redirect_uris")
	}
	if trimmed[0] != '{' {
		return nil, metadataError("the request body must be a JSON object")
	}
	if !utf8.Valid(body) {
		return nil, metadataError("the request body is not valid UTF-8")
	}
	if depth := jsonDepth(trimmed); depth > MaxDepth {
		return nil, metadataError("the JSON is nested too deeply (more than %d levels)", MaxDepth)
	}
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(&fields); err != nil {
		return nil, metadataError("the request body is not valid JSON: %s", jsonProblem(err))
	}
	if dec.More() {
		return nil, metadataError("the request body must hold exactly one JSON object")
	}
	if _, err := dec.Token(); err == nil {
		return nil, metadataError("the request body must hold exactly one JSON object")
	}
	return fields, nil
}

func jsonProblem(err error) string {
	var syn *json.SyntaxError
	if ok := asSyntax(err, &syn); ok {
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	}
	return "malformed"
}

func asSyntax(err error, dst **json.SyntaxError) bool {
	s, ok := err.(*json.SyntaxError)
	if ok {
		*dst = s
	}
	return ok
}

// jsonDepth returns the maximum nesting of arrays and objects in b, ignoring
// brackets inside strings. It does not validate; the decoder does that after.
func jsonDepth(b []byte) int {
	depth, maxDepth := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > maxDepth {
				maxDepth = depth
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return maxDepth
}

func isNull(raw json.RawMessage) bool {
	return raw == nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

func decodeString(raw json.RawMessage, name string, maxLen int, dst *string) error {
	if isNull(raw) {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return metadataError("%s must be a string", name)
	}
	if len(s) > maxLen {
		return metadataError("%s is too long (at most %d bytes)", name, maxLen)
	}
	*dst = s
	return nil
}

func decodeStrings(raw json.RawMessage, name string, maxItems, maxLen int, dst *[]string) error {
	if isNull(raw) {
		return nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return metadataError("%s must be an array of strings", name)
	}
	if len(list) > maxItems {
		if name == "redirect_uris" {
			return ErrInvalidRedirectURI.WithDescription("too many redirect_uris: %d (at most %d)", len(list), maxItems)
		}
		return metadataError("%s has %d entries; at most %d are allowed", name, len(list), maxItems)
	}
	out := make([]string, 0, len(list))
	for i, item := range list {
		var s string
		if err := json.Unmarshal(item, &s); err != nil {
			return metadataError("%s[%d] must be a string", name, i)
		}
		if len(s) > maxLen {
			return metadataError("%s[%d] is too long (at most %d bytes)", name, i, maxLen)
		}
		out = append(out, s)
	}
	*dst = out
	return nil
}

// validate applies defaults (RFC 7591 §2) and the rules of docs/security.md.
func validate(m *ClientMetadata) error {
	if len(m.RedirectURIs) == 0 {
		return ErrInvalidRedirectURI.WithDescription("redirect_uris is required and must hold at least one URI")
	}
	switch m.ApplicationType {
	case "", AppWeb, AppNative:
	default:
		return metadataError("application_type %q is not supported; use web or native", truncate(m.ApplicationType))
	}
	seen := map[string]bool{}
	for i, u := range m.RedirectURIs {
		if err := ValidateRedirectURI(u, m.ApplicationType); err != nil {
			return ErrInvalidRedirectURI.WithDescription("redirect_uris[%d] %v", i, err)
		}
		if seen[u] {
			return ErrInvalidRedirectURI.WithDescription("redirect_uris[%d] is listed twice", i)
		}
		seen[u] = true
	}
	if m.ApplicationType == "" {
		// Not given: infer it (OpenID DCR's default "web" would refuse every MCP client
		// that registers a loopback redirect without saying it is native).
		m.ApplicationType = AppWeb
		for _, u := range m.RedirectURIs {
			if IsNativeRedirect(u) {
				m.ApplicationType = AppNative
				break
			}
		}
	}
	switch m.TokenEndpointAuthMethod {
	case "":
		m.TokenEndpointAuthMethod = AuthBasic // RFC 7591 §2 default
	case AuthBasic, AuthPost, AuthNone:
	default:
		return metadataError("token_endpoint_auth_method %q is not supported; use client_secret_basic, client_secret_post or none", truncate(m.TokenEndpointAuthMethod))
	}
	var err error
	if m.GrantTypes, err = checkSet(m.GrantTypes, "grant_types", []string{"authorization_code"}, "authorization_code", "refresh_token"); err != nil {
		return err
	}
	if !slices.Contains(m.GrantTypes, "authorization_code") {
		return metadataError("grant_types must include authorization_code (the only way to obtain tokens here)")
	}
	if m.ResponseTypes, err = checkSet(m.ResponseTypes, "response_types", []string{"code"}, "code"); err != nil {
		return err
	}
	if err := checkName(m.ClientName); err != nil {
		return err
	}
	for _, f := range []struct{ name, value string }{
		{"client_uri", m.ClientURI}, {"logo_uri", m.LogoURI}, {"tos_uri", m.TOSURI}, {"policy_uri", m.PolicyURI},
	} {
		if err := checkWebURL(f.name, f.value); err != nil {
			return err
		}
	}
	if err := checkScope(m.Scope); err != nil {
		return err
	}
	for i, c := range m.Contacts {
		if err := checkText(fmt.Sprintf("contacts[%d]", i), c); err != nil {
			return err
		}
	}
	for _, f := range []struct{ name, value string }{{"software_id", m.SoftwareID}, {"software_version", m.SoftwareVersion}} {
		if err := checkText(f.name, f.value); err != nil {
			return err
		}
	}
	return nil
}

// checkSet applies a default, refuses values outside allowed and drops duplicates.
func checkSet(values []string, name string, def []string, allowed ...string) ([]string, error) {
	if values == nil {
		return def, nil
	}
	if len(values) == 0 {
		return nil, metadataError("%s must not be empty", name)
	}
	var out []string
	for _, v := range values {
		if !slices.Contains(allowed, v) {
			return nil, metadataError("%s value %q is not supported; allowed: %s", name, truncate(v), strings.Join(allowed, ", "))
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// checkName limits client_name, which the consent page shows: bounded length, no
// control characters and no bidirectional overrides that could make the page show a
// name other than the one stored. HTML is allowed here and escaped where rendered.
func checkName(name string) error {
	if n := utf8.RuneCountInString(name); n > MaxNameRunes {
		return metadataError("client_name has %d characters; at most %d are allowed", n, MaxNameRunes)
	}
	return checkText("client_name", name)
}

func checkText(field, s string) error {
	for _, r := range s {
		if unicode.IsControl(r) || isBidiControl(r) || r == utf8.RuneError {
			return metadataError("%s contains control or bidirectional-override characters", field)
		}
	}
	return nil
}

func isBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 || r == 0x200E || r == 0x200F || r == 0x061C
}

// checkWebURL requires an absolute https URL (http for loopback hosts) for the
// informational URLs, which may be shown as links.
func checkWebURL(name, s string) error {
	if s == "" {
		return nil
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c >= 0x7f {
			return metadataError("%s contains whitespace, control or non-ASCII characters", name)
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil {
		return metadataError("%s must be an absolute https URL", name)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && contract.IsLoopbackHost(u.Hostname())) {
		return metadataError("%s must be an absolute https URL", name)
	}
	return nil
}

// checkScope checks RFC 6749 §3.3 syntax: space-separated tokens of %x21 / %x23-5B /
// %x5D-7E.
func checkScope(scope string) error {
	if scope == "" {
		return nil
	}
	for _, tok := range strings.Split(scope, " ") {
		if tok == "" {
			return metadataError("scope must be space-separated scope tokens without empty entries")
		}
		for i := 0; i < len(tok); i++ {
			c := tok[i]
			if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
				return metadataError("scope contains a character not allowed in a scope token")
			}
		}
	}
	return nil
}

// truncate shortens attacker-provided values echoed in error descriptions.
func truncate(s string) string {
	const max = 40
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strings.ToValidUTF8(s, "")
}

// ParseDocument parses and validates a Client ID Metadata Document fetched from url
// (draft-ietf-oauth-client-id-metadata-document, MCP 2026-07-28): its client_id must be
// url exactly, it must carry no secret, and the client is public (token endpoint
// authentication "none", the default here); everything else follows the registration
// rules, redirect URIs included.
func ParseDocument(body []byte, url string) (*ClientMetadata, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return nil, metadataError("the client metadata document is not a JSON object")
	}
	var id string
	if err := json.Unmarshal(fields["client_id"], &id); err != nil || id != url {
		return nil, metadataError("the document's client_id must be its own URL %q exactly", url)
	}
	delete(fields, "client_id")
	for _, name := range []string{"client_secret", "client_secret_expires_at"} {
		if _, ok := fields[name]; ok {
			return nil, metadataError("a client metadata document must not carry %s", name)
		}
	}
	var method string
	if raw, ok := fields["token_endpoint_auth_method"]; ok {
		if err := json.Unmarshal(raw, &method); err != nil || method != AuthNone {
			return nil, metadataError("token_endpoint_auth_method must be none for a client metadata document here (private_key_jwt is not supported)")
		}
	}
	var name string
	if err := json.Unmarshal(fields["client_name"], &name); err != nil || strings.TrimSpace(name) == "" {
		return nil, metadataError("a client metadata document must name the client (client_name)")
	}
	fields["token_endpoint_auth_method"] = json.RawMessage(`"none"`)
	b, err := json.Marshal(fields)
	if err != nil {
		return nil, metadataError("the client metadata document cannot be read")
	}
	return ParseMetadata(b)
}
