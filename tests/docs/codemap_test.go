package docs_test

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// codeMap is one component's code map: the section of a doc that names, as `dir/pkg`,
// every Go package under the component's directories.
type codeMap struct {
	doc, section string   // docs file (under docs/) and its "## " heading
	base         string   // the component's directory, relative to the repository
	dirs         []string // directories under base whose subdirectories are packages
}

var codeMaps = []codeMap{
	{"authsvc.md", "Code map", "authsvc", []string{"internal"}},
	{"bridge.md", "Code map", "mcpbridge", []string{"internal"}},
	{"interfaces.md", "Shared code", ".", []string{"internal", "internal/testsupport", "cmd"}},
}

// section returns the text of the "## heading" section of a Markdown document.
func section(doc, heading string) string {
	start := strings.Index(doc, "\n## "+heading+"\n")
	if start < 0 {
		return ""
	}
	rest := doc[start+len(heading)+5:]
	if end := strings.Index(rest, "\n## "); end >= 0 {
		rest = rest[:end]
	}
	return rest
}

// codeMapProblems compares a code map's text with the packages on disk under root: a
// package the map does not name, and a `dir/pkg` the map names that is not a package.
func codeMapProblems(t *testing.T, root string, m codeMap, text string) []string {
	t.Helper()
	var problems []string
	for _, dir := range m.dirs {
		entries, err := os.ReadDir(filepath.Join(root, m.base, dir))
		if err != nil {
			t.Fatal(err)
		}
		onDisk := map[string]bool{}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			if gos, _ := filepath.Glob(filepath.Join(root, m.base, dir, e.Name(), "*.go")); len(gos) > 0 {
				onDisk[dir+"/"+e.Name()] = true
			}
		}
		var names []string
		for name := range onDisk {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if !strings.Contains(text, "`"+name+"`") {
				problems = append(problems, m.doc+" \""+m.section+"\" does not name "+name)
			}
		}
		named := regexp.MustCompile("`(" + regexp.QuoteMeta(dir) + "/[a-z0-9_-]+)`")
		for _, match := range named.FindAllStringSubmatch(text, -1) {
			if !onDisk[match[1]] {
				problems = append(problems, m.doc+" \""+m.section+"\" names "+match[1]+", which is not a package under "+m.base)
			}
		}
	}
	return problems
}

// TestCodeMapsMatchTheTree: each component's code map names every package it has, and
// nothing else.
func TestCodeMapsMatchTheTree(t *testing.T) {
	for _, m := range codeMaps {
		data, err := os.ReadFile(filepath.Join(repoRoot, "docs", m.doc))
		if err != nil {
			t.Fatal(err)
		}
		text := section(string(data), m.section)
		if text == "" {
			t.Errorf("docs/%s has no \"## %s\" section", m.doc, m.section)
			continue
		}
		for _, p := range codeMapProblems(t, repoRoot, m, text) {
			t.Error(p)
		}
	}
}

// TestCodeMapCheckFindsDrift: a package missing from the map and a map entry with no
// package are both reported.
func TestCodeMapCheckFindsDrift(t *testing.T) {
	root := t.TempDir()
	for _, pkg := range []string{"svc/internal/kept", "svc/internal/added"} {
		if err := os.MkdirAll(filepath.Join(root, pkg), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, pkg, "x.go"), []byte("package x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	doc := "# svc\n\n## Code map\n\n| `internal/kept` | kept |\n| `internal/gone` | removed |\n\n## Tests\n\n`internal/elsewhere`\n"
	m := codeMap{"svc.md", "Code map", "svc", []string{"internal"}}
	got := strings.Join(codeMapProblems(t, root, m, section(doc, m.section)), "\n")
	for _, want := range []string{"does not name internal/added", "names internal/gone, which is not a package"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "kept") || strings.Contains(got, "elsewhere") {
		t.Errorf("reported a mapped package or text outside the section:\n%s", got)
	}
}
