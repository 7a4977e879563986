package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	in := `{"services": {"memory": {"image": "m:local", "environment": {"MCPBRIDGE_IDENTITY_SECRET": "s"}}}}`
	var out bytes.Buffer
	if err := run([]string{"--replicas", "memory=3"}, strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"replicas": 3`) {
		t.Errorf("--replicas memory=3 not applied:\n%s", out.String())
	}
	for _, bad := range []string{"memory", "memory=x", "memory=-1"} {
		if err := run([]string{"--replicas", bad}, strings.NewReader(in), &out); err == nil || !strings.Contains(err.Error(), "want service=count") {
			t.Errorf("--replicas %q: %v", bad, err)
		}
	}
	if err := run(nil, strings.NewReader("not json"), &out); err == nil {
		t.Error("not JSON accepted")
	}
}
