package contract

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// HeaderIdentitySignature carries the edge's proof of the identity headers it injected:
// "t=<unix seconds>,v1=<base64url HMAC-SHA256>", keyed with the secret the mcpauth
// plugin (identitySecret) and the bridges (MCPBRIDGE_IDENTITY_SECRET) share. A bridge
// that has the secret serves only requests whose identity verifies, so that a caller
// who reaches it without passing the edge (another container on its network, a
// mis-routed request) cannot name a user. The plugin keeps its own copy of the
// signing code (it must stay self-contained); a plugin test checks it against
// [VerifyIdentity].
const HeaderIdentitySignature = "X-Auth-Identity-Signature"

// IdentityMaxAge is how far a signature's time may lie from the verifier's clock, in
// either direction: the edge signs just before forwarding, so only clock skew and
// queueing separate the two.
const IdentityMaxAge = 60 * time.Second

// Errors of [VerifyIdentity].
var (
	ErrIdentityUnsigned = errors.New("the identity headers are not signed by the gateway's edge")
	ErrIdentityBad      = errors.New("the identity signature does not verify")
	ErrIdentityStale    = errors.New("the identity signature is too old or from the future")
)

// identityPayload is what the signature covers: a version tag, the time, the request's
// method, host and path, and the values of the five identity headers in
// [IdentityHeaders] order (several values of one header joined by ", "). Header values
// cannot contain newlines, so the fields cannot run into each other.
func identityPayload(ts int64, method, host, path string, values [][]string) []byte {
	var b strings.Builder
	b.WriteString("mcpauth-identity-v1\n")
	b.WriteString(strconv.FormatInt(ts, 10))
	for _, s := range []string{method, host, path} {
		b.WriteByte('\n')
		b.WriteString(s)
	}
	for _, v := range values {
		b.WriteByte('\n')
		b.WriteString(strings.Join(v, ", "))
	}
	return []byte(b.String())
}

func identityMAC(key []byte, ts int64, method, host, path string, values [][]string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(identityPayload(ts, method, host, path, values))
	return m.Sum(nil)
}

// SignIdentity returns the [HeaderIdentitySignature] value for a request at ts (unix
// seconds) whose identity header values are values (in [IdentityHeaders] order).
func SignIdentity(key []byte, ts int64, method, host, path string, values [][]string) string {
	return "t=" + strconv.FormatInt(ts, 10) + ",v1=" +
		base64.RawURLEncoding.EncodeToString(identityMAC(key, ts, method, host, path, values))
}

// VerifyIdentity checks a [HeaderIdentitySignature] value against the request it came
// with, at now.
func VerifyIdentity(key []byte, sig string, now time.Time, method, host, path string, values [][]string) error {
	if sig == "" {
		return ErrIdentityUnsigned
	}
	ts, mac, ok := parseSignature(sig)
	if !ok {
		return ErrIdentityBad
	}
	if d := now.Sub(time.Unix(ts, 0)); d > IdentityMaxAge || d < -IdentityMaxAge {
		return ErrIdentityStale
	}
	if !hmac.Equal(mac, identityMAC(key, ts, method, host, path, values)) {
		return ErrIdentityBad
	}
	return nil
}

func parseSignature(sig string) (int64, []byte, bool) {
	t, v, ok := strings.Cut(sig, ",")
	if !ok || !strings.HasPrefix(t, "t=") || !strings.HasPrefix(v, "v1=") {
		return 0, nil, false
	}
	ts, err := strconv.ParseInt(t[2:], 10, 64)
	if err != nil {
		return 0, nil, false
	}
	mac, err := base64.RawURLEncoding.DecodeString(v[3:])
	if err != nil || len(mac) != sha256.Size {
		return 0, nil, false
	}
	return ts, mac, true
}
