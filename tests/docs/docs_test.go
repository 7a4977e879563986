// Package docs_test tests the docs site build (docs/build/build-site.mjs, run by
// `just docs`): the real docs/ build into a temp dir with every toc page, its headings
// and working links, and broken fixture docs make the build fail with a precise message.
package docs_test

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"
)

const repoRoot = "../.."

// buildTimeout is generous: the build takes about a second, but the machine is shared.
const buildTimeout = 2 * time.Minute

// builder returns the node binary and the absolute path of build-site.mjs, failing the
// test (naming the recipe that installs them) when either is missing.
func builder(t *testing.T) (node, script string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found (%v): run `just test-docs`, which installs Node/npm and the docs packages", err)
	}
	script, err = filepath.Abs(filepath.Join(repoRoot, "docs/build/build-site.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	mods := filepath.Join(filepath.Dir(script), "node_modules", "myst-parser")
	if _, err := os.Stat(mods); err != nil {
		t.Fatalf("docs/build/node_modules is not installed (%v): run `just test-docs` (or `just docs`), which runs npm ci", err)
	}
	return node, script
}

// build runs the site build of docsDir into outDir and returns its combined output.
func build(t *testing.T, docsDir, outDir string) (string, error) {
	t.Helper()
	node, script := builder(t)
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, "--docs", docsDir, "--out", outDir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// tocEntry is one entry of myst.yml's project.toc.
type tocEntry struct {
	File     string     `yaml:"file"`
	Title    string     `yaml:"title"`
	Children []tocEntry `yaml:"children"`
}

// tocFiles lists the toc's files in order, read independently of the build script.
func tocFiles(t *testing.T, mystYML string) []string {
	t.Helper()
	b, err := os.ReadFile(mystYML)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Project struct {
			Toc []tocEntry `yaml:"toc"`
		} `yaml:"project"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("%s: %v", mystYML, err)
	}
	var files []string
	var walk func([]tocEntry)
	walk = func(es []tocEntry) {
		for _, e := range es {
			if e.File != "" {
				files = append(files, e.File)
			}
			walk(e.Children)
		}
	}
	walk(cfg.Project.Toc)
	return files
}

// htmlName is where a toc page is written: the first page is the home page.
func htmlName(i int, file string) string {
	if i == 0 {
		return "index.html"
	}
	return strings.TrimSuffix(file, filepath.Ext(file)) + ".html"
}

var (
	atxHeading = regexp.MustCompile(`^(#{1,6})\s+(.+?)\s*#*\s*$`)
	fence      = regexp.MustCompile("^\\s*(```|~~~|:::)")
	mdMarkup   = regexp.MustCompile("[`*_]|\\[([^\\]]*)\\]\\([^)]*\\)")
	tag        = regexp.MustCompile(`<[^>]*>`)
	space      = regexp.MustCompile(`\s+`)
	hrefOrSrc  = regexp.MustCompile(`\s(?:href|src)="([^"]*)"`)
	idAttr     = regexp.MustCompile(`\sid="([^"]*)"`)
	scheme     = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

// headings returns the text of a Markdown file's ATX headings up to level maxDepth,
// outside code fences, with inline markup removed (as it reads in the HTML).
func headings(t *testing.T, file string, maxDepth int) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	inFence := ""
	for _, line := range strings.Split(string(b), "\n") {
		if m := fence.FindStringSubmatch(line); m != nil {
			switch {
			case inFence == "":
				inFence = m[1]
			case inFence == m[1]:
				inFence = ""
			}
			continue
		}
		if inFence != "" {
			continue
		}
		if m := atxHeading.FindStringSubmatch(line); m != nil && len(m[1]) <= maxDepth {
			out = append(out, plain(mdMarkup.ReplaceAllString(m[2], "$1")))
		}
	}
	return out
}

// plain is text with whitespace collapsed; textOf is an HTML document's visible text.
// Tags are dropped, not turned into spaces: inline markup such as the <code> in
// "Tests (<code>just test</code>)" adds no space to the text a reader sees.
func plain(s string) string { return strings.TrimSpace(space.ReplaceAllString(s, " ")) }
func textOf(doc string) string {
	return plain(html.UnescapeString(tag.ReplaceAllString(doc, "")))
}

// smart undoes the typographer's quotes and dashes so Markdown text compares to HTML text.
var smart = strings.NewReplacer("“", `"`, "”", `"`, "‘", "'", "’", "'", "–", "--", "—", "---")

// checkLinks reports every local href/src in the site's pages that names a missing file
// or a #fragment the target page has no id for.
func checkLinks(t *testing.T, site string, pages []string) {
	t.Helper()
	ids := map[string]map[string]bool{}
	docs := map[string]string{}
	for _, p := range pages {
		b, err := os.ReadFile(filepath.Join(site, p))
		if err != nil {
			t.Fatalf("page %s: %v", p, err)
		}
		docs[p] = string(b)
		ids[p] = map[string]bool{}
		for _, m := range idAttr.FindAllStringSubmatch(string(b), -1) {
			ids[p][html.UnescapeString(m[1])] = true
		}
	}
	for _, p := range pages {
		links := 0
		for _, m := range hrefOrSrc.FindAllStringSubmatch(docs[p], -1) {
			raw := html.UnescapeString(m[1])
			if scheme.MatchString(raw) || strings.HasPrefix(raw, "//") {
				continue
			}
			links++
			u, err := url.Parse(raw)
			if err != nil {
				t.Errorf("%s: link %q: %v", p, raw, err)
				continue
			}
			target := p
			if u.Path != "" {
				target = path.Join(path.Dir(p), u.Path)
			}
			if _, err := os.Stat(filepath.Join(site, filepath.FromSlash(target))); err != nil {
				t.Errorf("%s: link %q: target %s is not in the site", p, raw, target)
				continue
			}
			if u.Fragment != "" {
				if targetIDs, ok := ids[target]; !ok || !targetIDs[u.Fragment] {
					t.Errorf("%s: link %q: %s has no element with id %q", p, raw, target, u.Fragment)
				}
			}
		}
		// Every page links at least to the stylesheet and, in its sidebar, to every page.
		if links < len(pages)+1 {
			t.Errorf("%s: %d local links, want at least %d (stylesheet + sidebar)", p, links, len(pages)+1)
		}
	}
}

// TestRealDocsSite builds the real docs/ and checks every toc page: it exists, its
// title is its first heading, it shows every section heading of its source, the
// sidebar links every page, and every local link and anchor in the site resolves.
func TestRealDocsSite(t *testing.T) {
	docsDir, err := filepath.Abs(filepath.Join(repoRoot, "docs"))
	if err != nil {
		t.Fatal(err)
	}
	site := filepath.Join(t.TempDir(), "html")
	if out, err := build(t, docsDir, site); err != nil {
		t.Fatalf("build of docs/ failed: %v\n%s", err, out)
	}
	files := tocFiles(t, filepath.Join(docsDir, "myst.yml"))
	if len(files) < 2 {
		t.Fatalf("docs/myst.yml toc lists %d pages, want the index and the component pages", len(files))
	}
	var pages []string
	for i, f := range files {
		pages = append(pages, htmlName(i, f))
	}
	for i, f := range files {
		t.Run(f, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(site, pages[i]))
			if err != nil {
				t.Fatalf("toc page %s produced no HTML: %v", f, err)
			}
			doc := string(b)
			heads := headings(t, filepath.Join(docsDir, f), 3)
			if len(heads) == 0 {
				t.Fatalf("docs/%s has no heading", f)
			}
			title := regexp.MustCompile(`<h1 class="page-title">([^<]*)</h1>`).FindStringSubmatch(doc)
			if title == nil || smart.Replace(plain(html.UnescapeString(title[1]))) != smart.Replace(heads[0]) {
				t.Errorf("page title %q, want the first heading of docs/%s %q", title, f, heads[0])
			}
			text := smart.Replace(textOf(doc))
			for _, h := range heads[1:] {
				if !strings.Contains(text, smart.Replace(h)) {
					t.Errorf("%s: heading %q of docs/%s is not in the page", pages[i], h, f)
				}
			}
			for j, other := range pages {
				if !strings.Contains(doc, fmt.Sprintf(`href="%s"`, other)) {
					t.Errorf("%s: sidebar has no link to %s (docs/%s)", pages[i], other, files[j])
				}
			}
		})
	}
	checkLinks(t, site, pages)
}

// writeFixture writes files (path -> content) into a fresh docs directory.
func writeFixture(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const fixtureToc = "project:\n  title: Fixture\n  toc:\n    - file: index.md\n    - title: Part\n      children:\n        - file: guide/b.md\n"

// TestBuildResolvesLinks: .md links become .html links relative to the page, {ref} and
// [](#label) reach labels on other pages, an {include}d file's links resolve against
// its own directory, and files linked under docs/ are copied into the site.
func TestBuildResolvesLinks(t *testing.T) {
	t.Parallel()
	dir := writeFixture(t, map[string]string{
		"myst.yml": fixtureToc,
		"index.md": "# Home\n\nSee [the guide](guide/b.md), [its setup](guide/b.md#set-up), {ref}`labelled`, [](#labelled) and {ref}`Odd_Label`.\n\n" +
			"![diagram](img/d.svg)\n\n```{include} parts/inc.md\n```\n",
		"parts/inc.md": "Included: [back to the guide](../guide/b.md#set-up).\n",
		"guide/b.md":   "# Guide\n\n## Set up\n\n(labelled)=\n## Labelled section\n\n(Odd_Label)=\n## Odd\n\nBack [home](../index.md).\n",
		"img/d.svg":    `<svg xmlns="http://www.w3.org/2000/svg"/>`,
	})
	site := filepath.Join(t.TempDir(), "site")
	if out, err := build(t, dir, site); err != nil {
		t.Fatalf("build failed: %v\n%s", err, out)
	}
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(site, p))
		if err != nil {
			t.Fatalf("site has no %s: %v", p, err)
		}
		return string(b)
	}
	index, guide := read("index.html"), read("guide/b.html")
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"md link to page", index, `href="guide/b.html"`},
		{"md link with anchor", index, `href="guide/b.html#set-up"`},
		{"ref role to other page", index, `href="guide/b.html#labelled"`},
		{"included file's link", index, `Included: <a href="guide/b.html#set-up"`},
		{"image under docs", index, `src="img/d.svg"`},
		{"link up a directory", guide, `href="../index.html"`},
		{"heading id", guide, `id="set-up"`},
		{"label id", guide, `id="labelled"`},
		{"ref to a label that is not an html id", index, `href="guide/b.html#odd-label"`},
		{"html id of that label", guide, `id="odd-label"`},
		{"stylesheet from subdir", guide, `href="../site.css"`},
		{"sidebar section", guide, `<span>Part</span>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(tc.doc, tc.want) {
				t.Errorf("want %s in the page, got:\n%s", tc.want, tc.doc)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(site, "img/d.svg")); err != nil {
		t.Errorf("linked image not copied into the site: %v", err)
	}
	checkLinks(t, site, []string{"index.html", "guide/b.html"})
}

// TestBuildFailsLoudly: each broken docs tree makes the build exit non-zero, name the
// problem and leave no site behind.
func TestBuildFailsLoudly(t *testing.T) {
	t.Parallel()
	ok := "# Guide\n\n## Set up\n"
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"toc file missing", map[string]string{"myst.yml": fixtureToc, "index.md": "# Home\n"},
			`file "guide/b.md" does not exist`},
		{"no toc", map[string]string{"myst.yml": "project:\n  title: X\n", "index.md": "# Home\n"},
			"project.toc is missing or empty"},
		{"bad yaml", map[string]string{"myst.yml": "project: [\n", "index.md": "# Home\n"},
			"myst.yml"},
		{"link to a page not in the toc", map[string]string{"myst.yml": fixtureToc, "guide/b.md": ok,
			"index.md": "# Home\n\n[x](other.md)\n", "other.md": "# Other\n"},
			"other.md is not a page in myst.yml's toc"},
		{"link to a missing file", map[string]string{"myst.yml": fixtureToc, "guide/b.md": ok,
			"index.md": "# Home\n\n[x](gone.txt)\n"},
			"gone.txt does not exist"},
		{"anchor missing on the other page", map[string]string{"myst.yml": fixtureToc, "guide/b.md": ok,
			"index.md": "# Home\n\n[x](guide/b.md#tear-down)\n"},
			`guide/b.html has no id "tear-down"`},
		{"anchor missing on the page", map[string]string{"myst.yml": fixtureToc, "guide/b.md": ok,
			"index.md": "# Home\n\n[x](#nowhere)\n"},
			`No target for internal reference "#nowhere"`},
		{"unknown ref label", map[string]string{"myst.yml": fixtureToc, "guide/b.md": ok,
			"index.md": "# Home\n\n{ref}`no-such-label`\n"},
			`reference "no-such-label" has no target`},
		{"unknown directive", map[string]string{"myst.yml": fixtureToc, "guide/b.md": ok,
			"index.md": "# Home\n\n```{nosuchdirective}\nx\n```\n"},
			"unknown directive: nosuchdirective"},
		{"missing include", map[string]string{"myst.yml": fixtureToc, "guide/b.md": ok,
			"index.md": "# Home\n\n```{include} nope.md\n```\n"},
			`{include}: "nope.md" not found`},
		{"page without a title", map[string]string{"myst.yml": fixtureToc, "guide/b.md": ok,
			"index.md": "Just text.\n"},
			"page has no title"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := writeFixture(t, tc.files)
			site := filepath.Join(t.TempDir(), "site")
			out, err := build(t, dir, site)
			if err == nil {
				t.Fatalf("build succeeded, want failure mentioning %q; output:\n%s", tc.want, out)
			}
			if !strings.Contains(out, "docs: build failed") || !strings.Contains(out, tc.want) {
				t.Errorf("build output does not name the problem %q:\n%s", tc.want, out)
			}
			if _, err := os.Stat(site); !os.IsNotExist(err) {
				t.Errorf("failed build left %s behind (stat: %v)", site, err)
			}
		})
	}
}
