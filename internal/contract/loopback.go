// Package contract holds the rules every part of the gateway must apply alike, so that
// authsvc, the bridge, `just run` and the client tooling cannot drift apart. It imports
// the standard library only. The mcpauth plugin cannot import it (Traefik loads the
// plugin from its own directory); where the plugin needs a rule it keeps a copy that a
// test checks against this package.
package contract

import (
	"net/netip"
	"net/url"
	"strings"
)

// IsLoopbackHost reports whether host (a hostname or IP without port; brackets around
// IPv6 are tolerated) names the local machine: localhost, *.localhost (RFC 6761 §6.3),
// 127.0.0.0/8 or ::1, IPv4-mapped included, case and a trailing dot ignored. Plain http
// is allowed only for these hosts: issuers, redirect URIs, browser origins the bridge
// trusts by default, and the URLs `just run` serves.
//
// It is not the rule for which redirect URIs may change port between registration and
// use: RFC 8252 §7.3 lets only the literal loopback hosts (127.0.0.1, [::1], localhost)
// do that, and authsvc's auth package (MatchRedirect) applies that narrower rule itself.
func IsLoopbackHost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
	return err == nil && a.Zone() == "" && a.Unmap().IsLoopback()
}

// IsLoopbackURL reports whether the URL's host is a loopback host ([IsLoopbackHost]);
// an unparsable URL is not.
func IsLoopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && IsLoopbackHost(u.Hostname())
}
