package mcpauth

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
)

// The strict claim rule authsvc applies too (its internal/claimrules; the shared vectors
// of internal/testsupport/jwtvectors run against both): no claim named twice, no claim read here
// named in another case, NumericDates as JSON numbers (checkClaims already wants
// float64s). Go's map keeps both "sub" and "SUB" and the last of two "sub"; authsvc's
// struct decoding would read them otherwise: the rule makes both refuse.

// strictSuspect finds what could hide a repeated or re-cased name: a backslash (an
// escaped name), white space after a quote (a name not followed by `":` at once), or a
// name with an upper-case letter. Without any, every name ends in `":` exactly, and
// their count against the decoded map tells whether one was repeated.
var (
	strictSuspect = regexp.MustCompile(`\\|"\s|"[^"]*[A-Z][^"]*":`)
	quoteColon    = []byte(`":`)
)

// strictClaims reports whether the payload, decoded into claims, keeps the rule: the
// cheap look first (one regexp, one count: native calls under Yaegi), the full one
// only when it cannot tell.
func strictClaims(payload []byte, claims map[string]interface{}) bool {
	if !strictSuspect.Match(payload) && bytes.Count(payload, quoteColon) == len(claims) {
		return true
	}
	return strictWalk(payload)
}

// readNames are the claims read here, whose spelling is checked.
var readNames = map[string]bool{"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true, "iat": true,
	"jti": true, "client_id": true, "scope": true, "login": true, "name": true}

// strictWalk reads the payload's top-level names one by one.
func strictWalk(payload []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(payload))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		name, isName := t.(string)
		if !isName || seen[name] {
			return false
		}
		seen[name] = true
		lower := strings.ToLower(name)
		if lower != name && readNames[lower] {
			return false
		}
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return false
		}
	}
	return true
}
