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

// TestAuthContainerEnvironment builds authsvc and starts it with exactly the
// environment compose gives the auth container (from .env.example), moved onto
// loopback: listen address and Redis URL point at a real redis-server running the
// redis service's own command line. The auth service's healthcheck command must then
// pass, and fail once Redis is gone: authsvc accepts the stack's configuration, and
// the healthcheck checks Redis, not just the port.
func TestAuthContainerEnvironment(t *testing.T) {
	st, _ := loadStack(t)
	_, redisPort, stopRedis := startRedis(t, st)

	dir := t.TempDir()
	bin := filepath.Join(dir, "authsvc")
	build := exec.Command("go", "build", "-o", bin, "./authsvc")
	build.Dir = repoPath(t, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./authsvc: %v\n%s", err, out)
	}

	auth := st.Project.Services["auth"]
	port := freePorts(t, 1)[0]
	env := []string{"HOME=" + dir}
	for _, k := range sortedNames(auth.Environment) {
		v := ""
		if p := auth.Environment[k]; p != nil {
			v = *p
		}
		switch k {
		case "LISTEN_ADDR":
			if v != ":8000" {
				t.Errorf("LISTEN_ADDR = %q, want :8000 (the port the labels and healthcheck use)", v)
			}
			v = fmt.Sprintf("127.0.0.1:%d", port)
		case "REDIS_URL":
			v = fmt.Sprintf("redis://127.0.0.1:%d/0", redisPort)
		}
		env = append(env, k+"="+v)
	}
	proc := startProcess(t, "authsvc", dir, env, bin)

	test := auth.HealthCheck.Test
	if len(test) < 3 || test[0] != "CMD" || !strings.Contains(test[len(test)-1], "127.0.0.1:8000/health") {
		t.Fatalf("auth healthcheck %q, want CMD … http://127.0.0.1:8000/health", test)
	}
	if _, err := exec.LookPath(test[1]); err != nil {
		t.Fatalf("%s (the auth healthcheck's command) is not installed: `just test-stack` installs it", test[1])
	}
	check := append([]string{}, test[1:]...)
	check[len(check)-1] = strings.Replace(check[len(check)-1], ":8000", fmt.Sprintf(":%d", port), 1)
	healthcheck := func() error {
		proc.running(t, "it refused the stack's configuration")
		return runCheck(os.Environ(), check[0], check[1:]...)
	}
	waitFor(t, 60*time.Second, "auth healthcheck", healthcheck)

	stopRedis()
	waitFor(t, 30*time.Second, "auth healthcheck failing without Redis", func() error {
		if healthcheck() == nil {
			return fmt.Errorf("healthcheck still passes with Redis stopped")
		}
		return nil
	})
}
