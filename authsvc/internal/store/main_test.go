package store

import (
	"testing"

	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/redistest"
)

// TestMain starts one real redis-server for every test of this package (clients,
// rate limits and the flow's records alike). Tests here must not be t.Parallel.
func TestMain(m *testing.M) { redistest.Main(m) }

// newTestStore returns a Store on the flushed test Redis.
func newTestStore(t *testing.T, opts *Options) *Store {
	t.Helper()
	s, err := Open(redistest.URL(t), "", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
