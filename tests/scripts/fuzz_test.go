// Package scripts tests the repository's shell scripts that decide whether CI passes.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func fuzzScript(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../scripts/fuzz.sh")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFuzzClassify: only the bare end-of-window deadline of go.dev/issue/75804 is
// tolerated; any sign of a real finding fails.
func TestFuzzClassify(t *testing.T) {
	const deadline = "fuzz: elapsed: 6s, execs: 89520 (0/sec), new interesting: 2 (total: 124)\n" +
		"--- FAIL: FuzzHeaders (6.10s)\n    context deadline exceeded\nFAIL\nexit status 1\n" +
		"FAIL\tgithub.com/mcp-oauth-gateway/gateway/plugin\t6.109s\n"
	cases := []struct {
		name, out, code, want string
	}{
		{"passed", "fuzz: elapsed: 5s, execs: 100 (20/sec)\nPASS\nok  \tx\t5.1s\n", "0", "pass"},
		{"bare deadline race", deadline, "1", "flake"},
		{"deadline with a written input", strings.Replace(deadline, "FAIL\nexit", "Failing input written to testdata/fuzz/FuzzHeaders/1a2b\nFAIL\nexit", 1), "1", "fail"},
		{"assertion in the target", "--- FAIL: FuzzX (0.20s)\n    --- FAIL: FuzzX (0.00s)\n        x_test.go:12: boom\n    Failing input written to testdata/fuzz/FuzzX/1\nFAIL\n", "1", "fail"},
		{"panic", "fuzz: elapsed: 1s\npanic: runtime error: index out of range\nFAIL\n", "2", "fail"},
		{"deadline and another error", strings.Replace(deadline, "    context deadline exceeded\n", "    context deadline exceeded\n    fuzzing process hung or terminated unexpectedly: exit status 2\n", 1), "1", "fail"},
		{"build failure", "# x\n./x.go:3:1: syntax error\nFAIL\tx [build failed]\n", "1", "fail"},
		{"nonzero with no output", "", "1", "fail"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "out")
			if err := os.WriteFile(f, []byte(tc.out), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := exec.Command(fuzzScript(t), "--classify", f, tc.code).Output()
			if err != nil {
				t.Fatal(err)
			}
			if g := strings.TrimSpace(string(got)); g != tc.want {
				t.Errorf("got %q, want %q", g, tc.want)
			}
		})
	}
}

// TestFuzzRealRuns runs the script on real fuzz targets in a throwaway module: a
// target whose seed fails must fail the script, a sound one must pass.
func TestFuzzRealRuns(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module fuzzdemo\n\ngo 1.24\n",
		"demo_test.go": `package fuzzdemo

import "testing"

func FuzzBroken(f *testing.F) {
	f.Add("boom")
	f.Fuzz(func(t *testing.T, s string) {
		if s == "boom" {
			t.Fatal("boom found")
		}
	})
}

func FuzzSound(f *testing.F) {
	f.Add("ok")
	f.Fuzz(func(t *testing.T, s string) { _ = len(s) })
}
`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	run := func(target string) (string, error) {
		cmd := exec.Command(fuzzScript(t), ".", target, "1s")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("FuzzBroken"); err == nil || !strings.Contains(out, "boom found") {
		t.Errorf("FuzzBroken: err=%v, want a failure showing the target's message; output:\n%s", err, out)
	}
	if out, err := run("FuzzSound"); err != nil {
		t.Errorf("FuzzSound: %v\n%s", err, out)
	}
}
