package docs_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// floorLine is one line of docs/authsvc.md's layout diagram: "floor N   pkg (…)   pkg".
var floorLine = regexp.MustCompile(`^floor (\d+)\s+(.*)$`)

// docFloors reads the floors of the layout diagram in a code map section: the first
// word of each column (columns are separated by two or more spaces).
func docFloors(text string) (map[string]int, error) {
	floors := map[string]int{}
	for _, line := range strings.Split(text, "\n") {
		m := floorLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		for _, col := range regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(m[2]), -1) {
			if name := strings.Fields(col); len(name) > 0 {
				floors[name[0]] = n
			}
		}
	}
	if len(floors) == 0 {
		return nil, fmt.Errorf("no \"floor N  pkg  pkg\" lines")
	}
	return floors, nil
}

// layoutProblems compares the floors a doc gives with the import graph of the packages
// the binary is built from (pkg → the component's packages it imports, by last path
// element): every package is on the diagram, every import points to a lower floor,
// and each package's floor is one above its highest import (0 for none), so the
// diagram neither hides nor invents a floor.
func layoutProblems(floors map[string]int, imports map[string][]string) []string {
	var problems []string
	var names []string
	for p := range imports {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		f, ok := floors[p]
		if !ok {
			problems = append(problems, fmt.Sprintf("package %s is not on the diagram", p))
			continue
		}
		want := 0
		for _, q := range imports[p] {
			fq, ok := floors[q]
			if !ok {
				continue // reported for q itself
			}
			if fq >= f {
				problems = append(problems, fmt.Sprintf("%s (floor %d) imports %s (floor %d)", p, f, q, fq))
			}
			want = max(want, fq+1)
		}
		if f > want {
			problems = append(problems, fmt.Sprintf("%s is on floor %d, but its highest import puts it on floor %d", p, f, want))
		}
	}
	for p := range floors {
		if _, ok := imports[p]; !ok {
			problems = append(problems, fmt.Sprintf("the diagram names %s, which the binary does not build from", p))
		}
	}
	sort.Strings(problems)
	return problems
}

// authsvcImports lists, with go list, the authsvc packages the authsvc binary is built
// from and which of them each imports (the main package is "authsvc").
func authsvcImports(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}|{{join .Imports ","}}`, "./authsvc")
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "github.com/mcp-oauth-gateway/gateway/authsvc"
	short := func(p string) (string, bool) {
		if p == mod {
			return "authsvc", true
		}
		if rest, ok := strings.CutPrefix(p, mod+"/internal/"); ok {
			return rest, true
		}
		return "", false
	}
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, deps, _ := strings.Cut(line, "|")
		p, ok := short(path)
		if !ok {
			continue
		}
		imports[p] = nil
		for _, d := range strings.Split(deps, ",") {
			if q, ok := short(d); ok {
				imports[p] = append(imports[p], q)
			}
		}
	}
	return imports
}

// TestAuthsvcLayout: docs/authsvc.md's floor diagram is authsvc's import graph.
func TestAuthsvcLayout(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "authsvc.md"))
	if err != nil {
		t.Fatal(err)
	}
	floors, err := docFloors(section(string(doc), "Code map"))
	if err != nil {
		t.Fatalf("docs/authsvc.md Code map: %v", err)
	}
	imports := authsvcImports(t)
	if len(imports) < 5 {
		t.Fatalf("go list found only %v", imports)
	}
	for _, p := range layoutProblems(floors, imports) {
		t.Errorf("docs/authsvc.md Code map: %s", p)
	}
}

// TestLayoutProblemsBite: the comparison finds a hidden package, an import up or
// sideways, a floor too high and a package the binary lacks.
func TestLayoutProblemsBite(t *testing.T) {
	imports := map[string][]string{"main": {"web", "core"}, "web": {"core", "db"}, "db": {"core"}, "core": nil}
	good := map[string]int{"main": 3, "web": 2, "db": 1, "core": 0}
	if p := layoutProblems(good, imports); len(p) != 0 {
		t.Fatalf("a true diagram: %v", p)
	}
	cases := map[string]map[string]int{
		"package db is not on the diagram":                              {"main": 3, "web": 2, "core": 0},
		"web (floor 1) imports db (floor 1)":                            {"main": 3, "web": 1, "db": 1, "core": 0},
		"db is on floor 2, but its highest import puts it on floor 1":   {"main": 3, "web": 3, "db": 2, "core": 0},
		"the diagram names cache, which the binary does not build from": {"main": 3, "web": 2, "db": 1, "core": 0, "cache": 0},
	}
	for want, floors := range cases {
		if p := layoutProblems(floors, imports); !slices.Contains(p, want) {
			t.Errorf("floors %v: problems %v, want %q", floors, p, want)
		}
	}
	text := "```text\nfloor 1   web (every handler)   db\nfloor 0   core (domain)\n```"
	if f, err := docFloors(text); err != nil || len(f) != 3 || f["db"] != 1 || f["core"] != 0 {
		t.Errorf("docFloors = %v, %v", f, err)
	}
}
