package yaegi

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"

	"github.com/mcp-oauth-gateway/gateway/tests/internal/traefiktest"
)

// Limits on what Traefik's plugin catalog downloads: the root module's zip, fetched by
// every Traefik that starts with a new plugin version.
const (
	maxCatalogZip  = 2 << 20
	maxCatalogFile = 1 << 20
)

// TestCatalogInstall installs the plugin as Traefik does from the catalog, minus the
// download: the module zip of the committed tree (HEAD; the tests module, its own
// module, is not in it) unzipped with golang.org/x/mod/zip into GOPATH/src/<moduleName>
// (Traefik's Manager.unzipModule), the manifest read from the module root, the plugin
// interpreted by Yaegi, and New run on the manifest's testData. The zip stays small:
// no file over 1 MiB (a committed binary once made it 6.4 MB).
func TestCatalogInstall(t *testing.T) {
	root, err := traefiktest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, ".git")); err != nil {
		t.Fatalf("the catalog zip is made from the git history: %v", err)
	}
	mod := module.Version{Path: traefiktest.ModuleName, Version: "v0.0.0-catalog"}
	var buf bytes.Buffer
	if err := zip.CreateFromVCS(&buf, mod, root, "HEAD", ""); err != nil {
		t.Fatalf("module zip of HEAD: %v", err)
	}
	if buf.Len() > maxCatalogZip {
		t.Errorf("the module zip is %d bytes, want at most %d", buf.Len(), maxCatalogZip)
	}
	zipFile := filepath.Join(t.TempDir(), "plugin.zip")
	if err := os.WriteFile(zipFile, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	goPath := t.TempDir()
	modDir := filepath.Join(goPath, "src", filepath.FromSlash(traefiktest.ModuleName))
	if err := zip.Unzip(modDir, mod, zipFile); err != nil {
		t.Fatalf("unzip as Traefik does: %v", err)
	}
	var files int
	err = filepath.Walk(modDir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		files++
		if info.Size() > maxCatalogFile {
			rel, _ := filepath.Rel(modDir, path)
			t.Errorf("%s is %d bytes: the catalog downloads it with the plugin", rel, info.Size())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("module zip: %d bytes, %d files", buf.Len(), files)

	p, err := loadInstalled(goPath, modDir)
	if err != nil {
		t.Fatalf("interpreting the catalog install: %v", err)
	}
	h, err := p.newHandler(context.Background(), http.NotFoundHandler(), p.manifest.TestData, "catalog")
	if err != nil {
		t.Fatalf("New(testData): %v", err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/mcp", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("testData instance without a token: %d, want 401", rec.Code)
	}
}
