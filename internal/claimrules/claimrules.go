// Package claimrules is the one strict rule for reading access token claims that
// authsvc (/introspect, /verify) and the mcpauth plugin at the edge both apply, so that
// a token gets the same answer everywhere: claim names are case-sensitive (RFC 7519 §4,
// RFC 8259), so a token that names a claim the gateway reads in another case, or names
// any claim twice, is refused; and a NumericDate (exp, nbf, iat) is a JSON number.
// Go's struct decoding matches names case-insensitively and takes the last of repeated
// names, and a map keeps both spellings: without this rule the edge and authsvc could
// read different claims from one token. The plugin, which must stay stdlib-only and
// loadable alone, keeps its own implementation; the shared vectors in
// internal/testsupport/jwtvectors run against both.
package claimrules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Read are the claims the gateway reads, whose spelling is checked.
var Read = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope", "login", "name"}

// NumericDates are the claims that must be JSON numbers.
var NumericDates = []string{"exp", "nbf", "iat"}

// ErrStrict wraps every refusal of [Check].
var ErrStrict = errors.New("claims refused")

// Check applies the rule to a decoded JWT payload (the JSON object).
func Check(payload []byte) error {
	dec := json.NewDecoder(bytes.NewReader(payload))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("%w: the payload is not a JSON object", ErrStrict)
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%w: %v", ErrStrict, err)
		}
		name, _ := t.(string)
		if seen[name] {
			return fmt.Errorf("%w: claim %q appears twice", ErrStrict, name)
		}
		seen[name] = true
		if lower := strings.ToLower(name); lower != name && contains(Read, lower) {
			return fmt.Errorf("%w: claim %q is %q in another case", ErrStrict, name, lower)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("%w: %v", ErrStrict, err)
		}
		if contains(NumericDates, name) && (len(v) == 0 || v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
			return fmt.Errorf("%w: %s must be a JSON number", ErrStrict, name)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
