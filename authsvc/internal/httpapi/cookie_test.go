package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestCookies(t *testing.T) {
	secret := []byte(strings.Repeat("k", 32))
	for _, secure := range []bool{true, false} {
		c, err := newCookies(secret, secure)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		c.Set(rec, SessionCookie, "sid-123", time.Hour)
		set := rec.Result().Cookies()[0]
		wantName := SessionCookie
		if secure {
			wantName = "__Host-" + SessionCookie
		}
		if set.Name != wantName || set.Secure != secure || !set.HttpOnly || set.SameSite != http.SameSiteLaxMode || set.Path != "/" || set.Domain != "" || set.MaxAge != 3600 {
			t.Fatalf("secure=%v: cookie %+v, want %s, HttpOnly, Lax, Path=/, no Domain, 1h", secure, set, wantName)
		}
		tests := []struct {
			name  string
			value string
			want  bool
		}{
			{"as issued", set.Value, true},
			{"value changed", strings.Replace(set.Value, "sid-123", "sid-124", 1), false},
			{"signature cut", strings.Split(set.Value, ".")[0], false},
			{"signed for another name", signedAs(c, LoginCookie, "sid-123"), false},
			{"empty", "", false},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				req.AddCookie(&http.Cookie{Name: wantName, Value: tc.value})
				v, ok := c.Get(req, SessionCookie)
				if ok != tc.want || (ok && v != "sid-123") {
					t.Fatalf("Get = %q, %v; want ok=%v", v, ok, tc.want)
				}
			})
		}
		other, _ := newCookies([]byte(strings.Repeat("o", 32)), secure)
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.AddCookie(&http.Cookie{Name: wantName, Value: set.Value})
		if _, ok := other.Get(req, SessionCookie); ok {
			t.Fatal("a cookie signed with another secret was accepted")
		}
	}
	if _, err := newCookies([]byte("short"), true); err == nil {
		t.Fatal("New accepted a short secret")
	}
}

func signedAs(c *Cookies, base, value string) string {
	return value + "." + c.sign(c.Name(base), value)
}
