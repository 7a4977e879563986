package httpx

import (
	"net/netip"
	"strings"
)

// IsLoopbackHost reports whether host (a hostname or IP, without port; brackets
// around IPv6 are tolerated) names the local machine: localhost, *.localhost
// (RFC 6761 §6.3), 127.0.0.0/8 or ::1. Plain http is allowed only for these.
func IsLoopbackHost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
	return err == nil && a.Zone() == "" && a.Unmap().IsLoopback()
}
