package auth

import (
	"fmt"
	"strings"
	"testing"
)

func TestApprovals(t *testing.T) {
	a, b := "https://a.example/mcp", "https://b.example/mcp"
	// A value stored before resources were remembered approved the default audience.
	if !Approved("read", "read", nil) || Approved("read", "read", []string{a}) {
		t.Error("a bare-scope approval must cover the default audience only")
	}
	s := WithApproval("", "read", []string{a})
	s = WithApproval(s, "read write", []string{b})
	for _, tc := range []struct {
		scope string
		res   []string
		want  bool
	}{
		{"read", []string{a}, true},
		{"read write", []string{b}, true},
		{"write", []string{a}, false},   // write was approved for b only
		{"read", []string{a, b}, false}, // no single approval covers a and b
		{"read", nil, false},            // default audience never approved
		{"", []string{b}, true},         // no scope
		{"read", []string{"https://c/mcp"}, false},
	} {
		if got := Approved(s, tc.scope, tc.res); got != tc.want {
			t.Errorf("approved(%q, %v) = %v, want %v (stored %s)", tc.scope, tc.res, got, tc.want, s)
		}
	}
	// A wider approval replaces what it covers; the list stays bounded.
	s = WithApproval(s, "read write", []string{a, b})
	if n := strings.Count(s, `"scope"`); n != 1 {
		t.Errorf("after a covering approval %d approvals remain: %s", n, s)
	}
	for i := range 3 * maxApprovals {
		s = WithApproval(s, "read", []string{fmt.Sprintf("https://r%d.example/mcp", i)})
	}
	if n := strings.Count(s, `"scope"`); n != maxApprovals || !Approved(s, "read", []string{fmt.Sprintf("https://r%d.example/mcp", 3*maxApprovals-1)}) {
		t.Errorf("%d approvals kept, want the newest %d", n, maxApprovals)
	}
}
