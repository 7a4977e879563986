package localstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
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

// spec is how to start one process, kept so that the supervisor can start it again
// exactly the same way (same ports, files and environment).
type spec struct {
	name, dir, logDir string
	env               []string
	bin               string
	args              []string
}

func (sp spec) start() (*process, error) {
	return startProcess(sp.name, sp.dir, sp.logDir, sp.env, sp.bin, sp.args...)
}

// Supervision: a process that exits on its own is started again, alone, after a
// pause that doubles from minBackoff up to maxBackoff and starts over once a process
// ran stableAfter. More than maxRestarts exits within stormWindow is a restart storm:
// the supervisor gives up and reports it (see [Stack.Died]).
var (
	minBackoff  = 500 * time.Millisecond
	maxBackoff  = 30 * time.Second
	stableAfter = time.Minute
	maxRestarts = 5
	stormWindow = 2 * time.Minute
)

// slot is one supervised process: the current incarnation of its spec.
type slot struct {
	spec spec
	cur  *process // guarded by group.mu
}

// group owns the stack's processes, restarts those that exit, and stops them in
// reverse start order.
type group struct {
	mu      sync.Mutex
	slots   []*slot
	stopped bool
	died    chan string   // the first restart storm (or failed restart)
	stopC   chan struct{} // closed by stopAll
	once    sync.Once
	log     *slog.Logger
	// changed is called (without mu) after a process was started again.
	changed func()
}

func newGroup(log *slog.Logger) *group {
	return &group{died: make(chan string, 1), stopC: make(chan struct{}), log: log, changed: func() {}}
}

// add registers p, started from sp, and supervises it.
func (g *group) add(sp spec, p *process) {
	sl := &slot{spec: sp, cur: p}
	g.mu.Lock()
	g.slots = append(g.slots, sl)
	g.mu.Unlock()
	go g.supervise(sl)
}

// pids returns the current process id of every supervised process by name.
func (g *group) pids() map[string]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[string]int{}
	for _, sl := range g.slots {
		out[sl.spec.name] = sl.cur.cmd.Process.Pid
	}
	return out
}

func (g *group) supervise(sl *slot) {
	backoff := minBackoff
	var exits []time.Time
	for {
		g.mu.Lock()
		p := sl.cur
		g.mu.Unlock()
		started := time.Now()
		select {
		case <-p.done:
		case <-g.stopC:
			return
		}
		now := time.Now()
		if now.Sub(started) >= stableAfter {
			backoff = minBackoff
		}
		recent := exits[:0]
		for _, t := range exits {
			if now.Sub(t) < stormWindow {
				recent = append(recent, t)
			}
		}
		exits = append(recent, now)
		if len(exits) > maxRestarts {
			g.giveUp(fmt.Sprintf("%s exited %d times within %s (last: %v); not restarting it again: see %s:\n%s",
				sl.spec.name, len(exits), stormWindow, p.err, p.logPath(), tail(p.logPath(), 10)))
			return
		}
		g.log.Warn("process exited; restarting it alone", "process", sl.spec.name, "status", fmt.Sprint(p.err),
			"in", backoff.String(), "log", p.logPath())
		select {
		case <-time.After(backoff):
		case <-g.stopC:
			return
		}
		backoff = min(backoff*2, maxBackoff)
		g.mu.Lock()
		if g.stopped {
			g.mu.Unlock()
			return
		}
		np, err := sl.spec.start()
		if err == nil {
			sl.cur = np
		}
		g.mu.Unlock()
		if err != nil {
			g.giveUp(fmt.Sprintf("%s exited and could not be started again: %v", sl.spec.name, err))
			return
		}
		g.log.Info("process restarted", "process", sl.spec.name, "pid", np.cmd.Process.Pid)
		g.changed()
	}
}

func (g *group) giveUp(msg string) {
	g.log.Error(msg)
	select {
	case g.died <- msg:
	default:
	}
}

// stopAll stops every process, newest first (Traefik before the bridges before
// authsvc before Redis), ends supervision, and is safe to call more than once.
func (g *group) stopAll(grace time.Duration) {
	g.once.Do(func() { close(g.stopC) })
	g.mu.Lock()
	g.stopped = true
	slots := g.slots
	g.slots = nil
	g.mu.Unlock()
	for i := len(slots) - 1; i >= 0; i-- {
		slots[i].cur.stop(grace)
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
