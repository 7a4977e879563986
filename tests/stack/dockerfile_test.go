package stack_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction with continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, COPY, RUN, …
	args string
	line int
}

func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		more := strings.HasSuffix(line, "\\")
		cur.WriteString(strings.TrimSuffix(line, "\\"))
		cur.WriteString(" ")
		if more {
			continue
		}
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur.Len() > 0 {
		t.Fatalf("%s ends inside a continued instruction", path)
	}
	return out
}

var knownInstructions = []string{"FROM", "ARG", "ENV", "RUN", "COPY", "ADD", "WORKDIR", "USER", "EXPOSE", "ENTRYPOINT", "CMD", "LABEL", "HEALTHCHECK", "VOLUME", "STOPSIGNAL", "SHELL"}

// goVersion is the go directive of the root go.mod ("1.26"), which the golang build
// images must match.
func goVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(repoPath(t, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return string(m[1])
}

// TestDockerfiles checks what can be checked without building: the syntax, pinned
// base images, stages, that every COPY source exists and is not excluded by the
// Dockerfile's .dockerignore, that `go build` targets are main packages, that the
// entrypoint is a binary the image gets, and that each compose service's healthcheck
// command exists in its image.
func TestDockerfiles(t *testing.T) {
	st, _ := loadStack(t)
	goVer := goVersion(t)
	for _, name := range st.Project.ServiceNames() {
		svc := st.Project.Services[name]
		if svc.Build == nil {
			continue
		}
		t.Run(name, func(t *testing.T) {
			if svc.Build.Context != repoPath(t, ".") {
				t.Errorf("build context %s, want the repository root", svc.Build.Context)
			}
			path := filepath.Join(svc.Build.Context, svc.Build.Dockerfile)
			ins := parseDockerfile(t, path)
			ignore := readDockerignore(t, path+".dockerignore")
			stages := map[string]bool{}
			finalBinaries := map[string]bool{}
			var lastFrom string
			args := map[string]bool{}
			var copied, built []string
			for _, in := range ins {
				if !slices.Contains(knownInstructions, in.cmd) {
					t.Errorf("line %d: unknown instruction %s", in.line, in.cmd)
				}
				switch in.cmd {
				case "FROM":
					f := strings.Fields(in.args)
					image := f[0]
					if !strings.Contains(image, ":") || strings.HasSuffix(image, ":latest") {
						t.Errorf("line %d: base image %s is not pinned to a tag", in.line, image)
					}
					if strings.HasPrefix(image, "golang:") && !strings.HasPrefix(strings.TrimPrefix(image, "golang:"), goVer) {
						t.Errorf("line %d: %s does not match go.mod's go %s", in.line, image, goVer)
					}
					if len(f) == 3 && strings.EqualFold(f[1], "AS") {
						stages[f[2]] = true
					}
					lastFrom = image
					finalBinaries = map[string]bool{}
					args = map[string]bool{}
				case "ARG":
					args[strings.SplitN(in.args, "=", 2)[0]] = true
				case "COPY":
					copied = append(copied, checkCopy(t, in, stages, ignore, finalBinaries)...)
				case "RUN":
					if pkg := checkGoBuild(t, in); pkg != "" {
						built = append(built, pkg)
					}
					if strings.Contains(in.args, "$MCP_PACKAGE") && !args["MCP_PACKAGE"] {
						t.Errorf("line %d: uses $MCP_PACKAGE without ARG MCP_PACKAGE in this stage", in.line)
					}
				case "ENTRYPOINT":
					ep := strings.Trim(strings.Fields(strings.Trim(in.args, "[]"))[0], `",`)
					if !finalBinaries[ep] {
						t.Errorf("line %d: entrypoint %s is not copied into the final stage", in.line, ep)
					}
				}
			}
			checkHealthcheckBinary(t, svc.HealthCheck.Test, lastFrom, finalBinaries)
			for _, pkg := range built {
				checkBuildInputs(t, pkg, copied)
			}
			if _, ok := svc.Build.Args["MCP_PACKAGE"]; strings.Contains(path, "bridge-") && !ok {
				t.Errorf("bridge image built without the MCP_PACKAGE build arg")
			}
		})
	}
}

// checkCopy checks one COPY and returns its sources from the build context.
func checkCopy(t *testing.T, in instruction, stages map[string]bool, ignore []string, binaries map[string]bool) []string {
	t.Helper()
	f := strings.Fields(in.args)
	from := ""
	var rest []string
	for _, a := range f {
		if v, ok := strings.CutPrefix(a, "--from="); ok {
			from = v
			continue
		}
		if strings.HasPrefix(a, "--") {
			continue
		}
		rest = append(rest, a)
	}
	if len(rest) < 2 {
		t.Errorf("line %d: COPY needs a source and a destination", in.line)
		return nil
	}
	srcs, dst := rest[:len(rest)-1], rest[len(rest)-1]
	if from != "" {
		if !stages[from] && !strings.Contains(from, ":") {
			t.Errorf("line %d: COPY --from=%s names no earlier stage", in.line, from)
		}
		if strings.HasPrefix(dst, "/usr/local/bin/") {
			binaries[dst] = true
			binaries[filepath.Base(dst)] = true
		}
		return nil
	}
	for _, src := range srcs {
		if !exists(repoPath(t, src)) {
			t.Errorf("line %d: COPY source %s does not exist in the repository", in.line, src)
		}
		if !dockerignoreKeeps(ignore, src) {
			t.Errorf("line %d: COPY source %s is excluded by the .dockerignore", in.line, src)
		}
	}
	return srcs
}

// checkBuildInputs: every package of this repository that pkg imports lies in a
// directory the Dockerfile copies into the build stage (else the image build fails
// with "package not found" although the repository builds).
func checkBuildInputs(t *testing.T, pkg string, copied []string) {
	t.Helper()
	module := modulePath(t)
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pkg)
	cmd.Dir = repoPath(t, ".")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	for _, imp := range strings.Fields(string(out)) {
		rel, ok := strings.CutPrefix(imp, module+"/")
		if !ok {
			continue
		}
		inside := false
		for _, c := range copied {
			c = strings.TrimSuffix(strings.TrimPrefix(c, "./"), "/")
			if rel == c || strings.HasPrefix(rel, c+"/") {
				inside = true
			}
		}
		if !inside {
			t.Errorf("%s imports %s, which no COPY brings into the build stage", pkg, imp)
		}
	}
}

var goBuildTarget = regexp.MustCompile(`go build [^&;]*?(\./[\w/.-]+)\s*$|go build [^&;]*?(\./[\w/.-]+)\s*(&&|;)`)

// checkGoBuild: the package a `go build` compiles is a main package in the
// repository; it returns that package ("" when the instruction builds nothing).
func checkGoBuild(t *testing.T, in instruction) string {
	t.Helper()
	if !strings.Contains(in.args, "go build") {
		return ""
	}
	m := goBuildTarget.FindStringSubmatch(in.args)
	if m == nil {
		t.Errorf("line %d: cannot find the package of %q", in.line, in.args)
		return ""
	}
	pkg := m[1] + m[2]
	files, _ := filepath.Glob(repoPath(t, filepath.Join(pkg, "*.go")))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err == nil && regexp.MustCompile(`(?m)^package main\b`).Match(b) {
			return pkg
		}
	}
	t.Errorf("line %d: go build %s: no main package there", in.line, pkg)
	return ""
}

// baseImageTools are commands the base images ship, which healthchecks may use.
var baseImageTools = map[string][]string{
	"alpine:": {"wget", "sh"},
}

func checkHealthcheckBinary(t *testing.T, test []string, base string, binaries map[string]bool) {
	t.Helper()
	if len(test) < 2 || test[0] != "CMD" {
		return
	}
	bin := test[1]
	if binaries[bin] {
		return
	}
	for prefix, tools := range baseImageTools {
		if strings.HasPrefix(base, prefix) && slices.Contains(tools, bin) {
			return
		}
	}
	t.Errorf("healthcheck runs %s, which the image (final stage %s) neither copies nor ships", bin, base)
}

func readDockerignore(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: every image has its own .dockerignore so .env and keys never reach the build context", err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	if len(out) == 0 || out[0] != "*" {
		t.Errorf("%s should start with * (allow-list), got %v", path, out)
	}
	for _, secret := range []string{".env", "keys/"} {
		if dockerignoreKeeps(out, secret) {
			t.Errorf("%s lets %s into the build context", path, secret)
		}
	}
	return out
}

// dockerignoreKeeps evaluates an allow-list style .dockerignore ("*" then "!path/")
// for a top-level path: the last matching line wins.
func dockerignoreKeeps(lines []string, src string) bool {
	src = strings.TrimSuffix(strings.TrimPrefix(src, "./"), "/")
	keep := true
	for _, l := range lines {
		neg := strings.HasPrefix(l, "!")
		pat := strings.TrimSuffix(strings.TrimPrefix(l, "!"), "/")
		if pat == "*" || pat == src || strings.HasPrefix(src, pat+"/") {
			keep = neg
		}
	}
	return keep
}
