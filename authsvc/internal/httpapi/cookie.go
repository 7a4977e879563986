// cookie.go handles authsvc's browser cookies: the GitHub-login binding cookie
// and the session cookie that follows a login. Values are random ids signed with
// HMAC-SHA256, so a cookie that was not issued by authsvc is rejected before any
// Redis lookup. Cookies are HttpOnly, SameSite=Lax, Path=/ and carry the __Host-
// prefix (hence Secure and no Domain) when the issuer is https; a plain-http loopback
// issuer cannot set Secure cookies, so there the names lose the prefix.

package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"
)

// Cookie base names; [Cookies.Name] adds the prefix.
const (
	LoginCookie   = "mcpgw_login"
	SessionCookie = "mcpgw_session"
)

// Cookies signs, sets and reads authsvc's cookies.
type Cookies struct {
	secret []byte
	secure bool
}

// newCookies returns cookies signed with secret (at least 32 bytes); secure is true for an
// https issuer.
func newCookies(secret []byte, secure bool) (*Cookies, error) {
	if len(secret) < 32 {
		return nil, errors.New("session: secret must be at least 32 bytes")
	}
	return &Cookies{secret: secret, secure: secure}, nil
}

// Name returns the cookie name as sent: "__Host-"+base when secure.
func (c *Cookies) Name(base string) string {
	if c.secure {
		return "__Host-" + base
	}
	return base
}

func (c *Cookies) sign(name, value string) string {
	m := hmac.New(sha256.New, c.secret)
	m.Write([]byte(name + "\x00" + value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Set writes cookie base with value, valid for maxAge.
func (c *Cookies) Set(w http.ResponseWriter, base, value string, maxAge time.Duration) {
	name := c.Name(base)
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value + "." + c.sign(name, value),
		Path:     "/",
		MaxAge:   int(maxAge / time.Second),
		Secure:   c.secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}

// Clear deletes cookie base.
func (c *Cookies) Clear(w http.ResponseWriter, base string) {
	http.SetCookie(w, &http.Cookie{Name: c.Name(base), Value: "", Path: "/", MaxAge: -1,
		Secure: c.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// Get returns the value of cookie base if it is present and its signature holds.
func (c *Cookies) Get(r *http.Request, base string) (string, bool) {
	name := c.Name(base)
	ck, err := r.Cookie(name)
	if err != nil {
		return "", false
	}
	value, sig, ok := strings.Cut(ck.Value, ".")
	if !ok || value == "" {
		return "", false
	}
	if !hmac.Equal([]byte(sig), []byte(c.sign(name, value))) {
		return "", false
	}
	return value, true
}
