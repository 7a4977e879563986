package contract

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestIdentitySignature(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	now := time.Unix(1_800_000_000, 0)
	vals := [][]string{{"4242"}, {"octocat"}, {"The Octocat"}, {"client-1"}, {"mcp"}}
	sig := SignIdentity(key, now.Unix(), "POST", "memory.example.com", "/mcp", vals)
	if err := VerifyIdentity(key, sig, now.Add(30*time.Second), "POST", "memory.example.com", "/mcp", vals); err != nil {
		t.Fatalf("a fresh signature of the same request: %v", err)
	}
	other := func(i int, v string) [][]string {
		c := append([][]string{}, vals...)
		c[i] = []string{v}
		return c
	}
	cases := []struct {
		name               string
		key                []byte
		sig                string
		at                 time.Time
		method, host, path string
		values             [][]string
		want               error
	}{
		{"unsigned", key, "", now, "POST", "memory.example.com", "/mcp", vals, ErrIdentityUnsigned},
		{"another user", key, sig, now, "POST", "memory.example.com", "/mcp", other(0, "1"), ErrIdentityBad},
		{"another login", key, sig, now, "POST", "memory.example.com", "/mcp", other(1, "mallory"), ErrIdentityBad},
		{"another scope", key, sig, now, "POST", "memory.example.com", "/mcp", other(4, "mcp admin"), ErrIdentityBad},
		{"another host", key, sig, now, "POST", "files.example.com", "/mcp", vals, ErrIdentityBad},
		{"another path", key, sig, now, "POST", "memory.example.com", "/other", vals, ErrIdentityBad},
		{"another method", key, sig, now, "DELETE", "memory.example.com", "/mcp", vals, ErrIdentityBad},
		{"another key", []byte(strings.Repeat("x", 32)), sig, now, "POST", "memory.example.com", "/mcp", vals, ErrIdentityBad},
		{"stale", key, sig, now.Add(61 * time.Second), "POST", "memory.example.com", "/mcp", vals, ErrIdentityStale},
		{"from the future", key, sig, now.Add(-61 * time.Second), "POST", "memory.example.com", "/mcp", vals, ErrIdentityStale},
		{"garbage", key, "t=1,v1=!!", now, "POST", "memory.example.com", "/mcp", vals, ErrIdentityBad},
		{"no version", key, strings.Replace(sig, "v1=", "v2=", 1), now, "POST", "memory.example.com", "/mcp", vals, ErrIdentityBad},
		{"short mac", key, sig[:len(sig)-4], now, "POST", "memory.example.com", "/mcp", vals, ErrIdentityBad},
	}
	for _, c := range cases {
		if err := VerifyIdentity(c.key, c.sig, c.at, c.method, c.host, c.path, c.values); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// Retimed: the time is covered by the MAC.
	retimed := "t=" + "1800000001" + sig[strings.Index(sig, ","):]
	if err := VerifyIdentity(key, retimed, now, "POST", "memory.example.com", "/mcp", vals); !errors.Is(err, ErrIdentityBad) {
		t.Errorf("retimed signature: %v", err)
	}
}
