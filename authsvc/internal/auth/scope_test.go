package auth

import (
	"net/url"
	"strings"
	"testing"
)

func TestMatchRedirect(t *testing.T) {
	reg := []string{"https://app.example.com/cb", "http://127.0.0.1:8000/cb", "http://[::1]:9000/cb?x=1", "http://localhost/callback"}
	tests := []struct {
		uri  string
		want bool
	}{
		{"https://app.example.com/cb", true},
		{"http://127.0.0.1:8000/cb", true},
		{"http://127.0.0.1:54321/cb", true},
		{"http://127.0.0.1/cb", true},
		{"http://[::1]:1234/cb?x=1", true},
		{"http://[::1]:1234/cb?x=2", false},
		{"http://127.0.0.1:54321/cb/", false},
		{"http://127.0.0.2:8000/cb", false},
		{"http://localhost:8000/cb", false}, // localhost was registered with /callback only
		{"http://localhost:33418/callback", true},
		{"http://localhost/callback", true},
		{"http://localhost:33418/callback/x", false},
		{"http://127.0.0.1:33418/callback", false}, // the host must be the registered one
		{"http://localhost.evil.example:33418/callback", false},
		{"https://localhost:33418/callback", false},
		{"http://user@127.0.0.1:8000/cb", false},
		{"http://127.0.0.1:80a/cb", false},
		{"https://127.0.0.1:8000/cb", false},
		{"https://app.example.com:443/cb", false},
		{"https://app.example.com/cb#x", false},
	}
	for _, tc := range tests {
		t.Run(tc.uri, func(t *testing.T) {
			if got := MatchRedirect(reg, tc.uri); got != tc.want {
				t.Fatalf("MatchRedirect(%q) = %v, want %v", tc.uri, got, tc.want)
			}
		})
	}
}

func TestParseScope(t *testing.T) {
	tests := []struct {
		requested, registered, want string
		ok                          bool
	}{
		{"read  write read", "", "read write", true},
		{"read", "read write", "read", true},
		{"admin", "read write", "", false},
		{`re"ad`, "", "", false},
		{"", "read", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.requested, func(t *testing.T) {
			got, err := ParseScope(tc.requested, tc.registered)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("ParseScope(%q, %q) = %q, %v; want %q ok=%v", tc.requested, tc.registered, got, err, tc.want, tc.ok)
			}
		})
	}
}

func FuzzParseResources(f *testing.F) {
	for _, s := range []string{"https://a.example/mcp", "urn:x:y", "/rel", "https://a#b", "http://u@h/", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := ParseResources([]string{s})
		if err != nil {
			return
		}
		u, perr := url.Parse(out[0])
		if perr != nil || !u.IsAbs() || strings.ContainsAny(out[0], "# \t\r\n") {
			t.Fatalf("accepted %q", s)
		}
	})
}

func FuzzMatchRedirect(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:1/cb", "https://app.example.com/cb", "http://127.0.0.1:1/cb/..", "http://[::1]/cb"} {
		f.Add(s)
	}
	reg := []string{"https://app.example.com/cb", "http://127.0.0.1:8000/cb"}
	f.Fuzz(func(t *testing.T, s string) {
		if !MatchRedirect(reg, s) || s == reg[0] || s == reg[1] {
			return
		}
		// Anything else that matches must be the loopback URI with another port.
		u, err := url.Parse(s)
		if err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" || u.Path != "/cb" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			t.Fatalf("MatchRedirect accepted %q", s)
		}
	})
}

func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"read write", "  a  b a ", `x"y`, "é", ""} {
		f.Add(s, "read write")
	}
	f.Fuzz(func(t *testing.T, requested, registered string) {
		got, err := ParseScope(requested, registered)
		if err != nil {
			return
		}
		if strings.Contains(got, "  ") || strings.HasPrefix(got, " ") || strings.HasSuffix(got, " ") {
			t.Fatalf("ParseScope(%q) = %q, not normalised", requested, got)
		}
		for i := 0; i < len(got); i++ {
			if got[i] < 0x20 || got[i] > 0x7e || got[i] == '"' || got[i] == '\\' {
				t.Fatalf("ParseScope(%q) = %q, has a forbidden byte", requested, got)
			}
		}
		if strings.TrimSpace(registered) != "" && !ScopeCovers(registered, got) {
			t.Fatalf("ParseScope(%q, %q) = %q, beyond the registration", requested, registered, got)
		}
	})
}

func TestParseResourcesCase(t *testing.T) {
	out, err := ParseResources([]string{"HTTPS://Files.Example.COM/MCP?X=Y", "https://files.example.com/MCP?X=Y", "urn:X:Y"})
	if err != nil {
		t.Fatal(err)
	}
	// Scheme and host fold to lower case (one resource, not two); path, query and URNs
	// stay as sent.
	if strings.Join(out, " ") != "https://files.example.com/MCP?X=Y urn:X:Y" {
		t.Errorf("ParseResources = %q", out)
	}
	out, err = ParseResources([]string{"https://A.example"})
	if err != nil || out[0] != "https://a.example" {
		t.Errorf("host only: %q %v", out, err)
	}
}
