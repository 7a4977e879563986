package child

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/mcpbridge/internal/stdiotest"
)

func TestMain(m *testing.M) {
	stdiotest.MaybeRun()
	os.Exit(m.Run())
}

func start(t *testing.T, onMessage func([]byte)) (*Process, chan error) {
	t.Helper()
	argv, _ := stdiotest.Command()
	exited := make(chan error, 1)
	p, err := Start(Options{Command: argv, Env: stdiotest.Env(), OnMessage: onMessage,
		OnExit: func(err error) { exited <- err }, StopGrace: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(context.Background()) })
	return p, exited
}

func TestRoundTrip(t *testing.T) {
	got := make(chan string, 1)
	p, _ := start(t, func(line []byte) { got <- string(line) })
	if err := p.Send([]byte(`{"jsonrpc":"2.0","id":1,"method":"echo","params":{"x":"y"}}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case line := <-got:
		if !strings.Contains(line, `"x":"y"`) {
			t.Errorf("got %s", line)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no answer")
	}
	p.Stop(context.Background())
	if err := p.Send([]byte(`{}`)); !errors.Is(err, ErrStopped) {
		t.Errorf("Send after Stop: %v, want ErrStopped", err)
	}
	if err := syscall.Kill(p.Pid(), 0); err == nil {
		t.Error("the process is still alive after Stop")
	}
}

func TestExitIsReported(t *testing.T) {
	p, exited := start(t, nil)
	_ = p.Send([]byte(`{"jsonrpc":"2.0","id":1,"method":"crash"}`))
	select {
	case err := <-exited:
		if err == nil || !strings.Contains(err.Error(), "exit status 3") {
			t.Errorf("exit = %v, want exit status 3", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("exit not reported")
	}
	select {
	case <-p.Done():
	case <-time.After(20 * time.Second):
		t.Error("Done not closed after the exit")
	}
}

// TestStopUnblocksSend: a child that stops reading its stdin must not make Stop (and so
// DELETE and shutdown) hang behind a Send blocked on the full pipe.
func TestSendTimesOut(t *testing.T) {
	argv, _ := stdiotest.Command()
	p, err := Start(Options{Command: argv, Env: stdiotest.Env(), WriteTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(context.Background())
	if err := p.Send([]byte(`{"jsonrpc":"2.0","id":1,"method":"deaf"}`)); err != nil {
		t.Fatal(err)
	}
	big := []byte(`{"jsonrpc":"2.0","method":"x","params":"` + strings.Repeat("a", 64<<10) + `"}`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := p.Send(big)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return
		}
		if err != nil {
			t.Fatalf("Send: %v, want a deadline error", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("Send to a child that reads nothing never failed")
		}
	}
}

func TestStopUnblocksSend(t *testing.T) {
	p, _ := start(t, nil)
	if err := p.Send([]byte(`{"jsonrpc":"2.0","id":1,"method":"deaf"}`)); err != nil {
		t.Fatal(err)
	}
	big := []byte(`{"jsonrpc":"2.0","method":"x","params":"` + strings.Repeat("a", 64<<10) + `"}`)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // fills the pipe, then blocks
		defer wg.Done()
		for p.Send(big) == nil {
		}
	}()
	time.Sleep(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p.Stop(ctx)
	if ctx.Err() != nil {
		t.Fatal("Stop did not return")
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the blocked Send never returned")
	}
}
