// Scope and resource rules.

package auth

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Limits on attacker-supplied request parameters.
const (
	maxResources     = 10
	maxResourceBytes = 2048
	maxScopeBytes    = 1024
)

// ParseResources validates RFC 8707 resource indicators: each an absolute URI without
// a fragment, at most maxResources, no duplicates kept. nil means "none requested".
func ParseResources(values []string) ([]string, error) {
	if len(values) > maxResources {
		return nil, fmt.Errorf("at most %d resource parameters are accepted", maxResources)
	}
	var out []string
	for _, v := range values {
		if len(v) == 0 || len(v) > maxResourceBytes {
			return nil, errors.New("resource must be a non-empty absolute URI of at most 2048 bytes")
		}
		for i := 0; i < len(v); i++ {
			if v[i] <= 0x20 || v[i] >= 0x7f {
				return nil, errors.New("resource must not contain spaces, control or non-ASCII characters")
			}
		}
		u, err := url.Parse(v)
		if err != nil || !u.IsAbs() || u.Opaque != "" && u.Scheme != "urn" {
			return nil, fmt.Errorf("resource %q is not an absolute URI", v)
		}
		if u.Fragment != "" || strings.Contains(v, "#") {
			return nil, fmt.Errorf("resource %q must not contain a fragment", v)
		}
		if u.Scheme != "urn" && (u.Host == "" || u.User != nil) {
			return nil, fmt.Errorf("resource %q must name a host and no user info", v)
		}
		if u.Scheme != "urn" {
			// Scheme and host are case-insensitive: HTTPS://Files.Example.com/mcp is the
			// resource https://files.example.com/mcp (MCP 2026-07-28 asks servers to
			// accept either); the rest is kept as sent.
			i := strings.Index(v, "://") + 3
			end := i + strings.IndexAny(v[i:]+"/", "/?")
			v = strings.ToLower(v[:end]) + v[end:]
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// ParseScope validates a space-separated scope (RFC 6749 §3.3 scope-token characters)
// and, when the client registered a scope, requires the request to stay within it.
// It returns the normalised scope (single spaces, duplicates dropped).
func ParseScope(requested, registered string) (string, error) {
	if len(requested) > maxScopeBytes {
		return "", fmt.Errorf("scope is longer than %d bytes", maxScopeBytes)
	}
	var out []string
	for _, s := range strings.Split(requested, " ") {
		if s == "" {
			continue
		}
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c < 0x21 || c == '"' || c == '\\' || c > 0x7e {
				return "", fmt.Errorf("scope token %q has a character outside RFC 6749 §3.3", s)
			}
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	scope := strings.Join(out, " ")
	if strings.TrimSpace(registered) != "" && !ScopeCovers(registered, scope) {
		return "", errors.New("scope asks for more than the client registered")
	}
	return scope, nil
}

// ScopeCovers reports whether every token of scope is in granted.
func ScopeCovers(granted, scope string) bool {
	have := strings.Fields(granted)
	for _, s := range strings.Fields(scope) {
		if !slices.Contains(have, s) {
			return false
		}
	}
	return true
}
