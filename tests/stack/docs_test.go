package stack_test

import (
	"path/filepath"
	"slices"
	"testing"
)

// tocFiles lists the file entries of docs/myst.yml's table of contents.
func tocFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	var walk func(entries any)
	walk = func(entries any) {
		list, _ := entries.([]any)
		for _, e := range list {
			if f, ok := dig(e, "file").(string); ok {
				files = append(files, f)
			}
			walk(dig(e, "children"))
		}
	}
	walk(dig(readYAML(t, "docs/myst.yml"), "project", "toc"))
	return files
}

// TestDocsSite: every page in docs/ is in the site's table of contents (a page left
// out would not be built), and the pages this component owns exist.
func TestDocsSite(t *testing.T) {
	toc := tocFiles(t)
	pages, _ := filepath.Glob(repoPath(t, "docs/*.md"))
	for _, p := range pages {
		if !slices.Contains(toc, filepath.Base(p)) {
			t.Errorf("docs/%s is not in docs/myst.yml's toc", filepath.Base(p))
		}
	}
	for _, own := range []string{"index.md", "stack.md", "interfaces.md"} {
		if !slices.Contains(toc, own) || !exists(repoPath(t, "docs/"+own)) {
			t.Errorf("docs/%s missing from the toc or the repository", own)
		}
	}
	if got := dig(readYAML(t, "docs/myst.yml"), "site", "template"); got != "book-theme" {
		t.Errorf("site template %v, want book-theme", got)
	}
}
