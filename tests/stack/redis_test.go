package stack_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/internal/labels"
)

// TestRedisCommandAndHealthcheck runs the redis service's own command line (from the
// compose model) with a real redis-server, on a loopback port and a temporary data
// directory instead of the container's, then its healthcheck: it must pass with the
// password the container gets (REDISCLI_AUTH) and fail without it, and the append-only
// file must exist, so data survives a restart.
func TestRedisCommandAndHealthcheck(t *testing.T) {
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is not installed: `just deps-redis` installs it", bin)
		}
	}
	st, env := loadStack(t)
	redis := st.Project.Services["redis"]
	dir, port, _ := startRedis(t, st)
	// The healthcheck's shell command, pointed at this port.
	hc := redis.HealthCheck.Test
	if hc[0] != "CMD-SHELL" || len(hc) != 2 {
		t.Fatalf("redis healthcheck %q, want one CMD-SHELL command", hc)
	}
	shell := strings.Replace(hc[1], "redis-cli", fmt.Sprintf("redis-cli -p %d", port), 1)
	check := func(auth string) error {
		cmd := exec.Command("sh", "-c", shell)
		cmd.Env = append(os.Environ(), "REDISCLI_AUTH="+auth)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	password := *redis.Environment["REDISCLI_AUTH"]
	if password != env["REDIS_PASSWORD"] {
		t.Fatalf("REDISCLI_AUTH is not REDIS_PASSWORD")
	}
	waitFor(t, 30*time.Second, "redis healthcheck with the password", func() error { return check(password) })
	if err := check("wrong-" + password); err == nil {
		t.Errorf("healthcheck passes with a wrong password: requirepass is not in effect")
	}
	if err := check(""); err == nil {
		t.Errorf("healthcheck passes without a password: requirepass is not in effect")
	}
	aof, _ := filepath.Glob(filepath.Join(dir, "appendonlydir", "*.aof"))
	if len(aof) == 0 {
		t.Errorf("no append-only file under %s/appendonlydir: --appendonly is not in effect", dir)
	}
}

// startRedis runs the redis service's command line with a real redis-server on a free
// loopback port and a temporary data directory; stop kills it early.
func startRedis(t *testing.T, st *labels.Stack) (dir string, port int, stop func()) {
	t.Helper()
	redis := st.Project.Services["redis"]
	if len(redis.Command) == 0 || redis.Command[0] != "redis-server" {
		t.Fatalf("redis command %q does not start redis-server", redis.Command)
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server is not installed: `just deps-redis` installs it")
	}
	dir = t.TempDir()
	port = freePorts(t, 1)[0]
	args := append(append([]string{}, redis.Command[1:]...),
		"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "")
	srv := exec.Command("redis-server", args...)
	srv.Dir = dir
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() { once.Do(func() { _ = srv.Process.Kill(); _ = srv.Wait() }) }
	t.Cleanup(stop)
	return dir, port, stop
}
