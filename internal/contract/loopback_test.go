package contract

import "testing"

func TestIsLoopbackHost(t *testing.T) {
	cases := map[string]bool{
		"localhost": true, "LOCALHOST": true, "auth.localhost": true, "localhost.": true,
		"127.0.0.1": true, "127.255.0.9": true, "::1": true, "[::1]": true, "::ffff:127.0.0.1": true,
		"localhost.evil.com": false, "evil-localhost": false, "127.0.0.1.nip.io": false,
		"128.0.0.1": false, "0.0.0.0": false, "::": false, "10.0.0.1": false, "": false,
		"fe80::1%lo": false, "[::1%lo]": false, "0x7f.1": false, "2130706433": false,
	}
	for host, want := range cases {
		if got := IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestIsLoopbackURL(t *testing.T) {
	for u, want := range map[string]bool{
		"http://localhost:8080": true, "http://auth.localhost": true, "http://127.0.0.1": true, "http://[::1]:80": true,
		"https://example.com": false, "http://localhost.example.com": false, "http://10.0.0.1": false,
		"http://[::1": false, "": false,
	} {
		if got := IsLoopbackURL(u); got != want {
			t.Errorf("IsLoopbackURL(%q) = %v, want %v", u, got, want)
		}
	}
}
