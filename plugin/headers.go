package mcpauth

import (
	"net/http"
	"strings"
)

// identityHeaders knows which client-sent header names could be mistaken for the
// identity headers this middleware injects.
type identityHeaders struct {
	normal map[string]bool // normalised spellings to strip
	// Pre-filters, indexed by length, first and last byte of a header name (both
	// cases; '-', '_' and '.' alike). Slices, not arrays: Yaegi would copy an array into a
	// temporary at each use.
	lengths []bool
	firsts  []bool
	lasts   []bool
	// safe holds common header names, as Go's server spells them, that normalise to
	// no identity header: one lookup settles most of a request's headers.
	safe map[string]bool
}

// commonHeaders are request header names seen on most requests through Traefik.
var commonHeaders = []string{
	"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control",
	"Connection", "Content-Length", "Content-Type", "Cookie", "Host", "Last-Event-Id",
	"Mcp-Protocol-Version", "Mcp-Session-Id", "Origin", "Pragma", "Priority", "Referer",
	"Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site", "Te", "Traceparent", "Tracestate",
	"Upgrade", "User-Agent", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Port",
	"X-Forwarded-Prefix", "X-Forwarded-Proto", "X-Forwarded-Server", "X-Forwarded-Uri",
	"X-Real-Ip", "X-Request-Id",
}

func newIdentityHeaders(names [5]string) *identityHeaders {
	h := &identityHeaders{normal: map[string]bool{},
		lengths: make([]bool, 256), firsts: make([]bool, 256), lasts: make([]bool, 256), safe: map[string]bool{}}
	for _, n := range names {
		nn := normalizeHeaderName(n)
		h.normal[nn] = true
		if len(nn) < len(h.lengths) {
			h.lengths[len(nn)] = true
		}
		for _, c := range []byte{nn[0], nn[len(nn)-1]} {
			variants := []byte{c, byte(strings.ToUpper(string(c))[0])}
			if c == '-' {
				variants = append(variants, '_', '.')
			}
			for _, v := range variants {
				if c == nn[0] {
					h.firsts[v] = true
				}
				if c == nn[len(nn)-1] {
					h.lasts[v] = true
				}
			}
		}
	}
	for _, n := range commonHeaders {
		if !h.normal[normalizeHeaderName(n)] {
			h.safe[n] = true
		}
	}
	return h
}

// normalizeHeaderName folds every spelling a proxy or framework might treat as the
// same header: case, and '_' or '.' for '-' (CGI, nginx, some WSGI/Rack servers fold
// '_'; frameworks that map headers to variable names fold '.' as well).
func normalizeHeaderName(name string) string {
	return strings.ToLower(headerSeparators.Replace(name))
}

var headerSeparators = strings.NewReplacer("_", "-", ".", "-")

// stripOne deletes k from hdr when it normalises to an identity header. Go's server
// canonicalises "x-user-id" to "X-User-Id" but leaves "X_User_Id" and "X.User.Id" as
// they came, and keeps duplicates as several values: ServeHTTP calls it for every
// header name not settled by the one lookup in safe, and all spellings go.
func stripOne(h *identityHeaders, hdr http.Header, k string) {
	if len(k) < len(h.lengths) && h.lengths[len(k)] && h.firsts[k[0]] && h.lasts[k[len(k)-1]] && h.normal[normalizeHeaderName(k)] {
		delete(hdr, k)
	}
}
