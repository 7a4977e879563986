package localstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// process is one child of the stack, started in its own process group so that
// stopping it also stops whatever it spawned (npx, node, a bridge's per-session
// servers): nothing is left orphaned.
type process struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{} // closed when the process has exited
	err  error         // exit status, valid after done
}

// inheritedEnv are the variables a stack process inherits; everything else it gets
// is set explicitly. `just run` loads .env, which may hold the compose stack's
// settings (BASE_DOMAIN, JWT_KEY_DIR=/keys, …): they must not leak into the local
// processes. GOCOVERDIR is where programs built for coverage write (`just coverage`).
var inheritedEnv = []string{"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR", "GOCOVERDIR"}

func baseEnv() []string {
	var env []string
	for _, k := range inheritedEnv {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// startProcess starts bin with args and env (added to a minimal inherited
// environment, see inheritedEnv), output appended to logDir/<name>.log.
func startProcess(name, dir, logDir string, env []string, bin string, args ...string) (*process, error) {
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: create log dir: %w", name, err)
	}
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: open log: %w", name, err)
	}
	fmt.Fprintf(f, "---- %s: starting %s\n", time.Now().UTC().Format(time.RFC3339), name)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(baseEnv(), env...)
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.Stdin = nil
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: start %s: %w", name, bin, err)
	}
	p := &process{name: name, cmd: cmd, log: f, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// LogPath is where the process writes its output.
func (p *process) logPath() string { return p.log.Name() }

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, waits up to grace, then SIGKILLs the
// group. The group is killed even if the leader has already exited, so a child
// that outlived its parent goes too.
func (p *process) stop(grace time.Duration) {
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.done
}

// group owns the stack's processes and stops them in reverse start order.
type group struct {
	mu    sync.Mutex
	procs []*process
	died  chan *process // first unexpected exit
	once  sync.Once
	stopC chan struct{}
}

func newGroup() *group {
	return &group{died: make(chan *process, 1), stopC: make(chan struct{})}
}

// add registers p and watches it for an unexpected exit.
func (g *group) add(p *process) {
	g.mu.Lock()
	g.procs = append(g.procs, p)
	g.mu.Unlock()
	go func() {
		select {
		case <-p.done:
			select {
			case g.died <- p:
			default:
			}
		case <-g.stopC:
		}
	}()
}

// stopAll stops every process, newest first (Traefik before the bridges before
// authsvc before Redis), and is safe to call more than once.
func (g *group) stopAll(grace time.Duration) {
	g.once.Do(func() { close(g.stopC) })
	g.mu.Lock()
	procs := g.procs
	g.procs = nil
	g.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop(grace)
	}
}

// errProcessExited is returned when a stack process ends on its own.
var errProcessExited = errors.New("process exited")

// waitReady polls check until it succeeds, the process dies, or ctx ends.
func waitReady(ctx context.Context, p *process, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if p != nil && p.exited() {
			return fmt.Errorf("%s: %w (%v); see %s:\n%s", p.name, errProcessExited, p.err, p.logPath(), tail(p.logPath(), 20))
		}
		// A bridge's /ready starts an MCP server (node) and does a handshake: on a
		// loaded machine that takes seconds, and cutting it short only restarts it.
		cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
		last = check(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			name := "service"
			if p != nil {
				name = p.name + " (log " + p.logPath() + ")"
			}
			return fmt.Errorf("%s not ready after %s: %w", name, timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const max = 16 << 10
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := st.Size() - max
	if off < 0 {
		off = 0
	}
	b, err := io.ReadAll(io.NewSectionReader(f, off, max))
	if err != nil {
		return ""
	}
	lines := 0
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			lines++
			if lines > n {
				return string(b[i+1:])
			}
		}
	}
	return string(b)
}
