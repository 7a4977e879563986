package mcpauth

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
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

// TestSecretFilesMatchContract: the plugin's …File options read a secret file as
// authsvc's and the bridges' NAME_FILE variables do (contract.ReadSecretFile): the
// same value, the same files refused.
func TestSecretFilesMatchContract(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"plain": "s3cret", "newline": "s3cret\n", "crlf": "s3cret\r\n", "two breaks": "s3cret\n\n",
		"spaces kept": " s3cret \n", "empty": "", "only a break": "\n",
		"too big": strings.Repeat("x", contract.MaxSecretFileBytes+1),
	}
	paths := map[string]string{"missing": dir + "/missing", "a directory": dir}
	for name, content := range files {
		paths[name] = filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if err := os.WriteFile(paths[name], []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if maxSecretFileBytes != contract.MaxSecretFileBytes {
		t.Errorf("the plugin reads secrets of up to %d bytes, the contract %d", maxSecretFileBytes, contract.MaxSecretFileBytes)
	}
	for name, path := range paths {
		var p problems
		got := secretOption("identitySecret", "", path, p.add)
		want, err := contract.ReadSecretFile(path)
		switch {
		case err != nil && len(p.list) == 0:
			t.Errorf("%s: the plugin accepts %q, the contract refuses it: %v", name, got, err)
		case err == nil && len(p.list) > 0:
			t.Errorf("%s: the plugin refuses it (%v), the contract reads %q", name, p.list, want)
		case err == nil && got != want:
			t.Errorf("%s: the plugin reads %q, the contract %q", name, got, want)
		case len(p.list) > 0 && !strings.HasPrefix(p.list[0], "identitySecretFile: "):
			t.Errorf("%s: problem %q does not name the option", name, p.list[0])
		}
	}
	var p problems
	secretOption("revocationToken", "inline", paths["plain"], p.add)
	if len(p.list) != 1 || !strings.Contains(p.list[0], "revocationToken and revocationTokenFile are both set") {
		t.Errorf("both set: problems %v", p.list)
	}
}

// TestSecretOptionsMatchContract: every option the contract names as a secret has its
// …File twin in the plugin's configuration (the Swarm stack rewrites labels to them).
func TestSecretOptionsMatchContract(t *testing.T) {
	tags := map[string]bool{}
	ct := reflect.TypeOf(Config{})
	for i := 0; i < ct.NumField(); i++ {
		name, _, _ := strings.Cut(ct.Field(i).Tag.Get("json"), ",")
		tags[name] = true
	}
	for _, opt := range contract.PluginSecretOptions {
		if !tags[opt] || !tags[opt+"File"] {
			t.Errorf("the plugin's configuration lacks %s or %sFile", opt, opt)
		}
	}
}
