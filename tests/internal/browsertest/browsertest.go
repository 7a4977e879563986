// Package browsertest starts real headless Chromium for the tests that drive the pages
// people see (the GitHub stand-in's login page, authsvc's consent and error pages).
//
// Chromium comes from Debian's package (`just deps-chromium`); it is started with the
// flags this machine needs: without the background-networking ones it keeps dialling
// Google's hosts, which the closed network refuses.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// Path finds Chromium: $CHROMIUM_BIN, then the usual names. When there is none the test
// fails, naming the recipe that installs it.
func Path(t testing.TB) string {
	t.Helper()
	for _, name := range []string{os.Getenv("CHROMIUM_BIN"), "/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Chromium not found: run `just deps-chromium` (Debian package chromium) or set CHROMIUM_BIN")
	return ""
}

// New starts a fresh headless Chromium with its own empty profile (so no cookies from
// another test) and returns a chromedp context for its first tab. The browser lives
// until parent ends or the test's cleanup runs, whichever comes first.
func New(t testing.TB, parent context.Context) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Path(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(parent, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return bctx
}
