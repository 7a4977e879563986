package streamable

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestParamHeaders(t *testing.T) {
	var p paramHeaders
	p.observe(json.RawMessage(`{"tools":[
		{"name":"sql","inputSchema":{"type":"object","properties":{
			"region":{"type":"string","x-mcp-header":"Region"},
			"limit":{"type":"integer","x-mcp-header":"limit"},
			"opts":{"type":"object","properties":{"dry":{"type":"boolean","x-mcp-header":"Dry-Run"}}},
			"query":{"type":"string"}}}},
		{"name":"plain","inputSchema":{"type":"object","properties":{"a":{"type":"string"}}}}]}`))
	args := `{"region":"us-west1","limit":42,"opts":{"dry":true},"query":"SELECT 1"}`
	full := map[string]string{"Mcp-Param-Region": "us-west1", "MCP-PARAM-LIMIT": "42.0", "mcp-param-dry-run": "true"}
	tests := []struct {
		name    string
		tool    string
		headers map[string]string
		args    string
		want    string // "" = valid, else a part of the reason
	}{
		{"all headers match (case-insensitive names, numbers compared numerically)", "sql", full, args, ""},
		{"Base64 form", "sql", with(full, "Mcp-Param-Region", "=?base64?dXMtd2VzdDE=?="), args, ""},
		{"a header missing", "sql", without(full, "Mcp-Param-Region"), args, "header is required"},
		{"a value that differs", "sql", with(full, "Mcp-Param-Region", "eu-west1"), args, "does not match"},
		{"a number that differs", "sql", with(full, "MCP-PARAM-LIMIT", "43"), args, "does not match"},
		{"a nested boolean that differs", "sql", with(full, "mcp-param-dry-run", "false"), args, "does not match"},
		{"a bad Base64 value", "sql", with(full, "Mcp-Param-Region", "=?base64?dXMt!!?="), args, "malformed"},
		{"a control character", "sql", with(full, "Mcp-Param-Region", "us\twest1"), args, "malformed"},
		{"a header for an absent argument", "sql", full, `{"limit":42,"opts":{"dry":true}}`, "has no value"},
		{"null counts as absent", "sql", without(full, "Mcp-Param-Region"), `{"region":null,"limit":42,"opts":{"dry":true}}`, ""},
		{"a tool without annotations", "plain", nil, `{"a":"x"}`, ""},
		{"an unknown tool", "nope", nil, `{}`, ""},
	}
	for _, tc := range tests {
		h := http.Header{}
		for k, v := range tc.headers {
			h.Set(k, v)
		}
		got := p.check(h, tc.tool, json.RawMessage(tc.args))
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: check = %q, want %q", tc.name, got, tc.want)
		}
	}
	// A later list without the annotations forgets them.
	p.observe(json.RawMessage(`{"tools":[{"name":"sql","inputSchema":{"type":"object"}}]}`))
	if got := p.check(http.Header{}, "sql", json.RawMessage(args)); got != "" {
		t.Errorf("after the annotations went: %q", got)
	}
}

func with(h map[string]string, k, v string) map[string]string {
	out := map[string]string{}
	for a, b := range h {
		out[a] = b
	}
	out[k] = v
	return out
}

func without(h map[string]string, k string) map[string]string {
	out := with(h, k, "")
	delete(out, k)
	return out
}
