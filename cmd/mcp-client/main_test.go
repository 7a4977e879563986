package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-oauth-gateway/gateway/internal/localstack"
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
	cache := t.TempDir() // no run file: no local gateway runs
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			getenv := func(k string) string {
				if k == "MCPGW_CACHE" {
					return cache
				}
				return tc.env[k]
			}
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

// TestConfigFindsRunningGateway: without RUN_PORT the helpers use the gateway `just
// run` says is running (its run file), and ignore a file whose processes are gone.
func TestConfigFindsRunningGateway(t *testing.T) {
	cache := t.TempDir()
	state := localstack.DefaultStateDir(func(k string) string { return map[string]string{"MCPGW_CACHE": cache}[k] })
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(pid int) {
		info := localstack.RunInfo{Issuer: "http://localhost:9200", PIDs: map[string]int{"traefik": pid},
			Services: []localstack.RunService{{Name: "memory", URL: "http://localhost:9201/mcp"}, {Name: "time", URL: "http://localhost:9202/mcp"}}}
		b, _ := json.Marshal(info)
		if err := os.WriteFile(filepath.Join(state, localstack.RunFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	config := func(env map[string]string) string {
		env["MCPGW_CACHE"] = cache
		var out bytes.Buffer
		if err := run(context.Background(), []string{"config"}, func(k string) string { return env[k] }, &out); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	write(os.Getpid()) // a live process: the gateway runs
	if out := config(map[string]string{}); !strings.Contains(out, "gateway at http://localhost:9200") ||
		!strings.Contains(out, "memory http://localhost:9201/mcp") || !strings.Contains(out, "time http://localhost:9202/mcp") {
		t.Errorf("with a running gateway on 9200:\n%s", out)
	}
	if out := config(map[string]string{"MCP_SERVERS": "time"}); strings.Contains(out, "memory") || !strings.Contains(out, "9202") {
		t.Errorf("MCP_SERVERS=time filters the running gateway's services:\n%s", out)
	}
	if out := config(map[string]string{"RUN_PORT": "9500"}); !strings.Contains(out, "localhost:9501/mcp") {
		t.Errorf("RUN_PORT wins over the run file:\n%s", out)
	}
	write(1 << 30) // no such process: the gateway is gone
	if out := config(map[string]string{}); !strings.Contains(out, "localhost:8081/mcp") {
		t.Errorf("with a stale run file, the default port:\n%s", out)
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
