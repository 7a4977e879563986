package localstack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BuildArgs are the arguments of `go build` for the gateway's own programs, followed
// by extra (flags, -o, package). While GOCOVERDIR is set (`just coverage`), the
// programs are built for coverage of every package of the module (atomic counters,
// which the race detector needs and the unit tests use too), and write their
// counters to GOCOVERDIR when they exit; stack processes inherit the variable.
func BuildArgs(extra ...string) []string {
	args := []string{"build"}
	if os.Getenv("GOCOVERDIR") != "" {
		args = append(args, "-cover", "-covermode=atomic", "-coverpkg=github.com/mcp-oauth-gateway/gateway/...")
	}
	return append(args, extra...)
}

// Build compiles authsvc and mcpbridge from repoDir into outDir and returns their
// paths in a [Binaries] (Traefik and Redis are left empty).
func Build(ctx context.Context, repoDir, outDir string) (Binaries, error) {
	out, err := filepath.Abs(outDir)
	if err != nil {
		return Binaries{}, fmt.Errorf("localstack: build: %w", err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return Binaries{}, fmt.Errorf("localstack: build: %w", err)
	}
	bins := Binaries{Authsvc: filepath.Join(out, "authsvc"), Bridge: filepath.Join(out, "mcpbridge")}
	for pkg, bin := range map[string]string{"./authsvc": bins.Authsvc, "./mcpbridge": bins.Bridge} {
		cmd := exec.CommandContext(ctx, "go", BuildArgs("-o", bin, pkg)...)
		cmd.Dir = repoDir
		if b, err := cmd.CombinedOutput(); err != nil {
			return Binaries{}, fmt.Errorf("localstack: go build %s: %w\n%s", pkg, err, b)
		}
	}
	return bins, nil
}
