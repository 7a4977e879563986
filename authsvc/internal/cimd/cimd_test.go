package cimd

import (
	"net/http"
	"testing"
	"time"
)

func TestCacheFor(t *testing.T) {
	for cc, want := range map[string]time.Duration{
		"":                          DefaultCache,
		"no-store":                  0,
		"private, no-cache":         0,
		"max-age=600":               10 * time.Minute,
		"public, max-age=5":         MinCache,
		"max-age=99999999":          MaxCache,
		"max-age=junk":              DefaultCache,
		"Public, Max-Age=7200, x=y": 2 * time.Hour,
	} {
		h := http.Header{}
		if cc != "" {
			h.Set("Cache-Control", cc)
		}
		if got := cacheFor(h); got != want {
			t.Errorf("Cache-Control %q: %v, want %v", cc, got, want)
		}
	}
}

func TestGuard(t *testing.T) {
	strict, open := guard(false), guard(true)
	for addr, public := range map[string]bool{
		"127.0.0.1:443": false, "[::1]:443": false, "10.1.2.3:443": false, "172.16.0.9:443": false,
		"192.168.1.1:443": false, "169.254.169.254:80": false, "[fe80::1]:443": false, "0.0.0.0:443": false,
		"[fc00::1]:443": false, "224.0.0.1:443": false, "93.184.216.34:443": true, "[2606:4700::1111]:443": true,
	} {
		if err := strict("tcp", addr, nil); (err == nil) != public {
			t.Errorf("guard(%s) = %v, want public %v", addr, err, public)
		}
		if err := open("tcp", addr, nil); err != nil {
			t.Errorf("with private addresses allowed, guard(%s) = %v", addr, err)
		}
	}
}
