package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestHashSecret(t *testing.T) {
	h := HashSecret("x")
	if len(h) != 64 || !SecretMatches(h, "x") || SecretMatches(h, "y") || SecretMatches("", "") || SecretMatches(h, "") {
		t.Error("HashSecret/SecretMatches wrong")
	}
}

// ender records the calls DeleteClient makes.
type ender struct {
	calls     []string
	revokeErr error
}

func (e *ender) RevokeClient(_ context.Context, id string) (int, error) {
	e.calls = append(e.calls, "revoke "+id)
	return 3, e.revokeErr
}

func (e *ender) DeleteClient(_ context.Context, id string) error {
	e.calls = append(e.calls, "delete "+id)
	return nil
}

func TestDeleteClient(t *testing.T) {
	e := &ender{}
	if n, err := DeleteClient(context.Background(), e, "c1"); err != nil || n != 3 || strings.Join(e.calls, ",") != "revoke c1,delete c1" {
		t.Errorf("DeleteClient = %d, %v; calls %v, want the tokens revoked, then the record deleted", n, err, e.calls)
	}
	e = &ender{revokeErr: errors.New("redis down")}
	if _, err := DeleteClient(context.Background(), e, "c1"); err == nil || strings.Join(e.calls, ",") != "revoke c1" {
		t.Errorf("DeleteClient with the revocation failing: %v; calls %v, want an error and the record kept", err, e.calls)
	}
}
