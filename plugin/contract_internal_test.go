package mcpauth

import (
	"encoding/json"
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

// TestFeedDecoderMatchesContract: the plugin's generic feed decoder (its own, since
// struct decoding is not trusted under Yaegi) reads every field of the document authsvc
// encodes from contract.RevocationFeed.
func TestFeedDecoderMatchesContract(t *testing.T) {
	doc := contract.RevocationFeed{
		Cursor: "c-42", Reset: true,
		Tokens:  []contract.RevokedToken{{JTI: "j1", Exp: 100}, {JTI: "j2", Exp: 200}},
		Users:   []contract.RevokedUser{{Sub: "7", Before: 300}},
		Clients: []contract.RevokedClient{{ClientID: "cl", Before: 400}},
	}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	upd, err := decodeFeed(data)
	if err != nil {
		t.Fatal(err)
	}
	if upd.cursor != "c-42" || !upd.reset {
		t.Errorf("cursor %q reset %v, want c-42 and true", upd.cursor, upd.reset)
	}
	if len(upd.tokens) != 2 || upd.tokens["j1"] != 100 || upd.tokens["j2"] != 200 {
		t.Errorf("tokens = %v", upd.tokens)
	}
	if len(upd.users) != 1 || upd.users["7"] != 300 {
		t.Errorf("users = %v", upd.users)
	}
	if len(upd.clients) != 1 || upd.clients["cl"] != 400 {
		t.Errorf("clients = %v", upd.clients)
	}
}
