package streamable

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/mcp-oauth-gateway/gateway/internal/contract"
)

// originPolicy decides which browser origins may use the endpoint. Requests without an
// Origin header come from non-browser clients (SDKs, CLIs, Traefik health checks) and
// are not subject to it: DNS rebinding and cross-site attacks need a browser, and a
// browser always sends Origin on these requests.
type originPolicy struct {
	any     bool
	allowed map[string]bool // normalised scheme://host[:port]
}

// newOriginPolicy parses the allowed origins. "*" allows every origin. With no entry,
// only loopback origins (localhost, 127.0.0.1, [::1], any port) are allowed, which
// protects a bridge on a developer machine from DNS rebinding.
func newOriginPolicy(origins []string) (*originPolicy, error) {
	p := &originPolicy{allowed: map[string]bool{}}
	for _, o := range origins {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if o == "*" {
			p.any = true
			continue
		}
		n, ok := normaliseOrigin(o)
		if !ok {
			return nil, fmt.Errorf("streamable: invalid allowed origin %q (want scheme://host[:port])", o)
		}
		p.allowed[n] = true
	}
	return p, nil
}

func (p *originPolicy) allows(origin string) bool {
	if origin == "" || p.any {
		return true
	}
	n, ok := normaliseOrigin(origin)
	if !ok {
		return false
	}
	if len(p.allowed) == 0 {
		return contract.IsLoopbackURL(n)
	}
	return p.allowed[n]
}

// normaliseOrigin lower-cases an origin and checks it is scheme://host[:port] and nothing
// more.
func normaliseOrigin(o string) (string, bool) {
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.Fragment != "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", false
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), true
}
