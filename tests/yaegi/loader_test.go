// Package yaegi runs the mcpauth plugin under the Yaegi interpreter exactly as
// Traefik v3.6.12 loads a local plugin (pkg/plugins: builder.go, middlewareyaegi.go),
// and puts it through the same tables as the native tests.
package yaegi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/mitchellh/mapstructure"
	"github.com/traefik/paerser/file"
	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"
	"go.yaml.in/yaml/v4"

	"github.com/mcp-oauth-gateway/gateway/tests/internal/traefiktest"
)

// manifest is Traefik's plugins.Manifest (the fields a local middleware uses).
type manifest struct {
	DisplayName string         `yaml:"displayName"`
	Type        string         `yaml:"type"`
	Runtime     string         `yaml:"runtime"`
	Import      string         `yaml:"import"`
	BasePkg     string         `yaml:"basePkg"`
	Summary     string         `yaml:"summary"`
	TestData    map[string]any `yaml:"testData"`
}

// plugin is the interpreted plugin: Traefik's yaegiMiddlewareBuilder.
type plugin struct {
	manifest       manifest
	fnNew          reflect.Value
	fnCreateConfig reflect.Value
}

// loadPlugin installs the plugin into goPath as a local plugin and interprets it
// with Traefik's steps: read and check the manifest, yaegi.New with GoPath and the
// stdlib symbols, import the manifest's import path, Eval basePkg.New and
// basePkg.CreateConfig.
func loadPlugin(goPath string) (*plugin, error) {
	modDir, err := traefiktest.InstallLocalPlugin(goPath)
	if err != nil {
		return nil, err
	}
	return loadInstalled(goPath, modDir)
}

// loadInstalled interprets the plugin installed at modDir under goPath/src, reading its
// manifest, as Traefik does.
func loadInstalled(goPath, modDir string) (p *plugin, err error) {
	defer func() {
		// Yaegi panics on some unsupported syntax: report it as the load failure.
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("yaegi panicked interpreting the plugin: %v", r)
		}
	}()
	data, err := os.ReadFile(filepath.Join(modDir, ".traefik.yml"))
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	// checkLocalPluginManifest
	if m.Type != "middleware" || (m.Runtime != "" && m.Runtime != "yaegi") {
		return nil, fmt.Errorf("manifest: type %q runtime %q, want a yaegi middleware", m.Type, m.Runtime)
	}
	if m.Import == "" || !strings.HasPrefix(m.Import, traefiktest.ModuleName) || m.DisplayName == "" || m.Summary == "" || m.TestData == nil {
		return nil, fmt.Errorf("manifest incomplete: %+v", m)
	}
	i := interp.New(interp.Options{GoPath: goPath, Env: os.Environ()})
	if err := i.Use(stdlib.Symbols); err != nil {
		return nil, fmt.Errorf("failed to load symbols: %w", err)
	}
	if _, err := i.Eval(fmt.Sprintf(`import "%s"`, m.Import)); err != nil {
		return nil, fmt.Errorf("failed to import plugin code %q: %w", m.Import, err)
	}
	basePkg := m.BasePkg
	if basePkg == "" {
		basePkg = strings.ReplaceAll(filepath.Base(m.Import), "-", "_")
	}
	p = &plugin{manifest: m}
	if p.fnNew, err = i.Eval(basePkg + `.New`); err != nil {
		return nil, fmt.Errorf("failed to eval New: %w", err)
	}
	if p.fnCreateConfig, err = i.Eval(basePkg + `.CreateConfig`); err != nil {
		return nil, fmt.Errorf("failed to eval CreateConfig: %w", err)
	}
	return p, nil
}

// dynamicConfig mirrors the part of Traefik's dynamic configuration that carries
// plugin settings, so the file provider's decoder (paerser) shapes the values.
type dynamicConfig struct {
	HTTP *struct {
		Middlewares map[string]*struct {
			Plugin map[string]map[string]any `json:"plugin,omitempty" toml:"plugin,omitempty" yaml:"plugin,omitempty"`
		} `json:"middlewares,omitempty" toml:"middlewares,omitempty" yaml:"middlewares,omitempty"`
	} `json:"http,omitempty" toml:"http,omitempty" yaml:"http,omitempty"`
}

// viaFileProvider renders cfg as a dynamic-configuration YAML file and decodes it
// back the way Traefik's file provider does, returning what the plugin builder gets.
func viaFileProvider(cfg map[string]any) (map[string]any, error) {
	doc := map[string]any{"http": map[string]any{"middlewares": map[string]any{
		"auth": map[string]any{"plugin": map[string]any{"mcpauth": cfg}},
	}}}
	content, err := yaml.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var dc dynamicConfig
	if err := file.DecodeContent(string(content), ".yaml", &dc); err != nil {
		return nil, fmt.Errorf("paerser: %w", err)
	}
	if dc.HTTP == nil || dc.HTTP.Middlewares["auth"] == nil {
		return nil, errors.New("paerser: middleware lost in decoding")
	}
	return dc.HTTP.Middlewares["auth"].Plugin["mcpauth"], nil
}

// createConfig is Traefik's yaegiMiddlewareBuilder.createConfig.
func (p *plugin) createConfig(config map[string]any) (reflect.Value, error) {
	results := p.fnCreateConfig.Call(nil)
	if len(results) != 1 {
		return reflect.Value{}, fmt.Errorf("invalid number of return for the CreateConfig function: %d", len(results))
	}
	vConfig := results[0]
	if len(config) == 0 {
		return vConfig, nil
	}
	decoder, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook:       mapstructure.StringToSliceHookFunc(","),
		WeaklyTypedInput: true,
		Result:           vConfig.Interface(),
	})
	if err != nil {
		return reflect.Value{}, fmt.Errorf("failed to create configuration decoder: %w", err)
	}
	if err := decoder.Decode(config); err != nil {
		return reflect.Value{}, fmt.Errorf("failed to decode configuration: %w", err)
	}
	return vConfig, nil
}

// newHandler is Traefik's yaegiMiddlewareBuilder.newHandler after createConfig.
func (p *plugin) newHandler(ctx context.Context, next http.Handler, config map[string]any, name string) (http.Handler, error) {
	cfg, err := p.createConfig(config)
	if err != nil {
		return nil, err
	}
	results := p.fnNew.Call([]reflect.Value{reflect.ValueOf(ctx), reflect.ValueOf(next), cfg, reflect.ValueOf(name)})
	if len(results) > 1 && results[1].Interface() != nil {
		err, ok := results[1].Interface().(error)
		if !ok {
			return nil, fmt.Errorf("invalid error type: %T", results[0].Interface())
		}
		return nil, err
	}
	h, ok := results[0].Interface().(http.Handler)
	if !ok {
		return nil, fmt.Errorf("invalid handler type: %T", results[0].Interface())
	}
	return h, nil
}
