package mcpclient

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os/exec"
	"runtime"
	"time"

	"github.com/mcp-oauth-gateway/gateway/internal/contract"
)

// SafeToOpen accepts only absolute https URLs and http URLs whose host is loopback
// (localhost, *.localhost, 127.0.0.0/8, ::1), with no user info and no control
// characters: anything else could make a browser (or the program that launches it)
// do something other than show a login page.
func SafeToOpen(raw string) error {
	for _, r := range raw {
		if r < 0x21 || r == 0x7f {
			return fmt.Errorf("%w: %q contains spaces or control characters", ErrUnsafeURL, raw)
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnsafeURL, err)
	}
	if u.User != nil || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("%w: %q", ErrUnsafeURL, raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if contract.IsLoopbackHost(u.Hostname()) {
			return nil
		}
	}
	return fmt.Errorf("%w: %q", ErrUnsafeURL, raw)
}

// ErrNoOpener means no program to open a browser was found.
var ErrNoOpener = errors.New("mcpclient: no browser opener (xdg-open, open) found")

// OpenURL opens u in the user's browser with xdg-open (open on macOS), passing the
// URL as one argument to exec, never through a shell. It refuses URLs that fail
// [SafeToOpen].
func OpenURL(ctx context.Context, u string) error {
	if err := SafeToOpen(u); err != nil {
		return err
	}
	name := "xdg-open"
	if runtime.GOOS == "darwin" {
		name = "open"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoOpener, err)
	}
	cmd := exec.Command(path, u)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("mcpclient: %s: %w", name, err)
	}
	// xdg-open exits at once with an error when it finds no browser (a server, a
	// container, no display); one that found a browser exits 0 or stays with it.
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // also reaps it
	select {
	case err := <-exited:
		if err != nil {
			return fmt.Errorf("mcpclient: %s found no browser: %w", name, err)
		}
	case <-time.After(openerGrace):
	case <-ctx.Done():
	}
	return nil
}

// openerGrace is how long OpenURL waits for the opener to fail before assuming the
// browser is on its way.
var openerGrace = 3 * time.Second
