// Package traefiktest runs the mcpauth plugin the way Traefik v3.6 does: as a local
// plugin in a GOPATH-style tree, interpreted by Yaegi inside a real Traefik binary
// (Start), or loaded directly into Yaegi with Traefik's own steps (see tests/yaegi).
package traefiktest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ModuleName is the plugin's module name: the root module, whose root holds .traefik.yml.
const ModuleName = "github.com/mcp-oauth-gateway/gateway"

// RepoRoot finds the root module's directory from the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		f, err := os.Open(filepath.Join(dir, "go.mod"))
		if err == nil {
			line, _ := bufio.NewReader(f).ReadString('\n')
			f.Close()
			if strings.TrimSpace(line) == "module "+ModuleName {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("traefiktest: repository root (go.mod of " + ModuleName + ") not found above the working directory")
		}
		dir = parent
	}
}

// InstallLocalPlugin copies the plugin as Traefik expects a local plugin:
// <goPath>/src/<ModuleName>/ with the manifest .traefik.yml, go.mod and the plugin/
// package. Traefik's goPath for local plugins is ./plugins-local relative to its
// working directory. It returns the module directory.
func InstallLocalPlugin(goPath string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	modDir := filepath.Join(goPath, "src", filepath.FromSlash(ModuleName))
	if err := os.MkdirAll(filepath.Join(modDir, "plugin"), 0o755); err != nil {
		return "", err
	}
	for _, f := range []string{".traefik.yml", "go.mod"} {
		if err := copyFile(filepath.Join(root, f), filepath.Join(modDir, f)); err != nil {
			return "", err
		}
	}
	entries, err := os.ReadDir(filepath.Join(root, "plugin"))
	if err != nil {
		return "", err
	}
	n := 0
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		if err := copyFile(filepath.Join(root, "plugin", e.Name()), filepath.Join(modDir, "plugin", e.Name())); err != nil {
			return "", err
		}
		n++
	}
	if n == 0 {
		return "", fmt.Errorf("traefiktest: no Go files in %s/plugin", root)
	}
	return modDir, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
