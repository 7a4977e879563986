// Package auth is authsvc's domain: the types of an OAuth grant's life (Client,
// AuthRequest, Code, AccessRecord, RefreshRecord, Grant), the rules every endpoint
// applies (scope and resource parsing, redirect URI rules, PKCE, ids, secret hashing)
// and the protocol error type. It imports no other authsvc package; storage
// (authsvc/internal/store) and the HTTP handlers are built around it.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
)

var (
	// ErrNotFound means the record does not exist, or its TTL passed.
	ErrNotFound = errors.New("store: not found")
	// ErrExists means a record with that id already exists.
	ErrExists = errors.New("store: already exists")
	// ErrUnavailable matches (errors.Is) every error caused by Redis failing: down,
	// timing out, refusing. The wrapped error says which.
	ErrUnavailable error = unavailableError{}
)

// unavailableError marks storage failures. Its Unavailable method is what the HTTP
// edge looks for.
type unavailableError struct{ err error }

func (e unavailableError) Error() string {
	if e.err == nil {
		return "store: redis unavailable"
	}
	return "store: redis unavailable: " + e.err.Error()
}
func (e unavailableError) Unwrap() error        { return e.err }
func (e unavailableError) Unavailable() bool    { return true }
func (e unavailableError) Is(target error) bool { _, ok := target.(unavailableError); return ok }

// Unavailable wraps a storage failure so that it matches [ErrUnavailable].
func Unavailable(err error) error { return unavailableError{err: err} }

// HashSecret returns the hex SHA-256 of a secret for storage. A plain hash is enough
// because every secret authsvc hashes is 256 bits of randomness it generated itself:
// there is nothing to brute-force, so a slow password hash would only cost latency.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// SecretMatches reports, in constant time, whether secret hashes to hash. An empty
// hash never matches (a record without a secret accepts none).
func SecretMatches(hash, secret string) bool {
	if hash == "" || secret == "" {
		return false
	}
	got := HashSecret(secret)
	return subtle.ConstantTimeCompare([]byte(got), []byte(hash)) == 1
}

// NewID returns 32 random bytes, base64url: a session id, state or nonce.
func NewID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewTokenID returns a random access token id (jti): 18 random bytes, base64url.
func NewTokenID() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
