// Package labels reads the Docker Compose stack (compose/compose.yaml and the files it
// includes) without Docker and turns its services' Traefik labels into the dynamic
// configuration Traefik's Docker provider would build from them.
//
// The compose files are loaded with compose-go v2, the loader `docker compose` itself
// uses (interpolation, include, validation, consistency checks: the equivalent of
// `docker compose config`). Labels are decoded with paerser, Traefik's own label
// decoder, into mirrors of Traefik's dynamic configuration types (see dynamic.go for
// why mirrors).
//
// Typical use, e.g. to run a real Traefik on exactly the label-derived routes:
//
//	env, _ := labels.ReadEnvFile("../.env.example")
//	env["BASE_DOMAIN"] = "localhost"
//	env["ACME_EMAIL"] = "ops@localhost" // and every other ${VAR:?} the files require
//	st, err := labels.Load("../compose", env)
//	cfg, err := st.DynamicConfig(labels.Options{
//		Backends: map[string]string{"auth": "http://127.0.0.1:8000", "everything": "http://127.0.0.1:3001"},
//		EntryPoints: map[string]string{"websecure": "web"},
//	})
//	os.WriteFile(dir+"/routes.yaml", cfg, 0o600) // file provider
package labels

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"
)

// RootFile is the compose file that includes every service's file.
const RootFile = "compose.yaml"

// ProjectName is the compose project name the stack declares.
const ProjectName = "mcp-oauth-gateway"

// Stack is the loaded compose project and its Traefik configuration.
type Stack struct {
	// Project is the interpolated, validated compose model.
	Project *types.Project
	// Containers are the compose services by name, with their decoded labels.
	Containers map[string]*Container
	// HTTP is every enabled container's configuration merged, as Traefik would hold it.
	HTTP *HTTPConfiguration
}

// ReadEnvFile reads a dotenv file (such as .env.example) with compose-go's parser, the
// one `docker compose --env-file` uses.
func ReadEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env, err := dotenv.ParseWithLookup(f, func(string) (string, bool) { return "", false })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return env, nil
}

// Load reads composeDir/compose.yaml with exactly env as the environment (the process
// environment is not consulted, so results do not depend on the machine), validates it
// as `docker compose config` would, and decodes every service's labels.
func Load(composeDir string, env map[string]string) (*Stack, error) {
	project, err := LoadProject(composeDir, env)
	if err != nil {
		return nil, err
	}
	return FromProject(project)
}

// LoadProject is the compose half of [Load]: the interpolated, validated project.
// overrides are further compose files in composeDir merged on top, as
// `docker compose -f compose.yaml -f <override>` does (e.g. a test overlay).
func LoadProject(composeDir string, env map[string]string, overrides ...string) (*types.Project, error) {
	dir, err := filepath.Abs(composeDir)
	if err != nil {
		return nil, err
	}
	list := make([]string, 0, len(env))
	for _, k := range sortedKeys(env) {
		list = append(list, k+"="+env[k])
	}
	files := []string{filepath.Join(dir, RootFile)}
	for _, o := range overrides {
		files = append(files, filepath.Join(dir, o))
	}
	opts, err := cli.NewProjectOptions(files,
		cli.WithWorkingDirectory(dir),
		cli.WithEnv(list),
		cli.WithInterpolation(true),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		return nil, fmt.Errorf("compose options: %w", err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	return project, nil
}

// FromProject decodes the labels of every service in project and merges them.
func FromProject(project *types.Project) (*Stack, error) {
	st := &Stack{Project: project, Containers: map[string]*Container{}}
	var list []*Container
	var errs []error
	for _, name := range project.ServiceNames() {
		svc := project.Services[name]
		c, err := DecodeContainer(name, svc.Labels)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		st.Containers[name] = c
		list = append(list, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	http, err := Merge(list)
	if err != nil {
		return nil, err
	}
	st.HTTP = http
	return st, nil
}

// ServiceOwner returns the compose service whose labels define the Traefik service.
func (st *Stack) ServiceOwner(traefikService string) (string, bool) {
	for _, name := range sortedKeys(st.Containers) {
		if _, ok := st.Containers[name].HTTP.Services[traefikService]; ok {
			return name, true
		}
	}
	return "", false
}

// InternalURL is the URL Traefik uses for a Traefik service inside the Docker
// network: http://<compose service>:<label port>.
func (st *Stack) InternalURL(traefikService string) (string, error) {
	owner, ok := st.ServiceOwner(traefikService)
	if !ok {
		return "", fmt.Errorf("%w: no container defines service %s", ErrLabel, traefikService)
	}
	lb := st.HTTP.Services[traefikService].LoadBalancer
	if lb == nil || len(lb.Servers) != 1 || lb.Servers[0].Port == "" {
		return "", fmt.Errorf("%w: service %s needs exactly one loadbalancer.server.port", ErrLabel, traefikService)
	}
	scheme := lb.Servers[0].Scheme
	if scheme == "" {
		scheme = "http"
	}
	return scheme + "://" + owner + ":" + lb.Servers[0].Port, nil
}

// ErrNoRoute is returned by [Stack.Route] when no router matches.
var ErrNoRoute = errors.New("no router matches")

// Route returns the router Traefik would pick for a request arriving on entryPoint:
// among the routers attached to that entry point whose rule matches, the one with the
// highest priority. Two matching routers with the same priority are an error here
// (Traefik would pick one by an order nobody should rely on).
func (st *Stack) Route(entryPoint string, q Request) (string, error) {
	best, bestPrio, tie := "", -1, ""
	for _, name := range sortedKeys(st.HTTP.Routers) {
		r := st.HTTP.Routers[name]
		if len(r.EntryPoints) > 0 && !contains(r.EntryPoints, entryPoint) {
			continue
		}
		rule, err := ParseRule(r.Rule)
		if err != nil {
			return "", fmt.Errorf("router %s: %w", name, err)
		}
		if !rule.Match(q) {
			continue
		}
		prio := r.Priority
		if prio == 0 {
			prio = len(r.Rule) // Traefik's default priority
		}
		switch {
		case prio > bestPrio:
			best, bestPrio, tie = name, prio, ""
		case prio == bestPrio:
			tie = name
		}
	}
	if best == "" {
		return "", fmt.Errorf("%w %s %s%s", ErrNoRoute, entryPoint, q.Host, q.Path)
	}
	if tie != "" {
		return "", fmt.Errorf("routers %s and %s both match %s%s with priority %d", best, tie, q.Host, q.Path, bestPrio)
	}
	return best, nil
}

// Options adapt the label-derived configuration to a run outside Docker.
type Options struct {
	// Backends maps a compose service name to the base URL it really listens on
	// (e.g. "http://127.0.0.1:8101"). It replaces that container's internal URL
	// (http://<service>:<port>) in load-balancer servers and in every string setting of
	// every plugin (the mcpauth jwksURL and revocationURL point at http://auth:8000).
	// Containers not listed keep their internal URL.
	Backends map[string]string
	// EntryPoints renames entry points in routers, e.g. {"websecure": "web"}.
	EntryPoints map[string]string
	// Replace is applied, as literal string replacements, to plugin string settings
	// after Backends: e.g. {"https://auth.localhost": "http://auth.localhost:8080"}
	// when the local issuer is plain HTTP on a port.
	Replace map[string]string
}

// DynamicConfig renders the merged configuration for Traefik's file provider, with
// server URLs filled in as the Docker provider would (internal URLs) or from
// opts.Backends. The output is JSON, which is also YAML: write it to a .yaml file.
func (st *Stack) DynamicConfig(opts Options) ([]byte, error) {
	rewrite, err := st.urlRewriter(opts)
	if err != nil {
		return nil, err
	}
	out := &HTTPConfiguration{
		Routers:     map[string]*Router{},
		Services:    map[string]*Service{},
		Middlewares: map[string]*Middleware{},
	}
	for name, r := range st.HTTP.Routers {
		cp := *r
		cp.EntryPoints = nil
		for _, ep := range r.EntryPoints {
			if to, ok := opts.EntryPoints[ep]; ok {
				ep = to
			}
			cp.EntryPoints = append(cp.EntryPoints, ep)
		}
		cp.Middlewares = append([]string(nil), r.Middlewares...)
		out.Routers[name] = &cp
	}
	for name := range st.HTTP.Services {
		u, err := st.InternalURL(name)
		if err != nil {
			return nil, err
		}
		out.Services[name] = &Service{LoadBalancer: &ServersLoadBalancer{
			Servers:        []Server{{URL: rewrite(u)}},
			PassHostHeader: st.HTTP.Services[name].LoadBalancer.PassHostHeader,
		}}
	}
	for name, m := range st.HTTP.Middlewares {
		cp := &Middleware{Plugin: map[string]PluginConf{}}
		for plugin, conf := range m.Plugin {
			c := PluginConf{}
			for k, v := range conf {
				if s, ok := v.(string); ok {
					v = rewrite(s)
				}
				c[k] = v
			}
			cp.Plugin[plugin] = c
		}
		out.Middlewares[name] = cp
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep && readable in rules
	enc.SetIndent("", "  ")
	if err := enc.Encode(Configuration{HTTP: out}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// urlRewriter builds the string rewrite of [Options]: a listed backend's internal URL
// is replaced where a string starts with it (exactly, or followed by a path), then the
// literal replacements apply, longest key first so overlapping keys are deterministic.
func (st *Stack) urlRewriter(opts Options) (func(string) string, error) {
	type pair struct{ from, to string }
	var backends []pair
	for _, container := range sortedKeys(opts.Backends) {
		c, ok := st.Containers[container]
		if !ok {
			return nil, fmt.Errorf("labels: backend for unknown compose service %q", container)
		}
		for _, svc := range sortedKeys(c.HTTP.Services) {
			u, err := st.InternalURL(svc)
			if err != nil {
				return nil, err
			}
			backends = append(backends, pair{u, strings.TrimSuffix(opts.Backends[container], "/")})
		}
	}
	keys := sortedKeys(opts.Replace)
	sort.SliceStable(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	return func(s string) string {
		for _, p := range backends {
			if s == p.from || strings.HasPrefix(s, p.from+"/") {
				s = p.to + s[len(p.from):]
				break
			}
		}
		for _, k := range keys {
			s = strings.ReplaceAll(s, k, opts.Replace[k])
		}
		return s
	}, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Clone returns a deep copy of labels, for tests that mutate them.
func Clone(labels map[string]string) map[string]string { return maps.Clone(labels) }
