package mcpauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"time"
)

// identitySignatureHeader carries the edge's proof of the identity it injected. The
// format and the signed bytes are the gateway's shared contract (the root module's
// internal/contract, which the bridge verifies with); the plugin keeps this copy as it
// must stay self-contained, and TestSignatureMatchesContract checks the two agree.
const identitySignatureHeader = "X-Auth-Identity-Signature"

// signIdentity sets the signature header on r: "t=<unix seconds>,v1=<base64url
// HMAC-SHA256>" over a version tag, the time, the method, host and path, and the
// identity header values in their fixed order (signedValues: "\n" before each). One
// concatenation and native calls: under Yaegi every statement costs.
func signIdentity(key []byte, r *http.Request, signedValues string) {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("mcpauth-identity-v1\n" + ts + "\n" + r.Method + "\n" + r.Host + "\n" + r.URL.Path + signedValues))
	r.Header[identitySignatureHeader] = []string{"t=" + ts + ",v1=" + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))}
}
