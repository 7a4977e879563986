package helm_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

// The schemas the rendered objects are validated against, from the Go module proxy:
// the Kubernetes source release holds its published OpenAPI v3 documents
// (api/openapi-spec/v3, one per group version, what the API server serves at
// /openapi/v3), and Traefik's module holds the CRDs its Helm chart installs.
const (
	kubernetesModule = "k8s.io/kubernetes@" + kubeVersion
	traefikModule    = "github.com/traefik/traefik/v3@v3.6.12"
	openAPIDir       = "api/openapi-spec/v3"
	traefikCRDs      = "docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml"
	objectMetaSchema = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
)

// moduleDir downloads module@version into the module cache (`go mod download`, the
// proxy serves the zip) and returns its directory. It runs outside this module so
// that tests/go.mod and go.sum are never touched.
func moduleDir(modVersion string) (string, error) {
	tmp, err := os.MkdirTemp("", "helm-test-mod")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("go", "mod", "download", "-json", modVersion)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr != nil || err != nil || info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %v %s %s", modVersion, err, info.Error, stderr.String())
	}
	return info.Dir, nil
}

// gvk names a kind the way apiVersion and kind do: "apps/v1 Deployment", "v1 Service".
type gvk string

func gvkOf(apiVersion, kind string) gvk { return gvk(apiVersion + " " + kind) }

// schemaRef is where a kind's schema is: a document added to the compiler and the
// JSON pointer of the schema in it.
type schemaRef struct{ url, pointer string }

// validator validates objects against the schema of their apiVersion and kind.
type validator struct {
	mu       sync.Mutex
	compiler *jsonschema.Compiler
	refs     map[gvk]schemaRef
	compiled map[gvk]*jsonschema.Schema
	meta     *jsonschema.Schema // ObjectMeta, for custom resources (their CRD says only "object")
	crds     map[gvk]bool
}

// strictify makes a schema refuse unknown fields, as the API server does for a request
// sent with kubectl --validate=strict (field validation Strict): in the published
// OpenAPI documents an object schema lists its `properties` but does not say that no
// other property is allowed, because the API server prunes or rejects unknown fields
// itself rather than through the schema. So every object schema that has `properties`
// gets `additionalProperties: false`, unless it already says something about other
// properties (a map: additionalProperties) or keeps unknown fields on purpose
// (x-kubernetes-preserve-unknown-fields, as RawExtension and Traefik's plugin
// settings do). Kubernetes composes schemas only by a single $ref inside allOf, so
// closing each object schema separately does not reject what another one allows.
func strictify(node any) {
	switch n := node.(type) {
	case map[string]any:
		_, hasProps := n["properties"]
		_, hasAdditional := n["additionalProperties"]
		preserve, _ := n["x-kubernetes-preserve-unknown-fields"].(bool)
		if hasProps && !hasAdditional && !preserve {
			n["additionalProperties"] = false
		}
		for k, v := range n {
			if k == "properties" {
				// Property names are not schemas: walk the schemas under them.
				if props, ok := v.(map[string]any); ok {
					for _, p := range props {
						strictify(p)
					}
				}
				continue
			}
			strictify(v)
		}
	case []any:
		for _, v := range n {
			strictify(v)
		}
	}
}

// newValidator loads the Kubernetes OpenAPI v3 documents and Traefik's CRDs. strict
// applies [strictify] (off only to show what it adds).
func newValidator(strict bool) (*validator, error) {
	k8sDir, err := moduleDir(kubernetesModule)
	if err != nil {
		return nil, err
	}
	traefikDir, err := moduleDir(traefikModule)
	if err != nil {
		return nil, err
	}
	v := &validator{
		compiler: jsonschema.NewCompiler(),
		refs:     map[gvk]schemaRef{},
		compiled: map[gvk]*jsonschema.Schema{},
		crds:     map[gvk]bool{},
	}
	v.compiler.DefaultDraft(jsonschema.Draft2020)

	// Kubernetes: every group version's document; the x-kubernetes-group-version-kind
	// extension of a schema says which apiVersion and kind it describes.
	docs, err := filepath.Glob(filepath.Join(k8sDir, openAPIDir, "*__v*_openapi.json"))
	if err != nil || len(docs) == 0 {
		return nil, fmt.Errorf("no OpenAPI v3 documents under %s/%s: %v", k8sDir, openAPIDir, err)
	}
	sort.Strings(docs)
	metaURL := ""
	for _, path := range docs {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if strict {
			strictify(dig(doc, "components", "schemas"))
		}
		url := "file://" + filepath.ToSlash(path)
		if err := v.compiler.AddResource(url, doc); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		schemas, _ := dig(doc, "components", "schemas").(map[string]any)
		for name, s := range schemas {
			if name == objectMetaSchema && filepath.Base(path) == "api__v1_openapi.json" {
				metaURL = url
			}
			kinds, _ := dig(s, "x-kubernetes-group-version-kind").([]any)
			for _, k := range kinds {
				group, version, kind := str(k, "group"), str(k, "version"), str(k, "kind")
				apiVersion := version
				if group != "" {
					apiVersion = group + "/" + version
				}
				key := gvkOf(apiVersion, kind)
				// Meta types (DeleteOptions, WatchEvent…) are listed in every document;
				// a kind's own schema is in its group version's document only.
				if _, seen := v.refs[key]; !seen {
					v.refs[key] = schemaRef{url, "#/components/schemas/" + name}
				}
			}
		}
	}
	if metaURL == "" {
		return nil, fmt.Errorf("no %s in %s", objectMetaSchema, openAPIDir)
	}
	if v.meta, err = v.compiler.Compile(metaURL + "#/components/schemas/" + objectMetaSchema); err != nil {
		return nil, err
	}

	// Traefik: each served version of each CRD, its openAPIV3Schema.
	b, err := os.ReadFile(filepath.Join(traefikDir, traefikCRDs))
	if err != nil {
		return nil, err
	}
	for i, raw := range docSeparator.Split(string(b), -1) {
		js, err := yaml.YAMLToJSON([]byte(raw))
		if err != nil {
			return nil, fmt.Errorf("%s document %d: %w", traefikCRDs, i, err)
		}
		if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
			continue
		}
		crd, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
		if err != nil {
			return nil, err
		}
		if str(crd, "kind") != "CustomResourceDefinition" {
			continue
		}
		group, kind := str(crd, "spec", "group"), str(crd, "spec", "names", "kind")
		versions, _ := dig(crd, "spec", "versions").([]any)
		for _, ver := range versions {
			if served, _ := dig(ver, "served").(bool); !served {
				continue
			}
			schema := dig(ver, "schema", "openAPIV3Schema")
			if schema == nil {
				return nil, fmt.Errorf("CRD %s/%s has no openAPIV3Schema", group, kind)
			}
			if strict {
				strictify(schema)
			}
			key := gvkOf(group+"/"+str(ver, "name"), kind)
			url := "traefik-crd:///" + group + "/" + str(ver, "name") + "/" + kind
			if err := v.compiler.AddResource(url, schema); err != nil {
				return nil, fmt.Errorf("CRD %s: %w", key, err)
			}
			v.refs[key] = schemaRef{url, ""}
			v.crds[key] = true
		}
	}
	return v, nil
}

// validate checks one object (JSON as kubectl would send it): its apiVersion and kind
// must name a schema, the object must satisfy it, and a custom resource's metadata
// must satisfy ObjectMeta (the API server checks it for every kind). One way this is
// stricter than the API server: a null where the schema wants an object or a value is
// an error here (the server takes it as absent), so that the chart renders no nulls.
func (v *validator) validate(js []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return err
	}
	apiVersion, kind := str(doc, "apiVersion"), str(doc, "kind")
	key := gvkOf(apiVersion, kind)
	v.mu.Lock()
	sch, ok := v.compiled[key]
	if !ok {
		ref, known := v.refs[key]
		if !known {
			v.mu.Unlock()
			return fmt.Errorf("apiVersion %q kind %q: no schema for it in Kubernetes %s nor in Traefik's CRDs", apiVersion, kind, kubeVersion)
		}
		sch, err = v.compiler.Compile(ref.url + ref.pointer)
		if err != nil {
			v.mu.Unlock()
			return fmt.Errorf("compiling the schema of %s: %w", key, err)
		}
		v.compiled[key] = sch
	}
	v.mu.Unlock()
	var errs []error
	if err := sch.Validate(doc); err != nil {
		errs = append(errs, err)
	}
	if v.crds[key] {
		if err := v.meta.Validate(dig(doc, "metadata")); err != nil {
			errs = append(errs, fmt.Errorf("metadata: %w", err))
		}
	}
	return errors.Join(errs...)
}

var strictValidator = sync.OnceValues(func() (*validator, error) { return newValidator(true) })

func mustValidator(t testing.TB) *validator {
	t.Helper()
	v, err := strictValidator()
	if err != nil {
		t.Fatalf("loading the schemas: %v", err)
	}
	return v
}

// TestObjectsValidate: every object of both renders is of a kind Kubernetes
// v1.36.3 or Traefik v3.6.12's CRDs define, and satisfies its schema strictly.
func TestObjectsValidate(t *testing.T) {
	v := mustValidator(t)
	for name, which := range map[string]func() (*rendering, error){"default": defaultRender, "override": overrideRender} {
		r := mustRender(t, which)
		for _, o := range r.Objects {
			if err := v.validate(o.JSON); err != nil {
				t.Errorf("%s values: %s: %v", name, o, err)
			}
		}
	}
}

// TestValidatorBites: the validator is not a formality. Objects from the default
// render, each broken once (an unknown field, a wrong type, a missing required field,
// an unknown kind), are refused with an error naming the problem; the unbroken ones
// pass; and without strictify the unknown fields would have passed.
func TestValidatorBites(t *testing.T) {
	v := mustValidator(t)
	r := mustRender(t, defaultRender)
	deployment := r.find("Deployment", fullname+"-authsvc")
	route := r.find("IngressRoute", fullname+"-memory")
	middleware := r.find("Middleware", fullname+"-mcpauth-memory")
	policy := r.find("NetworkPolicy", fullname+"-mcp-memory")
	if deployment == nil || route == nil || middleware == nil || policy == nil {
		t.Fatal("the default render lacks the authsvc Deployment, memory's IngressRoute, Middleware or NetworkPolicy")
	}
	container := func(d map[string]any) map[string]any {
		return dig(d, "spec", "template", "spec", "containers").([]any)[0].(map[string]any)
	}
	firstRoute := func(d map[string]any) map[string]any {
		return dig(d, "spec", "routes").([]any)[0].(map[string]any)
	}
	tests := []struct {
		name   string
		obj    *object
		mutate func(d map[string]any)
		want   string // in the error
		strict bool   // caught only thanks to strictify
	}{
		{"Deployment: unknown field in the container", deployment, func(d map[string]any) {
			container(d)["imagePullPolice"] = "Always"
		}, "imagePullPolice", true},
		{"Deployment: unknown field in the spec", deployment, func(d map[string]any) {
			d["spec"].(map[string]any)["replica"] = 2
		}, "replica", true},
		{"Deployment: unknown field in metadata", deployment, func(d map[string]any) {
			d["metadata"].(map[string]any)["label"] = map[string]any{"a": "b"}
		}, "label", true},
		{"Deployment: replicas is a string", deployment, func(d map[string]any) {
			d["spec"].(map[string]any)["replicas"] = "two"
		}, "replicas", false},
		{"Deployment: containerPort is a string", deployment, func(d map[string]any) {
			container(d)["ports"].([]any)[0].(map[string]any)["containerPort"] = "8000"
		}, "containerPort", false},
		{"Deployment: an env value is a number", deployment, func(d map[string]any) {
			container(d)["env"].([]any)[0].(map[string]any)["value"] = 8000
		}, "value", false},
		{"Deployment: container without a name", deployment, func(d map[string]any) {
			delete(container(d), "name")
		}, "name", false},
		{"Deployment: spec without a selector", deployment, func(d map[string]any) {
			delete(d["spec"].(map[string]any), "selector")
		}, "selector", false},
		{"NetworkPolicy: unknown field in a peer", policy, func(d map[string]any) {
			peer := dig(d, "spec", "ingress").([]any)[0].(map[string]any)["from"].([]any)[0].(map[string]any)
			peer["podSelectors"] = peer["podSelector"]
		}, "podSelectors", true},
		{"IngressRoute: unknown field in a route", route, func(d map[string]any) {
			firstRoute(d)["priorty"] = 2
		}, "priorty", true},
		{"IngressRoute: unknown field in the spec", route, func(d map[string]any) {
			d["spec"].(map[string]any)["entrypoints"] = []any{"websecure"}
		}, "entrypoints", true},
		{"IngressRoute: priority is a string", route, func(d map[string]any) {
			firstRoute(d)["priority"] = "2"
		}, "priority", false},
		{"IngressRoute: kind not Rule", route, func(d map[string]any) {
			firstRoute(d)["kind"] = "Rules"
		}, "kind", false},
		{"IngressRoute: middleware without a name", route, func(d map[string]any) {
			firstRoute(d)["middlewares"] = []any{map[string]any{"namespace": namespace}}
		}, "name", false},
		{"IngressRoute: unknown field in metadata", route, func(d map[string]any) {
			d["metadata"].(map[string]any)["lables"] = map[string]any{"a": "b"}
		}, "lables", true},
		{"Middleware: unknown middleware type", middleware, func(d map[string]any) {
			spec := d["spec"].(map[string]any)
			spec["plugins"] = spec["plugin"]
			delete(spec, "plugin")
		}, "plugins", true},
		{"unknown kind", deployment, func(d map[string]any) { d["kind"] = "Deploymnet" }, "no schema", false},
		{"unknown apiVersion", route, func(d map[string]any) { d["apiVersion"] = "traefik.containo.us/v1alpha1" }, "no schema", false},
	}
	lax, err := newValidator(false)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []*object{deployment, route, middleware, policy} {
		if err := v.validate(o.JSON); err != nil {
			t.Fatalf("unbroken %s does not validate: %v", o, err)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d map[string]any
			if err := json.Unmarshal(tt.obj.JSON, &d); err != nil {
				t.Fatal(err)
			}
			tt.mutate(d)
			js, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			err = v.validate(js)
			if err == nil {
				t.Fatalf("%s broken (%s) validates", tt.obj, tt.name)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error does not name %q:\n%v", tt.want, err)
			}
			if tt.strict {
				if err := lax.validate(js); err != nil {
					t.Errorf("caught without strictify too, so this case does not show what it adds: %v", err)
				}
			}
		})
	}
}

// TestStrictify: the transform closes object schemas with properties, leaves maps and
// preserve-unknown-fields schemas open, and walks into properties, items, allOf.
func TestStrictify(t *testing.T) {
	var s map[string]any
	if err := json.Unmarshal([]byte(`{
		"type": "object",
		"properties": {
			"properties": {"type": "object", "properties": {"a": {"type": "string"}}},
			"labels": {"type": "object", "additionalProperties": {"type": "string"}},
			"raw": {"type": "object", "properties": {"x": {}}, "x-kubernetes-preserve-unknown-fields": true},
			"list": {"type": "array", "items": {"type": "object", "properties": {"b": {}}}},
			"ref": {"allOf": [{"type": "object", "properties": {"c": {}}}]}
		}
	}`), &s); err != nil {
		t.Fatal(err)
	}
	strictify(s)
	closed := func(path ...string) bool { return dig(s, path...) == false }
	for _, c := range []struct {
		path []string
		want bool
	}{
		{[]string{"additionalProperties"}, true},
		{[]string{"properties", "properties", "additionalProperties"}, true},
		{[]string{"properties", "raw", "additionalProperties"}, false},
		{[]string{"properties", "list", "items", "additionalProperties"}, true},
	} {
		if got := closed(c.path...); got != c.want {
			t.Errorf("%s closed = %v, want %v", strings.Join(c.path, "."), got, c.want)
		}
	}
	if _, isMap := dig(s, "properties", "labels", "additionalProperties").(map[string]any); !isMap {
		t.Error("a map's additionalProperties schema was replaced")
	}
	if all, _ := dig(s, "properties", "ref", "allOf").([]any); len(all) != 1 || dig(all[0], "additionalProperties") != false {
		t.Error("a schema under allOf was not closed")
	}
}
