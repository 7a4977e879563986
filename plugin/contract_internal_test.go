package mcpauth

import (
	"testing"

	"github.com/mcp-oauth-gateway/gateway/internal/contract"
)

// TestHeadersMatchContract: the plugin's default identity headers (its own copy, since
// Traefik loads the plugin from its directory alone) are the ones the bridge and
// authsvc's /verify use, in the same order.
func TestHeadersMatchContract(t *testing.T) {
	if len(defaultHeaders) != len(contract.IdentityHeaders) {
		t.Fatalf("the plugin has %d identity headers, the contract %d", len(defaultHeaders), len(contract.IdentityHeaders))
	}
	for i, h := range defaultHeaders {
		if h[1] != contract.IdentityHeaders[i] {
			t.Errorf("identity header %d (%s): the plugin sets %q, the contract says %q", i, h[0], h[1], contract.IdentityHeaders[i])
		}
	}
}

func TestSignatureHeaderMatchesContract(t *testing.T) {
	if identitySignatureHeader != contract.HeaderIdentitySignature {
		t.Errorf("the plugin signs in %q, the contract names %q", identitySignatureHeader, contract.HeaderIdentitySignature)
	}
}
