package stack_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"
)

// TestTraefikEntrypoint runs the traefik service's entrypoint script (as compose hands
// it to /bin/sh) with its paths moved into a temporary directory and a stand-in
// `traefik` that records its arguments: it renders the static configuration with the
// e-mail, starts Traefik on the rendered file, and refuses e-mails that could break
// out of the sed expression or the YAML string.
func TestTraefikEntrypoint(t *testing.T) {
	st, _ := loadStack(t)
	ep := st.Project.Services["traefik"].Entrypoint
	if len(ep) != 3 || ep[0] != "/bin/sh" || ep[1] != "-c" {
		t.Fatalf("traefik entrypoint %q, want /bin/sh -c SCRIPT", ep)
	}
	tests := []struct {
		email string
		ok    bool
	}{
		{"ops@gateway.example.com", true},
		{"first.last+acme@example.co.uk", true},
		{"", false},
		{"a/b@example.com", false},
		{"a&b@example.com", false},
		{`a"b@example.com`, false},
		{"a b@example.com", false},
		{"a@example.com\nemail: x", false},
	}
	for _, tc := range tests {
		t.Run(tc.email, func(t *testing.T) {
			dir := t.TempDir()
			etc := filepath.Join(dir, "etc")
			copyTree(t, dir, "traefik/traefik.yml")
			if err := os.Rename(filepath.Join(dir, "traefik"), etc); err != nil {
				t.Fatal(err)
			}
			bin := filepath.Join(dir, "bin")
			writeFile(t, filepath.Join(bin, "traefik"), []byte("#!/bin/sh\necho \"$@\" > \""+dir+"/args\"\n"))
			if err := os.Chmod(filepath.Join(bin, "traefik"), 0o755); err != nil {
				t.Fatal(err)
			}
			rendered := filepath.Join(dir, "rendered.yml")
			script := strings.NewReplacer("/etc/traefik/", etc+"/", "/tmp/traefik.yml", rendered).Replace(ep[2])
			cmd := exec.Command("/bin/sh", "-c", script)
			cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "ACME_EMAIL=" + tc.email, "TRAEFIK_STATIC_CONFIG=traefik.yml", "COMPOSE_PROJECT=mcpgw-test_1"}
			out, err := cmd.CombinedOutput()
			if !tc.ok {
				if err == nil {
					t.Errorf("accepted ACME_EMAIL %q", tc.email)
				}
				return
			}
			if err != nil {
				t.Fatalf("entrypoint failed: %v\n%s", err, out)
			}
			args, _ := os.ReadFile(filepath.Join(dir, "args"))
			if got := strings.TrimSpace(string(args)); got != "--configFile="+rendered {
				t.Errorf("traefik started with %q, want --configFile=%s", got, rendered)
			}
			b, err := os.ReadFile(rendered)
			if err != nil {
				t.Fatal(err)
			}
			orig, _ := os.ReadFile(repoPath(t, "traefik/traefik.yml"))
			if want := strings.NewReplacer("@ACME_EMAIL@", tc.email, "@COMPOSE_PROJECT@", "mcpgw-test_1").Replace(string(orig)); string(b) != want {
				t.Errorf("rendered config differs from traefik.yml with the e-mail and the project substituted")
			}
			var c map[string]any
			if err := yaml.Unmarshal(b, &c); err != nil {
				t.Fatal(err)
			}
			if got := dig(c, "certificatesResolvers", "letsencrypt", "acme", "email"); got != tc.email {
				t.Errorf("rendered acme email %v, want %q", got, tc.email)
			}
			if got := dig(c, "providers", "docker", "constraints"); got != "Label(`com.docker.compose.project`, `mcpgw-test_1`)" {
				t.Errorf("rendered docker constraint %v, want this project's label", got)
			}
		})
	}
}
