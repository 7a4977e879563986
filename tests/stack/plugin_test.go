package stack_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mcp-oauth-gateway/gateway/internal/labels"
)

// pluginConfigFields reads the mcpauth plugin's Config struct from plugin/*.go. Traefik
// decodes a plugin's settings with mapstructure: a key matches a field name
// case-insensitively (or its mapstructure tag), and an unknown key is silently ignored.
// So a misspelt label would disable a check without any error: this test is the guard.
// The source is parsed rather than imported so the stack tests do not depend on the
// plugin package compiling at every moment.
func pluginConfigFields(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(repoPath(t, "plugin/*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	fields := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("parsing %s: %v", f, err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok || ts.Name.Name != "Config" {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return false
			}
			for _, fl := range st.Fields.List {
				key := ""
				if fl.Tag != nil {
					tag := reflect.StructTag(strings.Trim(fl.Tag.Value, "`"))
					key, _, _ = strings.Cut(tag.Get("mapstructure"), ",")
				}
				for _, id := range fl.Names {
					k := key
					if k == "" {
						k = id.Name
					}
					fields[strings.ToLower(k)] = id.Name
				}
			}
			return false
		})
	}
	if len(fields) == 0 {
		t.Fatalf("no Config struct in plugin/*.go: the mcpauth plugin (plugin/) defines the settings the labels use")
	}
	return fields
}

// unknownPluginSettings lists the mcpauth settings in the labels that no Config field
// takes.
func unknownPluginSettings(st *labels.Stack, fields map[string]string) []string {
	var bad []string
	for _, mn := range sortedNames(st.HTTP.Middlewares) {
		conf, ok := st.HTTP.Middlewares[mn].Plugin[pluginName]
		if !ok {
			continue
		}
		for _, key := range sortedNames(conf) {
			if _, ok := fields[strings.ToLower(key)]; !ok {
				bad = append(bad, mn+"."+key)
			}
		}
	}
	return bad
}

func TestPluginSettingsMatchPluginConfig(t *testing.T) {
	fields := pluginConfigFields(t)
	st, _ := loadStack(t)
	if bad := unknownPluginSettings(st, fields); len(bad) > 0 {
		t.Errorf("mcpauth settings %v are not fields of plugin.Config (fields: %v); Traefik would ignore them silently",
			bad, sortedNames(fields))
	}
	for _, want := range []string{"issuer", "resource", "jwksurl", "revocationurl", "revocationtoken"} {
		if _, ok := fields[want]; !ok {
			t.Errorf("plugin.Config has no field for %q, which the labels set", want)
		}
	}

	// The check itself notices a misspelt setting.
	st.HTTP.Middlewares["mcpauth-memory"].Plugin[pluginName]["jwksURI"] = "http://auth:8000/.well-known/jwks.json"
	if bad := unknownPluginSettings(st, fields); len(bad) != 1 || bad[0] != "mcpauth-memory.jwksURI" {
		t.Errorf("with a misspelt jwksURI: unknown settings %v, want [mcpauth-memory.jwksURI]", bad)
	}
}
