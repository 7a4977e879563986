package httpapi

import (
	"testing"

	"github.com/mcp-oauth-gateway/gateway/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }
