// Redirect URI rules: what may be registered, and how a request's redirect_uri
// matches the registered ones.

package auth

import (
	"errors"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/mcp-oauth-gateway/gateway/internal/contract"
)

// Application types (OpenID Connect Dynamic Client Registration §2).
const (
	AppWeb    = "web"
	AppNative = "native"
)

// MaxRedirectURILength bounds one redirect URI.
const MaxRedirectURILength = 2000

// forbiddenSchemes are refused with a specific message even though the private-use
// scheme rule (a dot is required) would refuse them too: they are the classic
// injection vectors and deserve a clear answer.
var forbiddenSchemes = map[string]bool{
	"javascript": true, "data": true, "file": true, "vbscript": true, "about": true,
	"blob": true, "filesystem": true, "ftp": true, "ws": true, "wss": true, "mailto": true,
}

// Redirect-URI validation errors. Each names the rule; [ValidateRedirectURI] wraps
// them with the offending position so the client knows which URI failed.
var (
	errRedirectEmpty     = errors.New("is empty")
	errRedirectLong      = errors.New("is longer than 2000 characters")
	errRedirectChars     = errors.New("contains whitespace, control or non-ASCII characters (internationalised hosts must be given in punycode)")
	errRedirectParse     = errors.New("is not a valid URI")
	errRedirectRelative  = errors.New("is not absolute (it needs a scheme)")
	errRedirectFragment  = errors.New("must not contain a fragment (#)")
	errRedirectScheme    = errors.New("uses a forbidden scheme")
	errRedirectPrivate   = errors.New("uses a private-use scheme without a dot; use a reverse domain name such as com.example.app:/callback")
	errRedirectHTTP      = errors.New("uses http, which is allowed only for loopback hosts (localhost, 127.0.0.1, [::1]); use https")
	errRedirectUserinfo  = errors.New("must not contain user information (user@host)")
	errRedirectHost      = errors.New("has a missing or invalid host")
	errRedirectDotSeg    = errors.New("must not contain dot segments (/./ or /../) or encoded path separators")
	errRedirectWebScheme = errors.New("must use https for application_type web (native apps may use loopback http or private-use schemes)")
	errRedirectWebLocal  = errors.New("must not use a loopback host for application_type web")
)

// ValidateRedirectURI checks one redirect URI against docs/security.md "Registration":
// absolute, no fragment, https, http only for loopback hosts, private-use schemes
// only with a dot, no user info, nothing ambiguous (dot segments, encoded separators,
// backslashes, control or non-ASCII characters). appType "web" additionally demands
// https on a non-loopback host; "" or "native" allow all of the above.
// It returns which rule failed; the URI is stored byte for byte as given.
func ValidateRedirectURI(raw, appType string) error {
	if raw == "" {
		return errRedirectEmpty
	}
	if len(raw) > MaxRedirectURILength {
		return errRedirectLong
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= 0x20 || c >= 0x7f || c == '\\' {
			return errRedirectChars
		}
	}
	if strings.Contains(raw, "#") {
		return errRedirectFragment
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errRedirectParse
	}
	if u.Scheme == "" {
		return errRedirectRelative
	}
	scheme := strings.ToLower(u.Scheme)
	if forbiddenSchemes[scheme] {
		return errRedirectScheme
	}
	if u.User != nil || strings.Contains(authority(raw), "@") {
		return errRedirectUserinfo
	}
	if hasDotSegmentOrEncodedSeparator(u.EscapedPath()) || hasDotSegmentOrEncodedSeparator(u.Opaque) {
		return errRedirectDotSeg
	}
	switch scheme {
	case "https", "http":
		if u.Opaque != "" || !validHost(u.Hostname()) || strings.HasSuffix(u.Host, ":") {
			return errRedirectHost
		}
		loopback := contract.IsLoopbackHost(u.Hostname())
		if scheme == "http" && !loopback {
			return errRedirectHTTP
		}
		if appType == AppWeb {
			if scheme != "https" {
				return errRedirectWebScheme
			}
			if loopback {
				return errRedirectWebLocal
			}
		}
		return nil
	default:
		if !strings.Contains(scheme, ".") {
			return errRedirectPrivate
		}
		if appType == AppWeb {
			return errRedirectWebScheme
		}
		return nil
	}
}

// authority returns the authority part of a URI string ("" if it has none), so that
// an '@' hidden from url.Parse (it takes the last '@') is still seen.
func authority(raw string) string {
	i := strings.Index(raw, "://")
	if i < 0 {
		return ""
	}
	rest := raw[i+3:]
	if j := strings.IndexAny(rest, "/?"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// hasDotSegmentOrEncodedSeparator reports "." or ".." path segments (also
// percent-encoded) and encoded '/', '\' or '.': a URI that means different things
// to different parsers must not be registered.
func hasDotSegmentOrEncodedSeparator(p string) bool {
	lower := strings.ToLower(p)
	if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") || strings.Contains(lower, "%2e") {
		return true
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// validHost accepts a DNS name of letters, digits, hyphens and dots, or an IP
// literal. Wildcards, percent-encoding and empty labels are refused.
func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return !strings.Contains(h, "%") // no IPv6 zones
	}
	labels := strings.Split(strings.TrimSuffix(h, "."), ".")
	if last := strings.ToLower(labels[len(labels)-1]); strings.HasPrefix(last, "0x") || strings.Trim(last, "0123456789") == "" {
		// Browsers read a host whose last label is numeric as an IPv4 address in
		// some legacy form (0, 127.1, 0x7f.1); only canonical dotted quads are allowed.
		return false
	}
	for _, label := range labels {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// IsNativeRedirect reports a redirect only a native app would use: loopback http
// or a private-use scheme. It is used to infer application_type when absent.
func IsNativeRedirect(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
		return true // validated: only loopback hosts get here
	case "https":
		return contract.IsLoopbackHost(u.Hostname())
	default:
		return true
	}
}

// MatchRedirect reports whether uri is one of registered: exact string comparison,
// except that a loopback redirect over http (127.0.0.1, [::1] or localhost, the same
// host as registered) may use any port (RFC 8252 §7.3; Claude Code registers
// http://localhost:PORT/callback, metadata documents list port-less loopback URIs).
func MatchRedirect(registered []string, uri string) bool {
	if slices.Contains(registered, uri) {
		return true
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Fragment != "" || !loopbackHost(u.Hostname()) {
		return false
	}
	for _, reg := range registered {
		ru, err := url.Parse(reg)
		if err != nil || ru.Scheme != "http" || !loopbackHost(ru.Hostname()) {
			continue
		}
		if ru.Hostname() == u.Hostname() && ru.EscapedPath() == u.EscapedPath() && ru.RawQuery == u.RawQuery &&
			ru.ForceQuery == u.ForceQuery && ru.User == nil && validPort(u.Port()) &&
			strings.HasPrefix(uri, "http://"+u.Host) && strings.HasPrefix(reg, "http://"+ru.Host) &&
			strings.TrimPrefix(uri, "http://"+u.Host) == strings.TrimPrefix(reg, "http://"+ru.Host) {
			return true
		}
	}
	return false
}

// LoopbackRedirect reports whether uri sends the browser to this computer (any
// loopback host registration accepts over http: contract.IsLoopbackHost), for the
// consent page's warning.
func LoopbackRedirect(uri string) bool {
	return contract.IsLoopbackURL(uri)
}

// loopbackHost is RFC 8252 §7.3's narrower rule: the literal loopback hosts whose
// redirect URIs may change port between registration and use.
func loopbackHost(host string) bool {
	return host == "127.0.0.1" || host == "::1" || host == "localhost"
}

func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return p == ""
	}
	for _, c := range p {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
