package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestConfigTargets(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
		not  []string
	}{
		{"local default", nil, nil,
			[]string{"claude mcp add --transport http everything http://localhost:8081/mcp", "http://localhost:8083/mcp"}, []string{"https://"}},
		{"local port and servers", map[string]string{"RUN_PORT": "9000", "MCP_SERVERS": "memory"}, nil,
			[]string{"claude mcp add --transport http memory http://localhost:9001/mcp"}, []string{"everything"}},
		{"deployed", map[string]string{"BASE_DOMAIN": "example.com"}, nil,
			[]string{"claude mcp add --transport http time https://time.example.com/mcp", "gateway at https://auth.example.com"}, []string{"localhost"}},
		{"deployed forced local", map[string]string{"BASE_DOMAIN": "example.com"}, []string{"-local"},
			[]string{"http://localhost:8081/mcp"}, []string{"example.com"}},
		{"localhost base domain is local", map[string]string{"BASE_DOMAIN": "localhost"}, nil,
			[]string{"http://localhost:8081/mcp"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			getenv := func(k string) string { return tc.env[k] }
			if err := run(context.Background(), append([]string{"config"}, tc.args...), getenv, &out); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out.String(), n) {
					t.Errorf("output contains %q:\n%s", n, out.String())
				}
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	getenv := func(string) string { return "" }
	for _, args := range [][]string{nil, {"nope"}, {"token", "-service", "unknown"}} {
		if err := run(context.Background(), args, getenv, &bytes.Buffer{}); err == nil {
			t.Errorf("run(%q) succeeded, want an error", args)
		}
	}
}
