package labels

import (
	"errors"
	"testing"
)

func TestParseRuleMatches(t *testing.T) {
	const rule = "Host(`auth.example.com`) && (PathPrefix(`/register`) || Path(\"/health\")) && !PathPrefix(`/register/admin`)"
	r, err := ParseRule(rule)
	if err != nil {
		t.Fatalf("ParseRule: %v", err)
	}
	tests := []struct {
		name string
		q    Request
		want bool
	}{
		{"prefix", Request{"auth.example.com", "/register"}, true},
		{"prefix below", Request{"auth.example.com", "/register/abc"}, true},
		{"host is case-insensitive", Request{"AUTH.Example.COM", "/register"}, true},
		{"exact path", Request{"auth.example.com", "/health"}, true},
		{"exact path only", Request{"auth.example.com", "/health/x"}, false},
		{"negation", Request{"auth.example.com", "/register/admin"}, false},
		{"other host", Request{"everything.example.com", "/register"}, false},
		{"other path", Request{"auth.example.com", "/verify"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.Match(tc.q); got != tc.want {
				t.Errorf("Match(%+v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
	if got, want := r.Hosts(), []string{"auth.example.com"}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("Hosts() = %v, want %v", got, want)
	}
}

func TestParseRuleRefuses(t *testing.T) {
	tests := []struct{ name, rule string }{
		{"empty", ""},
		{"misspelt matcher", "Pathprefix(`/mcp`)"},
		{"unsupported matcher", "HostRegexp(`.*`)"},
		{"v2 multi-argument", "PathPrefix(`/a`, `/b`)"},
		{"unquoted", "Path(/mcp)"},
		{"unterminated", "Path(`/mcp)"},
		{"missing paren", "Host(`a`) && (Path(`/b`)"},
		{"dangling operator", "Host(`a`) &&"},
		{"single ampersand", "Host(`a`) & Path(`/b`)"},
		{"relative path", "PathPrefix(`mcp`)"},
		{"empty argument", "Host(``)"},
		{"trailing junk", "Host(`a`) x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseRule(tc.rule); !errors.Is(err, ErrRule) {
				t.Errorf("ParseRule(%q) error = %v, want ErrRule", tc.rule, err)
			}
		})
	}
}

// FuzzParseRule: rules come from labels a person typed; the parser must never panic
// and a rule it accepts must evaluate without panicking.
func FuzzParseRule(f *testing.F) {
	for _, s := range []string{
		"Host(`a.example.com`) && PathPrefix(`/mcp`)",
		"(Path(`/a`) || !Path(\"/b\")) && Host(`x`)",
		"PathPrefix(`/a`, `/b`)",
		"((((",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRule(s)
		if err != nil {
			return
		}
		r.Match(Request{Host: "a.example.com", Path: "/mcp"})
		r.Hosts()
	})
}
