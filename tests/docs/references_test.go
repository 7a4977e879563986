package docs_test

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The repository must stand on its own: what its code, configuration and docs cite is
// in the repository. A Markdown file named in upper case (README.md) or under docs/
// must exist, and so must every recipe named as `just NAME`; an issue number means
// nothing to a reader of the code and is refused.
var (
	docsFileRef  = regexp.MustCompile(`\bdocs/[A-Za-z0-9_-]+\.md\b`)
	upperFileRef = regexp.MustCompile(`\b[A-Z][A-Z0-9_]+\.md\b`)
	issueRef     = regexp.MustCompile(`(?i)\bissues? #?[0-9]+\b`)
	recipeRef    = regexp.MustCompile("`just ([a-z][a-z0-9-]*)")
)

// recipes lists the justfile's recipes, as `just --summary` prints them.
func recipes(t *testing.T) map[string]bool {
	t.Helper()
	cmd := exec.Command("just", "--summary")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("just --summary: %v (install just: npm install -g rust-just, as .ci/run does)", err)
	}
	set := map[string]bool{}
	for _, name := range strings.Fields(string(out)) {
		set[name] = true
	}
	return set
}

// citing reports whether a file is one whose text is checked: source, configuration,
// recipes and docs. Vendored and generated trees are skipped by the walk.
func citing(rel string) bool {
	base := filepath.Base(rel)
	switch {
	case base == "justfile", base == ".env.example", strings.HasPrefix(base, "Dockerfile"),
		rel == filepath.Join(".ci", "run"):
		return true
	}
	switch filepath.Ext(base) {
	case ".go", ".md", ".yaml", ".yml", ".just", ".sh", ".mjs", ".toml":
		return true
	}
	return false
}

// skippedDir is a directory the walk does not enter: version control, installed
// packages, build output and test data (which holds third-party samples).
func skippedDir(name string) bool {
	switch name {
	case ".git", "node_modules", "_build", "testdata", "bin":
		return true
	}
	return false
}

// badReferences walks root and returns one line (file:line: problem) per reference to
// a file or recipe (one of known) that does not exist and per issue number. except
// lists files (relative to root) that are not checked: the fixtures of these tests.
func badReferences(t *testing.T, root string, known map[string]bool, except ...string) []string {
	t.Helper()
	var bad []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if p != root && skippedDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		for _, e := range except {
			if rel == e {
				return nil
			}
		}
		if !citing(rel) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(data), "\n") {
			where := fmt.Sprintf("%s:%d", rel, i+1)
			for _, ref := range docsFileRef.FindAllString(line, -1) {
				if _, err := os.Stat(filepath.Join(root, ref)); err != nil {
					bad = append(bad, where+": cites "+ref+", which is not in the repository")
				}
			}
			for _, ref := range upperFileRef.FindAllString(line, -1) {
				if !existsNear(root, filepath.Dir(p), ref) {
					bad = append(bad, where+": cites "+ref+", which is not in the repository")
				}
			}
			for _, ref := range recipeRef.FindAllStringSubmatch(line, -1) {
				if !known[ref[1]] {
					bad = append(bad, where+": names `just "+ref[1]+"`, which is not a recipe")
				}
			}
			if m := issueRef.FindString(line); m != "" {
				bad = append(bad, where+": cites "+m+" of the tracker; say what is meant instead")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return bad
}

// existsNear reports whether name exists in dir, in one of its parents up to root, or
// under root's docs/.
func existsNear(root, dir, name string) bool {
	if _, err := os.Stat(filepath.Join(root, "docs", name)); err == nil {
		return true
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
		if rel, _ := filepath.Rel(root, dir); rel == "." || strings.HasPrefix(rel, "..") {
			return false
		}
		dir = filepath.Dir(dir)
	}
}

// TestReferencesStayInTheRepository: nothing in the repository cites a document that
// is not in it, or an issue number.
func TestReferencesStayInTheRepository(t *testing.T) {
	for _, b := range badReferences(t, repoRoot, recipes(t), filepath.Join("tests", "docs", "references_test.go")) {
		t.Error(b)
	}
}

// TestReferenceCheckFindsEachKind: the check above can fail, once for each kind of
// reference, and accepts what exists.
func TestReferenceCheckFindsEachKind(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"README.md":                "See docs/run.md and docs/gone.md; run `just test` or `just tset`.\n",
		"docs/run.md":              "Back to README.md; the rules are in SECURITY.md.\n",
		"svc/main.go":              "package svc\n\n// Routing as DESIGN.md says (issue 3).\n",
		"svc/ok.go":                "package svc\n\n// See README.md and docs/run.md.\n",
		"deploy/app.yaml":          "# Issue #12 asked for this.\n",
		"node_modules/x/README.md": "UPSTREAM.md issue 1\n",
	}
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := strings.Join(badReferences(t, root, map[string]bool{"test": true}), "\n")
	want := []string{
		"README.md:1: cites docs/gone.md",
		"README.md:1: names `just tset`",
		filepath.Join("docs", "run.md") + ":1: cites SECURITY.md",
		filepath.Join("svc", "main.go") + ":3: cites DESIGN.md",
		filepath.Join("svc", "main.go") + ":3: cites issue 3",
		filepath.Join("deploy", "app.yaml") + ":1: cites Issue #12",
	}
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("the check missed %q; it found:\n%s", w, got)
		}
	}
	if n := strings.Count(got, "\n") + 1; got == "" || n != len(want) {
		t.Errorf("found %d problems, want %d (ok.go and node_modules are fine):\n%s", n, len(want), got)
	}
}
