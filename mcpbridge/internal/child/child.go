// Package child runs one stdio MCP server process: newline-delimited JSON-RPC on its
// stdin and stdout, its stderr forwarded line by line to a logger, in its own process
// group so that stopping it also stops anything it spawned.
package child

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// ErrStopped is returned by [Process.Send] once the process has been stopped or exited.
var ErrStopped = errors.New("child process stopped")

// ErrMessageTooLarge is reported when the child writes a line longer than the limit.
var ErrMessageTooLarge = errors.New("child message exceeds the size limit")

// Options configure [Start]. Command is required.
type Options struct {
	// Command is the argv of the server; Command[0] is looked up in PATH.
	Command []string
	// Env is the complete environment of the process. It comes from the bridge's own
	// configuration, never from an HTTP request.
	Env []string
	// MaxMessage bounds one line on stdout; longer lines are dropped and logged.
	MaxMessage int
	// Logger receives the child's stderr lines and lifecycle events.
	Logger *slog.Logger
	// OnMessage is called, from a single goroutine, with each line the child writes on
	// stdout. The slice is only valid during the call.
	OnMessage func([]byte)
	// OnExit is called once, after the process and its stdout are done and before Done
	// closes.
	OnExit func(error)
	// StopGrace is how long Stop waits after closing stdin and SIGTERM before SIGKILL.
	StopGrace time.Duration
	// WriteTimeout bounds how long Send may wait for the child to read its input;
	// default 30s. A child that reads nothing for that long is taken to be hung.
	WriteTimeout time.Duration
}

// Process is a running child. Send is safe for concurrent use.
type Process struct {
	opts   Options
	cmd    *exec.Cmd
	stdin  *os.File
	stdout *os.File
	stderr *os.File

	writeMu sync.Mutex
	w       *bufio.Writer

	stopOnce sync.Once
	stopped  chan struct{}
	exited   chan struct{}
}

// Start starts the process. Its goroutines end when it exits or [Process.Stop] is called.
func Start(opts Options) (*Process, error) {
	if len(opts.Command) == 0 {
		return nil, errors.New("child: empty command")
	}
	if opts.MaxMessage <= 0 {
		opts.MaxMessage = 4 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = 2 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 30 * time.Second
	}
	if opts.OnMessage == nil {
		opts.OnMessage = func([]byte) {}
	}
	if opts.OnExit == nil {
		opts.OnExit = func(error) {}
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("child: stdin pipe: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		closeAll(inR, inW)
		return nil, fmt.Errorf("child: stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll(inR, inW, outR, outW)
		return nil, fmt.Errorf("child: stderr pipe: %w", err)
	}
	cmd := exec.Command(opts.Command[0], opts.Command[1:]...)
	cmd.Env = opts.Env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	// Own process group: Stop signals the whole group, so a wrapper (npx, sh) cannot
	// leave its real server behind. Pdeathsig covers the bridge itself being killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		closeAll(inR, inW, outR, outW, errR, errW)
		return nil, fmt.Errorf("child: start %s: %w", opts.Command[0], err)
	}
	// The child holds its own copies; ours would keep the pipes open forever.
	closeAll(inR, outW, errW)
	p := &Process{
		opts: opts, cmd: cmd, stdin: inW, stdout: outR, stderr: errR,
		w:       bufio.NewWriterSize(inW, 64<<10),
		stopped: make(chan struct{}),
		exited:  make(chan struct{}),
	}
	var readers sync.WaitGroup
	readers.Add(2)
	go func() { defer readers.Done(); p.readStdout() }()
	go func() { defer readers.Done(); p.readStderr() }()
	go p.wait(&readers)
	return p, nil
}

func closeAll(files ...*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}

// Pid returns the process id (also its process group id).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited and all its output has been delivered.
func (p *Process) Done() <-chan struct{} { return p.exited }

// Send writes one message and a newline to the child's stdin. msg must not contain a
// newline (compacted JSON never does). It fails when the child has not read its input
// for the write timeout (the error wraps os.ErrDeadlineExceeded).
func (p *Process) Send(msg []byte) error {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	select {
	case <-p.stopped:
		return ErrStopped
	case <-p.exited:
		return ErrStopped
	default:
	}
	_ = p.stdin.SetWriteDeadline(time.Now().Add(p.opts.WriteTimeout))
	if _, err := p.w.Write(msg); err != nil {
		return fmt.Errorf("child: write: %w", err)
	}
	if err := p.w.WriteByte('\n'); err != nil {
		return fmt.Errorf("child: write: %w", err)
	}
	if err := p.w.Flush(); err != nil {
		return fmt.Errorf("child: write: %w", err)
	}
	return nil
}

// Stop ends the process: stdin is closed (stdio servers exit on EOF), the group gets
// SIGTERM, and SIGKILL after the grace period. It returns when the process is gone or
// ctx ends. It is safe to call more than once and concurrently.
func (p *Process) Stop(ctx context.Context) {
	p.stopOnce.Do(func() {
		close(p.stopped)
		// Not under writeMu: a Send blocked on a child that stopped reading holds it, and
		// closing the pipe is what wakes that Send up.
		_ = p.stdin.Close()
		_ = syscall.Kill(-p.Pid(), syscall.SIGTERM)
		go func() {
			t := time.NewTimer(p.opts.StopGrace)
			defer t.Stop()
			select {
			case <-p.exited:
			case <-t.C:
				_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
			}
		}()
	})
	select {
	case <-p.exited:
	case <-ctx.Done():
	}
}

func (p *Process) readStdout() {
	r := bufio.NewReaderSize(p.stdout, 64<<10)
	var long []byte
	tooLong := false
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if !tooLong {
				long = append(long, line...)
				if len(long) > p.opts.MaxMessage {
					tooLong, long = true, nil
				}
			}
			continue
		}
		if len(long) > 0 {
			long = append(long, line...)
			line = long
		}
		if tooLong {
			p.opts.Logger.Warn("dropped oversized message from child", "error", ErrMessageTooLarge, "limit", p.opts.MaxMessage)
		} else if msg := bytes.TrimSpace(line); len(msg) > 0 {
			p.opts.OnMessage(msg)
		}
		long, tooLong = long[:0], false
		if err != nil {
			return
		}
	}
}

func (p *Process) readStderr() {
	sc := bufio.NewScanner(p.stderr)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		p.opts.Logger.Info("child stderr", "line", sc.Text())
	}
	// A line past the scanner's limit stops the scan; keep draining so the child never
	// blocks on a full stderr pipe.
	_, _ = io.Copy(io.Discard, p.stderr)
}

// wait reaps the process, then makes sure nothing in its group lingers holding the
// pipes, and reports the exit once every line of output has been delivered.
func (p *Process) wait(readers *sync.WaitGroup) {
	err := p.cmd.Wait()
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	// Grandchildren that escaped the group could still hold stdout: do not wait forever.
	_ = p.stdout.SetReadDeadline(time.Now().Add(p.opts.StopGrace))
	_ = p.stderr.SetReadDeadline(time.Now().Add(p.opts.StopGrace))
	readers.Wait()
	closeAll(p.stdout, p.stderr, p.stdin)
	// OnExit first: whoever waits in Stop sees the exit fully handled (the session gone
	// from the registry) when it returns.
	p.opts.OnExit(err)
	close(p.exited)
}
