package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	in := `{"services": {"memory": {"image": "m:local", "environment": {"MCPBRIDGE_IDENTITY_SECRET": "s3cret-value"}}}}`
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run([]string{"--replicas", "memory=3", "--secrets-dir", dir}, strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"replicas": 3`) {
		t.Errorf("--replicas memory=3 not applied:\n%s", out.String())
	}
	// The secret is in a private file in the directory, named by the stack file, and
	// not in the stack file.
	if strings.Contains(out.String(), "s3cret-value") {
		t.Errorf("the stack file holds the secret's value:\n%s", out.String())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "mcpbridge_identity_secret_*"))
	if len(files) != 1 {
		t.Fatalf("secret files %v, want one mcpbridge_identity_secret_<hash>", files)
	}
	if b, err := os.ReadFile(files[0]); err != nil || string(b) != "s3cret-value" {
		t.Errorf("the secret file holds %q (%v)", b, err)
	}
	if st, _ := os.Stat(files[0]); st.Mode().Perm() != 0o600 {
		t.Errorf("the secret file's mode is %v, want 0600", st.Mode().Perm())
	}
	if !strings.Contains(out.String(), `"file": "`+files[0]+`"`) {
		t.Errorf("the stack file does not name %s:\n%s", files[0], out.String())
	}

	for _, bad := range []string{"memory", "memory=x", "memory=-1"} {
		if err := run([]string{"--secrets-dir", dir, "--replicas", bad}, strings.NewReader(in), &out); err == nil || !strings.Contains(err.Error(), "want service=count") {
			t.Errorf("--replicas %q: %v", bad, err)
		}
	}
	if err := run(nil, strings.NewReader(in), &out); err == nil || !strings.Contains(err.Error(), "--secrets-dir is required") {
		t.Errorf("no --secrets-dir: %v", err)
	}
	if err := run([]string{"--secrets-dir", dir}, strings.NewReader("not json"), &out); err == nil {
		t.Error("not JSON accepted")
	}
}
