package localstack

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Prepared is what [Prepare] installed or found.
type Prepared struct {
	Bin    Binaries
	NPMDir string // the official npm MCP servers
}

// Prepare makes sure everything the local stack runs exists on this machine,
// installing what is missing through the repository's own scripts: redis-server
// (Debian package), the official npm MCP servers, Traefik (built from the Go module
// proxy, about six minutes the first time, with a progress line every 15 seconds),
// and authsvc and mcpbridge (go build into stateDir/bin). It reports each step on
// progress.
func Prepare(ctx context.Context, repoDir, stateDir string, progress io.Writer) (Prepared, error) {
	var p Prepared
	script := func(name string) string { return filepath.Join(repoDir, "scripts", name) }

	fmt.Fprintln(progress, "• redis-server: checking (installs the Debian package if missing)")
	if _, err := runScript(ctx, progress, "redis-server", 0, script("ensure-apt.sh"), "redis-server", "redis-server"); err != nil {
		return p, err
	}
	redis, err := exec.LookPath("redis-server")
	if err != nil {
		return p, fmt.Errorf("localstack: redis-server still missing: %w", err)
	}
	p.Bin.Redis = redis

	fmt.Fprintln(progress, "• MCP servers: checking the official npm servers (installs them if missing)")
	npm, err := runScript(ctx, progress, "npm servers", 30*time.Second, script("install-mcp-npm.sh"), "servers")
	if err != nil {
		return p, err
	}
	p.NPMDir = npm

	fmt.Fprintln(progress, "• Traefik v3.6.12: checking the cached binary (the first build takes about 6 minutes)")
	traefik, err := runScript(ctx, progress, "Traefik build", 15*time.Second, script("build-traefik.sh"))
	if err != nil {
		return p, err
	}
	p.Bin.Traefik = traefik

	fmt.Fprintln(progress, "• authsvc, mcpbridge: go build")
	bins, err := Build(ctx, repoDir, filepath.Join(stateDir, "bin"))
	if err != nil {
		return p, err
	}
	p.Bin.Authsvc, p.Bin.Bridge = bins.Authsvc, bins.Bridge
	return p, nil
}

// runScript runs a script that prints one result line on stdout, passing its
// stderr through to progress and, when tick > 0, printing how long it has been
// running every tick so a slow first-time step visibly progresses.
func runScript(ctx context.Context, progress io.Writer, what string, tick time.Duration, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	stderr := prefixWriter(progress, "  ")
	defer stderr.Close()
	cmd.Stderr = stderr
	cmd.Env = os.Environ()
	var out strings.Builder
	cmd.Stdout = &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("localstack: %s: %w", what, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var tc <-chan time.Time
	if tick > 0 {
		t := time.NewTicker(tick)
		defer t.Stop()
		tc = t.C
	}
	for {
		select {
		case err := <-done:
			if err != nil {
				return "", fmt.Errorf("localstack: %s failed: %w", what, err)
			}
			return strings.TrimSpace(lastLine(out.String())), nil
		case <-tc:
			fmt.Fprintf(progress, "  … %s still running (%s elapsed)\n", what, time.Since(start).Round(time.Second))
		}
	}
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// prefixWriter indents each line written to w until it is closed.
func prefixWriter(w io.Writer, prefix string) io.WriteCloser {
	pr, pw := io.Pipe()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			fmt.Fprintln(w, prefix+sc.Text())
		}
	}()
	return pw
}
