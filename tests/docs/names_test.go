package docs_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// What the docs name in code spans (`…`) must exist: a repository path, an environment
// variable (some file other than Markdown reads or sets it) and a command-line flag
// (some such file defines or passes it).
var (
	codeSpan = regexp.MustCompile("`([^`\n]+)`")
	envName  = regexp.MustCompile(`(?:^|[^\w-])([A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9])\b`)
	flagName = regexp.MustCompile(`(?:^|[^\w-])--([a-z][a-z0-9-]*[a-z0-9])\b`)
	pathName = regexp.MustCompile(`(?:^|[^\w./-])((?:authsvc|mcpbridge|plugin|internal|cmd|compose|traefik|scripts|deploy|tests|docs|just|\.ci)/[\w./-]*[\w/])`)
)

// externalFlags are flags the docs name of other programs, which no file here passes.
var externalFlags = map[string]string{
	"init": "docker run --init, advice for running a bridge image by hand",
}

// componentDocs resolve a code map's `internal/x` against the component's directory.
var componentDocs = map[string]string{"authsvc.md": "authsvc", "bridge.md": "mcpbridge"}

// builtPaths are outputs that exist after a build, not in the repository.
var builtPaths = []string{"docs/_build", "coverage", "bin"}

// namesProblems checks the docs (README.md and docs/*.md under root) against known: the
// text of every tracked file that is not Markdown.
func namesProblems(root string, docs []string, known string) []string {
	var problems []string
	seen := map[string]bool{}
	report := func(doc, what string) {
		if p := doc + ": " + what; !seen[p] {
			seen[p] = true
			problems = append(problems, p)
		}
	}
	for _, doc := range docs {
		data, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			report(doc, err.Error())
			continue
		}
		for _, span := range codeSpan.FindAllStringSubmatch(string(data), -1) {
			s := span[1]
			for _, m := range envName.FindAllStringSubmatch(s, -1) {
				if !strings.Contains(known, m[1]) {
					report(doc, fmt.Sprintf("names the variable %s, which nothing reads or sets", m[1]))
				}
			}
			for _, m := range flagName.FindAllStringSubmatch(s, -1) {
				if externalFlags[m[1]] == "" && !strings.Contains(known, `"`+m[1]+`"`) && !strings.Contains(known, "--"+m[1]) {
					report(doc, fmt.Sprintf("names the flag --%s, which nothing defines or passes", m[1]))
				}
			}
			if strings.ContainsAny(s, "<{*…$") {
				continue // a pattern, not a path
			}
			for _, m := range pathName.FindAllStringSubmatch(s, -1) {
				if !pathExists(root, doc, strings.TrimSuffix(m[1], "/")) {
					report(doc, fmt.Sprintf("names %s, which does not exist", m[1]))
				}
			}
		}
	}
	sort.Strings(problems)
	return problems
}

func pathExists(root, doc, p string) bool {
	for _, b := range builtPaths {
		if p == b || strings.HasPrefix(p, b+"/") {
			return true
		}
	}
	if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(p))); err == nil {
		return true
	}
	if base, ok := componentDocs[filepath.Base(doc)]; ok {
		if _, err := os.Stat(filepath.Join(root, base, filepath.FromSlash(p))); err == nil {
			return true
		}
	}
	return false
}

// trackedText returns the text of every file git tracks under root that is not
// Markdown: what reads, sets, defines or passes a name.
func trackedText(t *testing.T, root string) string {
	t.Helper()
	cmd := exec.Command("git", "ls-files")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	var b strings.Builder
	for _, f := range strings.Fields(string(out)) {
		if strings.HasSuffix(f, ".md") || strings.HasPrefix(f, "docs/build/") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			continue // listed but not checked out (deleted in the working tree)
		}
		b.Write(data)
		b.WriteByte('\n')
	}
	return b.String()
}

// TestDocsNameWhatExists: every path, environment variable and flag the README and the
// docs name in code spans exists.
func TestDocsNameWhatExists(t *testing.T) {
	docs := []string{"README.md"}
	pages, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil || len(pages) < 5 {
		t.Fatalf("docs/*.md: %v %v", pages, err)
	}
	for _, p := range pages {
		docs = append(docs, filepath.ToSlash(filepath.Join("docs", filepath.Base(p))))
	}
	for _, p := range namesProblems(repoRoot, docs, trackedText(t, repoRoot)) {
		t.Error(p)
	}
}

// TestNamesCheckFindsEachKind: a missing path, variable and flag are each found; what
// exists, header spellings, patterns, build output and component-relative paths pass.
func TestNamesCheckFindsEachKind(t *testing.T) {
	root := t.TempDir()
	for name, content := range map[string]string{
		"authsvc/internal/store/store.go": "package store\n",
		"scripts/run.sh":                  "AUTH_PORT=1 app --spares 2\n",
		"docs/authsvc.md": "Set `AUTH_PORT` and `AUTH_GONE`; run with `--spares 2` or `--sparse`.\n" +
			"See `internal/store`, `scripts/run.sh`, `scripts/gone.sh`, `compose/mcp-<name>.yaml`,\n" +
			"`X-USER_ID`, `docs/_build/html` and `docker run --init`.\n",
	} {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := namesProblems(root, []string{"docs/authsvc.md"}, "AUTH_PORT=1 app --spares 2\n")
	want := []string{
		"docs/authsvc.md: names scripts/gone.sh, which does not exist",
		"docs/authsvc.md: names the flag --sparse, which nothing defines or passes",
		"docs/authsvc.md: names the variable AUTH_GONE, which nothing reads or sets",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
