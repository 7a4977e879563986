package dotenv

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestApply(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		pairs []Pair
		want  string
	}{
		{"empty file", "", []Pair{{"A", "1"}, {"B", "2"}}, "A=1\nB=2\n"},
		{"replace in place keeps others", "# c\nX=keep\nA=old\n\nY=keep\n", []Pair{{"A", "new"}}, "# c\nX=keep\nA=new\n\nY=keep\n"},
		{"export form", "export A=old\n", []Pair{{"A", "new"}}, "A=new\n"},
		{"spaces around", "  A = old\n", []Pair{{"A", "new"}}, "A=new\n"},
		{"duplicates removed", "A=1\nB=x\nA=2\n", []Pair{{"A", "3"}}, "A=3\nB=x\n"},
		{"no trailing newline", "X=1", []Pair{{"A", "2"}}, "X=1\nA=2\n"},
		{"prefix key untouched", "AB=1\nA_B=2\n", []Pair{{"A", "3"}}, "AB=1\nA_B=2\nA=3\n"},
		{"commented assignment untouched", "# A=1\n", []Pair{{"A", "2"}}, "# A=1\nA=2\n"},
		{"jwt stays bare", "", []Pair{{"T", "eyJ.a-b_c.d"}}, "T=eyJ.a-b_c.d\n"},
		{"special chars quoted", "", []Pair{{"T", "a b$c#d"}}, "T='a b$c#d'\n"},
		{"empty value", "A=1\n", []Pair{{"A", ""}}, "A=\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Apply(tc.in, tc.pairs); got != tc.want {
				t.Errorf("Apply(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestUpdateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	if err := Update(path, []Pair{{"A", "1"}}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o600 {
		t.Errorf("new file mode = %o, want 600 (it holds tokens)", got)
	}
	if err := os.WriteFile(path, []byte("# keep me\nA=1\nB=2\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := Update(path, []Pair{{"B", "3"}, {"C", "4"}}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if got, want := string(b), "# keep me\nA=1\nB=3\nC=4\n"; got != want {
		t.Errorf("file = %q, want %q", got, want)
	}
	st, _ = os.Stat(path)
	if got := st.Mode().Perm(); got != 0o640 {
		t.Errorf("mode after update = %o, want the existing 640", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory has %d entries, want only .env (no temp files left)", len(entries))
	}
}

func TestUpdateRefusesBadInput(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	orig := "A=1\n"
	if err := os.WriteFile(path, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []Pair{{"A", "x\ny"}, {"A", "x\rB=1"}, {"A", "it's"}, {"A", "nul\x00"}, {"1A", "x"}, {"A-B", "x"}, {"", "x"}} {
		err := Update(path, []Pair{p})
		if !errors.Is(err, ErrBadValue) {
			t.Errorf("Update(%q=%q) error = %v, want ErrBadValue", p.Key, p.Value, err)
		}
	}
	b, _ := os.ReadFile(path)
	if string(b) != orig {
		t.Errorf("file changed to %q after refused updates, want %q", b, orig)
	}
}

func FuzzApply(f *testing.F) {
	f.Add("A=1\n# c\nexport B=2\n", "A", "v")
	f.Fuzz(func(t *testing.T, content, key, value string) {
		if !keyRE.MatchString(key) || len(value) > 200 {
			return
		}
		for _, r := range value {
			if r == '\n' || r == '\r' || r == 0 || r == '\'' {
				return
			}
		}
		out := Apply(content, []Pair{{key, value}})
		n := 0
		for _, line := range splitLines(out) {
			if k, ok := assignedKey(line); ok && k == key {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("after Apply, %d lines assign %s, want exactly 1:\n%s", n, key, out)
		}
	})
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
