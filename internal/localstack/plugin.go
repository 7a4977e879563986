package localstack

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// CopyPlugin lays out the mcpauth plugin the way Traefik loads a local plugin:
// <traefikDir>/plugins-local/src/<PluginModule>/ with .traefik.yml, go.mod and the
// plugin package's non-test sources. It copies rather than links so that Traefik
// (and Yaegi) see a stable snapshot even while the repository is being edited.
func CopyPlugin(repoDir, traefikDir string) error {
	dst := filepath.Join(traefikDir, "plugins-local", "src", filepath.FromSlash(PluginModule))
	for _, f := range []string{".traefik.yml", "go.mod"} {
		if err := copyFile(filepath.Join(repoDir, f), filepath.Join(dst, f)); err != nil {
			return fmt.Errorf("localstack: copy plugin: %w", err)
		}
	}
	src := filepath.Join(repoDir, "plugin")
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		return copyFile(path, filepath.Join(dst, "plugin", rel))
	})
	if err != nil {
		return fmt.Errorf("localstack: copy plugin: %w", err)
	}
	return nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
