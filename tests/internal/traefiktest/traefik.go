package traefiktest

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/internal/localstack"
	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/syncbuf"
)

// Options configures one Traefik process.
type Options struct {
	// Bin is the Traefik binary; default $TRAEFIK_BIN (set by the just recipes from
	// scripts/build-traefik.sh).
	Bin string
	// Dynamic is the file provider's dynamic configuration (YAML), written to
	// dynamic/dynamic.yml in Traefik's working directory. Update it with WriteDynamic.
	Dynamic string
	// LocalPlugin installs this repository's mcpauth plugin as the local plugin
	// "mcpauth" (use it as `plugin: {mcpauth: {...}}` in Dynamic).
	LocalPlugin bool
	// ReadyHost and ReadyPath name a request on the web entry point that must answer
	// with ReadyStatus before Start returns (the routers and plugins are then built).
	ReadyHost   string
	ReadyPath   string
	ReadyStatus int
	// LogLevel is Traefik's log level; default INFO.
	LogLevel string
	// Port is the web entry point's loopback port; 0 picks a free one. Set it when
	// the configuration must name Traefik's own URL (a resource URL, say).
	Port int
	// Static is appended to the generated static configuration (YAML top-level keys
	// that it does not set itself: api, metrics, a second entry point…).
	Static string
	// Env is added to the environment Traefik inherits ("KEY=value"; GOGC, say).
	Env []string
}

// Traefik is a running Traefik.
type Traefik struct {
	// URL is the web entry point, http://127.0.0.1:<port>.
	URL string
	// Addr is the web entry point's host:port.
	Addr string
	// Dir is Traefik's working directory.
	Dir string

	cmd  *exec.Cmd
	logs *syncbuf.Buffer
	done chan struct{}
}

// Bin returns the Traefik binary from $TRAEFIK_BIN, failing the test with the recipe
// that provides it when it is missing.
func Bin(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("TRAEFIK_BIN")
	if bin == "" {
		t.Fatal("TRAEFIK_BIN is not set: run through `just test-plugin` (it builds Traefik with scripts/build-traefik.sh) or export TRAEFIK_BIN=$(scripts/build-traefik.sh)")
	}
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		t.Fatalf("TRAEFIK_BIN=%s is not a file (%v): run scripts/build-traefik.sh", bin, err)
	}
	return bin
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Start runs Traefik with a static configuration of one web entry point on a free
// loopback port, the file provider on a watched directory and, optionally, the local
// plugin; it waits until the ready request succeeds and stops Traefik at cleanup.
// On failure the test log gets Traefik's output.
func Start(t testing.TB, opts Options) *Traefik {
	t.Helper()
	bin := opts.Bin
	if bin == "" {
		bin = Bin(t)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "dynamic"), 0o755); err != nil {
		t.Fatal(err)
	}
	if opts.LocalPlugin {
		// Traefik's local plugins live in ./plugins-local/src/<moduleName>/.
		if _, err := InstallLocalPlugin(filepath.Join(dir, "plugins-local")); err != nil {
			t.Fatal(err)
		}
	}
	port := opts.Port
	if port == 0 {
		port = FreePort(t)
	}
	level := opts.LogLevel
	if level == "" {
		level = "INFO"
	}
	static := fmt.Sprintf(`entryPoints:
  web:
    address: "127.0.0.1:%d"
providers:
  file:
    directory: %q
    watch: true
log:
  level: %s
global:
  checkNewVersion: false
  sendAnonymousUsage: false
`, port, filepath.Join(dir, "dynamic"), level)
	if opts.LocalPlugin {
		static += `experimental:
  localPlugins:
    mcpauth:
      moduleName: ` + ModuleName + "\n"
	}
	static += opts.Static
	if err := os.WriteFile(filepath.Join(dir, "traefik.yml"), []byte(static), 0o644); err != nil {
		t.Fatal(err)
	}
	tr := &Traefik{
		URL:  fmt.Sprintf("http://127.0.0.1:%d", port),
		Addr: fmt.Sprintf("127.0.0.1:%d", port),
		Dir:  dir,
		logs: &syncbuf.Buffer{},
		done: make(chan struct{}),
	}
	tr.WriteDynamic(t, opts.Dynamic)
	cmd := exec.Command(bin, "--configFile="+filepath.Join(dir, "traefik.yml"))
	cmd.Dir = dir
	if len(opts.Env) > 0 {
		cmd.Env = append(os.Environ(), opts.Env...)
	}
	cmd.Stdout = tr.logs
	cmd.Stderr = tr.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	tr.cmd = cmd
	go func() {
		_ = cmd.Wait()
		close(tr.done)
	}()
	t.Cleanup(func() {
		tr.Stop()
		if t.Failed() {
			t.Logf("Traefik output:\n%s", tr.Logs())
		}
	})
	if opts.ReadyPath != "" {
		tr.WaitReady(t, opts.ReadyHost, opts.ReadyPath, opts.ReadyStatus)
	}
	return tr
}

// WriteDynamic replaces the dynamic configuration; Traefik reloads it (watch: true).
func (tr *Traefik) WriteDynamic(t testing.TB, content string) {
	t.Helper()
	// Write then rename, so the watcher never reads half a file.
	tmp := filepath.Join(tr.Dir, "dynamic.yml.tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(tr.Dir, "dynamic", "dynamic.yml")); err != nil {
		t.Fatal(err)
	}
}

// WaitReady polls host+path on the web entry point until it answers status (any
// status but 404 and 502..504 when status is 0), for up to 60 s: loading a plugin
// under Yaegi takes a few seconds on a busy machine.
func (tr *Traefik) WaitReady(t testing.TB, host, path string, status int) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	last := "no answer"
	for time.Now().Before(deadline) {
		select {
		case <-tr.done:
			t.Fatalf("Traefik exited before it was ready:\n%s", tr.Logs())
		default:
		}
		req, _ := http.NewRequest(http.MethodGet, tr.URL+path, nil)
		if host != "" {
			req.Host = host
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			ok := resp.StatusCode == status ||
				(status == 0 && resp.StatusCode != 404 && (resp.StatusCode < 502 || resp.StatusCode > 504))
			if ok {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("Traefik not ready within 60s (GET %s%s: %s)", host, path, last)
}

// Stop ends Traefik (SIGTERM, then SIGKILL after 10 s) and waits for it.
func (tr *Traefik) Stop() {
	if tr.cmd == nil || tr.cmd.Process == nil {
		return
	}
	select {
	case <-tr.done:
		return
	default:
	}
	_ = tr.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-tr.done:
	case <-time.After(10 * time.Second):
		_ = tr.cmd.Process.Kill()
		<-tr.done
	}
}

// PID is Traefik's process id (for CPU accounting in benchmarks).
func (tr *Traefik) PID() int { return tr.cmd.Process.Pid }

// Logs returns everything Traefik printed so far.
func (tr *Traefik) Logs() string { return tr.logs.String() }
