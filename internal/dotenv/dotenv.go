// Package dotenv updates KEY=VALUE lines of a .env file in place, keeping every other
// line (comments, blank lines, other variables) exactly as it was. `just` loads the
// file with `set dotenv-load`; the client tooling writes tokens into it.
package dotenv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// ErrBadValue is returned for keys or values that cannot be written safely.
var ErrBadValue = errors.New("dotenv: value cannot be written")

var keyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Pair is one variable to set. A slice of pairs keeps the order of appended lines
// stable.
type Pair struct{ Key, Value string }

// Update sets each pair in the file at path: the first line assigning the key
// (`KEY=…` or `export KEY=…`) is replaced, later duplicates are removed so the new
// value wins whichever the reader prefers, and keys not yet present are appended. A
// missing file is created with mode 0600; an existing file keeps its mode. The file
// is replaced atomically (write to a temporary file, then rename).
func Update(path string, pairs []Pair) error {
	for _, p := range pairs {
		if !keyRE.MatchString(p.Key) {
			return fmt.Errorf("%w: bad key %q", ErrBadValue, p.Key)
		}
		if strings.ContainsAny(p.Value, "\r\n\x00'") {
			return fmt.Errorf("%w: value of %s contains a line break, NUL or single quote", ErrBadValue, p.Key)
		}
	}
	mode := fs.FileMode(0o600)
	old, err := os.ReadFile(path)
	switch {
	case err == nil:
		if st, err := os.Stat(path); err == nil {
			mode = st.Mode().Perm()
		}
	case errors.Is(err, fs.ErrNotExist):
	default:
		return fmt.Errorf("dotenv: %w", err)
	}
	out := Apply(string(old), pairs)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".env.tmp-*")
	if err != nil {
		return fmt.Errorf("dotenv: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(out); err != nil {
		tmp.Close()
		return fmt.Errorf("dotenv: %w", err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("dotenv: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("dotenv: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("dotenv: %w", err)
	}
	return nil
}

// Apply returns content with the pairs set (see [Update]). Values must already be
// free of line breaks and single quotes ([Update] checks).
func Apply(content string, pairs []Pair) string {
	lines := strings.SplitAfter(content, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	want := map[string]string{}
	for _, p := range pairs {
		want[p.Key] = p.Value
	}
	done := map[string]bool{}
	var b strings.Builder
	for _, line := range lines {
		key, ok := assignedKey(line)
		if v, set := want[key]; ok && set {
			if done[key] {
				continue // a later duplicate would override the new value
			}
			done[key] = true
			b.WriteString(key + "=" + quote(v) + "\n")
			continue
		}
		b.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			b.WriteString("\n")
		}
	}
	for _, p := range pairs {
		if !done[p.Key] {
			done[p.Key] = true
			b.WriteString(p.Key + "=" + quote(want[p.Key]) + "\n")
		}
	}
	return b.String()
}

// assignedKey returns the variable a line assigns, if it is an assignment.
func assignedKey(line string) (string, bool) {
	s := strings.TrimSpace(line)
	s = strings.TrimPrefix(s, "export ")
	s = strings.TrimLeft(s, " \t")
	i := strings.IndexByte(s, '=')
	if i <= 0 {
		return "", false
	}
	k := strings.TrimSpace(s[:i])
	if !keyRE.MatchString(k) {
		return "", false
	}
	return k, true
}

// quote leaves simple values bare and single-quotes the rest, so that neither just's
// dotenv reader nor a shell `source` expands `$` or `#` in them.
func quote(v string) string {
	if v == "" {
		return ""
	}
	simple := true
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:/+=@,", r)) {
			simple = false
			break
		}
	}
	if simple {
		return v
	}
	return "'" + v + "'"
}
