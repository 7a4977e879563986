package stack_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// process is a program a test started. Its output goes to a log file that the test
// prints when it fails; it is interrupted (then killed) when the test ends.
type process struct {
	name   string
	exited chan struct{}
	err    error // valid once exited is closed
}

// startProcess runs bin with args in dir, with exactly env.
func startProcess(t *testing.T, name, dir string, env []string, bin string, args ...string) *process {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		logFile.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &process{name: name, exited: make(chan struct{})}
	go func() { p.err = cmd.Wait(); logFile.Close(); close(p.exited) }()
	t.Cleanup(func() {
		cancel()
		<-p.exited
		if t.Failed() {
			log, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%s", name, tail(string(log), 6000))
		}
	})
	return p
}

// running fails the test at once when the process has already exited: waiting for it
// to become ready would be pointless.
func (p *process) running(t *testing.T, why string) {
	t.Helper()
	select {
	case <-p.exited:
		t.Fatalf("%s exited (%v): %s", p.name, p.err, why)
	default:
	}
}

// runCheck runs a command to completion; its error carries the output.
func runCheck(env []string, bin string, args ...string) error {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}
