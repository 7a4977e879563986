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

// stage is one FROM … AS name section of the Dockerfile.
type stage struct {
	name, base string // base: the image after ARG defaults are applied
	from       string // the FROM image as written, e.g. ${GO_IMAGE}
	ins        []instruction
}

// splitStages splits a Dockerfile into its global ARG defaults and its stages.
func splitStages(t *testing.T, ins []instruction) (map[string]string, []stage) {
	t.Helper()
	global := map[string]string{}
	var stages []stage
	for _, in := range ins {
		switch {
		case in.cmd == "ARG" && len(stages) == 0:
			k, v, _ := strings.Cut(in.args, "=")
			global[k] = v
		case in.cmd == "FROM":
			f := strings.Fields(in.args)
			base := os.Expand(f[0], func(k string) string { return global[k] })
			st := stage{base: base, from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
		case len(stages) == 0:
			t.Errorf("line %d: %s before the first FROM", in.line, in.cmd)
		default:
			stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
		}
	}
	return global, stages
}

// TestDockerfiles checks what can be checked without building, for every service
// image (each a target of the one Dockerfile): the syntax, base images that are
// arguments with pinned official defaults (so that hosts without a registry can pass
// stand-ins) and that each service passes them all, that every COPY source exists and
// is not excluded by the root .dockerignore, that `go build` targets are main
// packages whose imports the build stage copies, that the entrypoint is a binary the
// image gets, and that each compose service's healthcheck command exists in its image.
func TestDockerfiles(t *testing.T) {
	st, _ := loadStack(t)
	goVer := goVersion(t)
	ignore := readDockerignore(t, repoPath(t, ".dockerignore"))
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
			if exists(path + ".dockerignore") {
				t.Errorf("%s.dockerignore exists: BuildKit would use it instead of the root .dockerignore", path)
			}
			global, stages := splitStages(t, parseDockerfile(t, path))
			for arg, def := range global {
				if !strings.HasSuffix(arg, "_IMAGE") {
					continue
				}
				if !strings.Contains(def, ":") || strings.HasSuffix(def, ":latest") {
					t.Errorf("ARG %s=%s: base image not pinned to a tag", arg, def)
				}
				if strings.HasPrefix(def, "golang:") && !strings.HasPrefix(strings.TrimPrefix(def, "golang:"), goVer) {
					t.Errorf("ARG %s=%s does not match go.mod's go %s", arg, def, goVer)
				}
			}
			// The classic builder builds every stage up to the target: the service passes
			// the base image argument of each (valueless, so the environment's value or
			// else the Dockerfile's default applies), so that a stand-in reaches every FROM.
			rawArgs := rawBuildArgs(t, name)
			for _, sg := range stages {
				for _, m := range regexp.MustCompile(`\$\{?(\w+)`).FindAllStringSubmatch(sg.from, -1) {
					if v, ok := rawArgs[m[1]]; !ok || v != nil {
						t.Errorf("stage %s is FROM %s, but the service's build args lack a valueless %s", sg.name, sg.from, m[1])
					}
				}
				if sg.name == svc.Build.Target {
					break
				}
			}
			names := map[string]bool{}
			var target *stage
			var copied, built []string
			for i := range stages {
				sg := &stages[i]
				binaries := map[string]bool{}
				args := map[string]bool{}
				for _, in := range sg.ins {
					if !slices.Contains(knownInstructions, in.cmd) {
						t.Errorf("line %d: unknown instruction %s", in.line, in.cmd)
					}
					switch in.cmd {
					case "ARG":
						args[strings.SplitN(in.args, "=", 2)[0]] = true
					case "COPY":
						copied = append(copied, checkCopy(t, in, names, ignore, binaries)...)
					case "RUN":
						built = append(built, checkGoBuild(t, in)...)
						if strings.Contains(in.args, "$MCP_PACKAGE") && !args["MCP_PACKAGE"] {
							t.Errorf("line %d: uses $MCP_PACKAGE without ARG MCP_PACKAGE in this stage", in.line)
						}
					case "ENTRYPOINT":
						ep := strings.Trim(strings.Fields(strings.Trim(in.args, "[]"))[0], `",`)
						if !binaries[ep] {
							t.Errorf("line %d: entrypoint %s is not copied into stage %s", in.line, ep, sg.name)
						}
					}
				}
				if sg.name == svc.Build.Target {
					target = sg
					checkHealthcheckBinary(t, svc.HealthCheck.Test, sg.base, binaries)
					break
				}
				names[sg.name] = true
			}
			if target == nil {
				t.Fatalf("build target %q is not a stage of %s", svc.Build.Target, path)
			}
			if len(built) == 0 {
				t.Errorf("no go build before target %s", target.name)
			}
			for _, pkg := range built {
				checkBuildInputs(t, pkg, copied)
			}
			if _, ok := svc.Build.Args["MCP_PACKAGE"]; strings.HasPrefix(target.name, "bridge-") && !ok {
				t.Errorf("bridge image built without the MCP_PACKAGE build arg")
			}
		})
	}
}

// rawBuildArgs are the build args of service name as its compose file writes them
// (compose drops a valueless one the environment does not set).
func rawBuildArgs(t *testing.T, name string) map[string]any {
	t.Helper()
	files, _ := filepath.Glob(repoPath(t, "compose/*.yaml"))
	for _, f := range files {
		rel, _ := filepath.Rel(repoPath(t, "."), f)
		if args, ok := dig(readYAML(t, rel), "services", name, "build", "args").(map[string]any); ok {
			return args
		}
	}
	return nil
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

// checkGoBuild: every package a `go build` compiles is a main package in the
// repository; it returns those packages (none when the instruction builds nothing).
func checkGoBuild(t *testing.T, in instruction) []string {
	t.Helper()
	_, cmd, ok := strings.Cut(in.args, "go build")
	if !ok {
		return nil
	}
	cmd, _, _ = strings.Cut(cmd, "&&")
	var pkgs []string
	for _, f := range strings.Fields(cmd) {
		if !strings.HasPrefix(f, "./") {
			continue
		}
		files, _ := filepath.Glob(repoPath(t, filepath.Join(f, "*.go")))
		main := false
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err == nil && !strings.HasSuffix(file, "_test.go") && regexp.MustCompile(`(?m)^package main\b`).Match(b) {
				main = true
			}
		}
		if !main {
			t.Errorf("line %d: go build %s: no main package there", in.line, f)
			continue
		}
		pkgs = append(pkgs, f)
	}
	if len(pkgs) == 0 {
		t.Errorf("line %d: cannot find the packages of %q", in.line, in.args)
	}
	return pkgs
}

// baseImageTools are commands the base images ship, which healthchecks may use.
var baseImageTools = map[string][]string{
	"alpine:": {"wget", "sh"},
	"redis:":  {"redis-cli", "sh"},
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
		t.Fatalf("%v: the root .dockerignore keeps .env and keys out of every build context", err)
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
