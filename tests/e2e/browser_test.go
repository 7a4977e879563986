package e2e

import (
	"testing"

	"github.com/mcp-oauth-gateway/gateway/tests/internal/formbrowser"
)

// The human of the flows (tests/internal/formbrowser), with the suite's defaults.
type browser = formbrowser.Browser

var errNoRedirect = formbrowser.ErrNoRedirect

func newBrowser(t *testing.T) *browser {
	t.Helper()
	return newBrowserNoT()
}

func newBrowserNoT() *browser { return formbrowser.New(nil) }
