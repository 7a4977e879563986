// Proof Key for Code Exchange (RFC 7636). Only the S256 method exists here: OAuth 2.1
// and the MCP authorization spec refuse "plain".

package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// PKCEMethod is the only accepted code_challenge_method.
const PKCEMethod = "S256"

// ValidPKCE reports whether s is a well-formed code_verifier or code_challenge: 43 to 128
// characters from the unreserved set [A-Za-z0-9-._~] (RFC 7636 §4.1, §4.2). An S256
// challenge is always 43 characters, but the grammar allows up to 128 and a client
// that sends more gets a mismatch at the token endpoint rather than a parse error.
func ValidPKCE(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9',
			c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}

// PKCEChallenge returns the S256 challenge of verifier: BASE64URL(SHA256(verifier)).
func PKCEChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// VerifyPKCE reports whether verifier is well formed and matches challenge, comparing in
// constant time.
func VerifyPKCE(verifier, challenge string) bool {
	if !ValidPKCE(verifier) || challenge == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(PKCEChallenge(verifier)), []byte(challenge)) == 1
}
