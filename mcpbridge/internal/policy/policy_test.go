package policy

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{"write_file", "x=", "x=scope:", "x=group:admins", "=any", "[=any"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	p, err := Parse(" ; ")
	if err != nil || p.Active() {
		t.Errorf("empty policy: %v, active %v", err, p.Active())
	}
}

func TestAllowed(t *testing.T) {
	p, err := Parse("write_file,edit_*=scope:fs.write; delete_*=user:alice,id:42; secret=none; admin/*=user:root; *=scope:mcp,user:bob")
	if err != nil {
		t.Fatal(err)
	}
	alice := Caller{ID: "7", Login: "alice", Scopes: []string{"mcp"}}
	writer := Caller{ID: "8", Login: "carol", Scopes: []string{"mcp", "fs.write"}}
	bob := Caller{ID: "9", Login: "bob"}
	user42 := Caller{ID: "42", Login: "dave"}
	nobody := Caller{ID: "10", Login: "eve"}
	tests := []struct {
		tool string
		c    Caller
		ok   bool
		why  string
	}{
		{"write_file", writer, true, ""},
		{"write_file", alice, false, "scope fs.write"},
		{"edit_notes", writer, true, ""},
		{"edit_notes", bob, false, "scope fs.write"}, // first match decides, not *=user:bob
		{"delete_entities", alice, true, ""},
		{"delete_entities", user42, true, ""},
		{"delete_entities", writer, false, "user alice or user id 42"},
		{"secret", alice, false, "nobody may call it"},
		{"admin/reset", alice, false, "user root"},
		{"admin", alice, true, ""}, // * does not stop at /, admin/* needs the slash
		{"read_file", alice, true, ""},
		{"read_file", bob, true, ""},
		{"read_file", nobody, false, "scope mcp or user bob"},
		{"Write_File", writer, true, ""}, // names are case-sensitive: only * matches it
	}
	for _, tc := range tests {
		ok, why := p.Allowed(tc.tool, tc.c)
		if ok != tc.ok || !strings.Contains(why, tc.why) || (!ok && !strings.Contains(why, tc.tool)) {
			t.Errorf("Allowed(%q, %s) = %v %q, want %v with %q", tc.tool, tc.c.Login, ok, why, tc.ok, tc.why)
		}
	}
	var none *Policy
	if ok, _ := none.Allowed("anything", nobody); !ok {
		t.Error("a nil policy refused a tool")
	}
}

func TestFilterTools(t *testing.T) {
	p, err := Parse("write_*=scope:fs.write")
	if err != nil {
		t.Fatal(err)
	}
	in := json.RawMessage(`{"tools":[{"name":"read_file"},{"name":"write_file","x":1},{"name":"write_notes"}],"cacheScope":"public","ttlMs":5}`)
	var out struct {
		Tools []struct{ Name string } `json:"tools"`
		Scope string                  `json:"cacheScope"`
		TTL   int                     `json:"ttlMs"`
	}
	if err := json.Unmarshal(p.FilterTools(in, Caller{Login: "a"}), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Tools) != 1 || out.Tools[0].Name != "read_file" || out.Scope != "private" || out.TTL != 5 {
		t.Errorf("filtered = %+v", out)
	}
	if got := p.FilterTools(json.RawMessage(`not json`), Caller{}); string(got) != "not json" {
		t.Errorf("unreadable result changed: %s", got)
	}
	all := p.FilterTools(in, Caller{Scopes: []string{"fs.write"}})
	if n := strings.Count(string(all), `"name"`); n != 3 {
		t.Errorf("a caller with the scope sees %d tools: %s", n, all)
	}
}
