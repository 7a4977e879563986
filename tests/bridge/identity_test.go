package bridge

import (
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-oauth-gateway/gateway/internal/contract"
	"github.com/mcp-oauth-gateway/gateway/tests/internal/mcpservers"
)

// TestIdentitySignature: a bridge given the edge's secret serves only requests whose
// identity the edge signed (a caller that reaches it directly cannot name a user), its
// own healthcheck signs with the same secret, and the wrapped server never sees it.
func TestIdentitySignature(t *testing.T) {
	secret := "identity-secret-" + strings.Repeat("z", 24)
	b := startBridge(t, nil, mcpservers.Everything(t), "MCPBRIDGE_IDENTITY_SECRET="+secret, "BRIDGE_TEST_MARKER=operator-config")
	u, _ := url.Parse(b.URL)
	signed := func(h map[string]string, at time.Time) map[string]string {
		hdr := http.Header{}
		for k, v := range h {
			hdr.Set(k, v)
		}
		h[contract.HeaderIdentitySignature] = contract.SignIdentity([]byte(secret), at.Unix(), "POST", u.Host, u.Path, contract.IdentityValues(hdr))
		return h
	}

	r := do(t, "POST", b.URL, jsonHeaders("X-User-Id", "alice"), initBody)
	if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "identity_unverified") {
		t.Errorf("unsigned initialize: %d %s, want 403 identity_unverified", r.Status, r.Body)
	}
	forged := signed(jsonHeaders("X-User-Id", "alice"), time.Now())
	forged["X-User-Id"] = "mallory"
	if r := do(t, "POST", b.URL, forged, initBody); r.Status != http.StatusForbidden {
		t.Errorf("signature of another user: %d %s, want 403", r.Status, r.Body)
	}
	if r := do(t, "POST", b.URL, signed(jsonHeaders("X-User-Id", "alice"), time.Now().Add(-5*time.Minute)), initBody); r.Status != http.StatusForbidden {
		t.Errorf("old signature: %d %s, want 403", r.Status, r.Body)
	}
	if !strings.Contains(b.logs.String(), "identity not signed by the edge") {
		t.Error("refusals are not logged")
	}

	r = do(t, "POST", b.URL, signed(jsonHeaders("X-User-Id", "alice"), time.Now()), initBody)
	sid := r.Header.Get("Mcp-Session-Id")
	if r.Status != http.StatusOK || sid == "" {
		t.Fatalf("signed initialize: %d %s", r.Status, r.Body)
	}
	r = do(t, "POST", b.URL, signed(sessionHeaders("alice", sid, "Accept", "application/json"), time.Now()),
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get-env","arguments":{}}}`)
	if !strings.Contains(r.Body, "operator-config") {
		t.Fatalf("get-env did not show the bridge's environment: %d %s", r.Status, r.Body)
	}
	if strings.Contains(r.Body, secret) || strings.Contains(r.Body, "MCPBRIDGE_IDENTITY_SECRET") {
		t.Errorf("the wrapped server sees the identity secret: %s", r.Body)
	}

	check := func(env ...string) error {
		cmd := exec.Command(bridgeBin, "healthcheck", "--url", b.URL, "--timeout", "60s")
		cmd.Env = append(cmd.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Logf("healthcheck: %s", out)
		}
		return err
	}
	if err := check("MCPBRIDGE_IDENTITY_SECRET=" + secret); err != nil {
		t.Errorf("healthcheck with the secret: %v", err)
	}
	if err := check(); err == nil {
		t.Error("healthcheck without the secret passed a bridge that requires signatures")
	}
	file := filepath.Join(t.TempDir(), "identity_secret")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := check("MCPBRIDGE_IDENTITY_SECRET_FILE=" + file); err != nil {
		t.Errorf("healthcheck with the secret's file: %v", err)
	}
}

// TestIdentitySecretFile: the bridge reads the edge's secret from a file (a Docker or
// Swarm secret, MCPBRIDGE_IDENTITY_SECRET_FILE) and serves what the edge signed with
// it; the wrapped server sees neither the secret nor the file's name.
func TestIdentitySecretFile(t *testing.T) {
	secret := "file-secret-" + strings.Repeat("q", 28)
	file := filepath.Join(t.TempDir(), "identity_secret")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	b := startBridge(t, nil, mcpservers.Everything(t), "MCPBRIDGE_IDENTITY_SECRET_FILE="+file, "BRIDGE_TEST_MARKER=operator-config")
	u, _ := url.Parse(b.URL)
	sign := func(h map[string]string, key string) map[string]string {
		hdr := http.Header{}
		for k, v := range h {
			hdr.Set(k, v)
		}
		h[contract.HeaderIdentitySignature] = contract.SignIdentity([]byte(key), time.Now().Unix(), "POST", u.Host, u.Path, contract.IdentityValues(hdr))
		return h
	}
	if r := do(t, "POST", b.URL, sign(jsonHeaders("X-User-Id", "alice"), secret+"\n"), initBody); r.Status != http.StatusForbidden {
		t.Errorf("signed with the file's bytes, line break included: %d, want 403 (the break is not part of the secret)", r.Status)
	}
	r := do(t, "POST", b.URL, sign(jsonHeaders("X-User-Id", "alice"), secret), initBody)
	sid := r.Header.Get("Mcp-Session-Id")
	if r.Status != http.StatusOK || sid == "" {
		t.Fatalf("signed initialize: %d %s", r.Status, r.Body)
	}
	r = do(t, "POST", b.URL, sign(sessionHeaders("alice", sid, "Accept", "application/json"), secret),
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get-env","arguments":{}}}`)
	if !strings.Contains(r.Body, "operator-config") {
		t.Fatalf("get-env did not show the bridge's environment: %d %s", r.Status, r.Body)
	}
	if strings.Contains(r.Body, secret) || strings.Contains(r.Body, "MCPBRIDGE_IDENTITY_SECRET") || strings.Contains(r.Body, file) {
		t.Errorf("the wrapped server sees the identity secret or its file: %s", r.Body)
	}
}
