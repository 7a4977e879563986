package stack_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBridgeServices runs each npm MCP service as its container would: the real
// mcpbridge with the service's own command and environment, wrapping the pinned
// official server the image installs (from scripts/install-mcp-npm.sh, the same
// versions), with the container's /data volume moved to a temporary directory and the
// listen address onto a free loopback port. The service's healthcheck command
// (`mcpbridge healthcheck`, a real MCP initialize handshake) must pass. The Python
// servers (fetch, time) need PyPI, which the development machines cannot reach.
func TestBridgeServices(t *testing.T) {
	st, _ := loadStack(t)
	dir := t.TempDir()
	binDir := filepath.Join(dir, "bin")
	build := exec.Command("go", "build", "-o", filepath.Join(binDir, "mcpbridge"), "./mcpbridge")
	build.Dir = repoPath(t, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./mcpbridge: %v\n%s", err, out)
	}
	npm, err := exec.Command(repoPath(t, "scripts/install-mcp-npm.sh"), "servers").Output()
	if err != nil {
		t.Fatalf("scripts/install-mcp-npm.sh servers (installs the pinned npm MCP servers): %v", err)
	}
	path := binDir + string(os.PathListSeparator) + filepath.Join(strings.TrimSpace(string(npm)), "node_modules", ".bin") +
		string(os.PathListSeparator) + os.Getenv("PATH")

	for _, name := range []string{"everything", "memory", "filesystem"} {
		t.Run(name, func(t *testing.T) {
			svc := st.Project.Services[name]
			data := t.TempDir()
			toLocal := func(s string) string {
				if s == "/data" || strings.HasPrefix(s, "/data/") {
					return data + strings.TrimPrefix(s, "/data")
				}
				return s
			}
			port := freePorts(t, 1)[0]
			env := []string{"PATH=" + path, "HOME=" + data, fmt.Sprintf("LISTEN_ADDR=127.0.0.1:%d", port)}
			for _, k := range sortedNames(svc.Environment) {
				if v := svc.Environment[k]; v != nil {
					env = append(env, k+"="+toLocal(*v))
				}
			}
			var args []string
			for _, a := range svc.Command {
				args = append(args, toLocal(a))
			}
			proc := startProcess(t, "mcpbridge", data, env, filepath.Join(binDir, "mcpbridge"), args...)

			hc := svc.HealthCheck.Test
			if len(hc) < 2 || hc[0] != "CMD" || hc[1] != "mcpbridge" {
				t.Fatalf("healthcheck %q, want CMD mcpbridge …", hc)
			}
			waitFor(t, 60*time.Second, name+" healthcheck", func() error {
				proc.running(t, fmt.Sprintf("with the service's command %q", args))
				return runCheck(env, filepath.Join(binDir, "mcpbridge"), hc[2:]...)
			})
		})
	}
}
