package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestAdminCommands runs the admin subcommands through run, as the binary would.
func TestAdminCommands(t *testing.T) {
	env := testEnv(t)
	delete(env, "GITHUB_CLIENT_ID") // admin commands need no GitHub credentials
	delete(env, "GITHUB_CLIENT_SECRET")
	tests := []struct {
		args    []string
		wantOut string
		wantErr string
	}{
		{[]string{"list-clients"}, "0 client(s)", ""},
		{[]string{"list-clients", "extra"}, "", "expected 0 argument(s)"},
		{[]string{"list-tokens"}, "", "expected 1 argument(s)"},
		{[]string{"list-tokens", "4242"}, "user 4242: 0 access token(s), 0 refresh token(s)", ""},
		{[]string{"list-tokens", "nobody"}, "", `no tokens were ever issued to GitHub login "nobody"`},
		{[]string{"revoke-user", "4242"}, "revoked every token of user 4242", ""},
		{[]string{"revoke-token", "some-jti"}, "revoked access token some-jti", ""},
		{[]string{"revoke-token", "rt-unknown"}, "", "refresh token"},
		{[]string{"delete-client", "no-such-client"}, "", "client no-such-client"},
		{[]string{"purge-expired"}, "purged", ""},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), tc.args, getenv(env), &out)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Fatalf("output %q lacks %q", out.String(), tc.wantOut)
			}
		})
	}
}
