package stack_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestAuthContainerEnvironment builds authsvc and starts it with exactly the
// environment compose gives the auth container (from .env.example), moved onto
// loopback: listen address and Redis URL point at a real redis-server running the
// redis service's own command line. The auth service's healthcheck command must then
// pass, and keep passing once Redis is gone: an unhealthy container loses its Traefik
// routes, and authsvc still serves its metadata and JWKS without Redis (its readiness,
// `authsvc healthcheck -ready`, does say Redis is down).
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
	if len(test) != 3 || test[0] != "CMD" || test[1] != "authsvc" || test[2] != "healthcheck" {
		t.Fatalf("auth healthcheck %q, want CMD authsvc healthcheck (the image has no shell or wget)", test)
	}
	// The check as the container runs it: the same binary and environment.
	healthcheck := func(args ...string) error {
		proc.running(t, "it refused the stack's configuration")
		return runCheck(env, bin, append([]string{"healthcheck"}, args...)...)
	}
	waitFor(t, 60*time.Second, "auth healthcheck", func() error { return healthcheck() })
	if err := healthcheck("-ready"); err != nil {
		t.Errorf("readiness with Redis up: %v", err)
	}

	stopRedis()
	waitFor(t, 30*time.Second, "readiness failing without Redis", func() error {
		if healthcheck("-ready") == nil {
			return fmt.Errorf("readiness still passes with Redis stopped")
		}
		return nil
	})
	if err := healthcheck(); err != nil {
		t.Errorf("the container healthcheck fails without Redis (Traefik would drop authsvc's routes): %v", err)
	}
}
