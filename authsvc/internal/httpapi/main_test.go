package httpapi

import (
	"testing"

	"github.com/mcp-oauth-gateway/gateway/internal/testsupport/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }
