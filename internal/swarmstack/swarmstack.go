// Package swarmstack renders the compose stack for Docker Swarm: it takes what
// `docker compose config --format json` prints for the repository's compose files (the
// one source of the services, their environment and their Traefik labels) and returns
// a stack file for `docker stack deploy`. The compose files stay the only place a
// service is described; Swarm gets the same services with:
//
//   - the Traefik labels as service labels (deploy.labels, which Traefik's Swarm
//     provider reads), traefik.docker.* renamed traefik.swarm.*;
//   - replicas (authsvc and every MCP bridge two by default), rolling updates that
//     start the new task before stopping the old one, and DNS round robin instead of a
//     virtual IP (Traefik balances over the tasks itself);
//   - every MCP bridge told to forward requests for another replica's sessions
//     (MCPBRIDGE_REPLICA_URL=auto), to share the 2026-07-28 users with the replicas
//     Swarm's DNS lists (MCPBRIDGE_PEERS=tasks.<service>), and to serve 5 s more after
//     SIGTERM, until Traefik has stopped sending it requests (MCPBRIDGE_SHUTDOWN_DELAY);
//   - Traefik on a manager node (it reads the Swarm API through the socket), with its
//     Swarm static configuration (traefik/traefik.swarm.yml), its ports published on
//     the node itself;
//   - what Swarm has no use for dropped: build, depends_on, restart (deploy's restart
//     policy replaces it);
//   - every secret as a Swarm secret, never as a value in a service's definition: the
//     secret variables of authsvc and the bridges become NAME_FILE=/run/secrets/…, the
//     plugin's secret options in the labels become …File options naming secrets
//     mounted into Traefik, and Redis reads its password from a secret at start;
//   - no path of the deploying machine: the files of read-only bind mounts (Traefik's
//     configuration, the plugin's source, the local certificates) become Swarm
//     configs (secrets for private keys) mounted at the same places, and writable bind
//     mounts named volumes, so that a task runs on any node.
package swarmstack

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/mcp-oauth-gateway/gateway/internal/contract"
)

// Options tune [Render].
type Options struct {
	// Replicas per service; a service not named gets DefaultReplicas when it is
	// authsvc or an MCP bridge, and one otherwise (Traefik, Redis).
	Replicas        map[string]int
	DefaultReplicas int // default 2
	// SecretsDir is where the caller writes [Stack.Secrets] and [Stack.Configs] before
	// docker stack deploy reads the stack: the stack file names each file there.
	SecretsDir string
}

// Stack is a rendered stack: the stack file, and the secrets it names, each to be
// written to Options.SecretsDir/<name> (mode 0600) before `docker stack deploy`, which
// reads them once to create the Swarm secrets (the files can go afterwards).
type Stack struct {
	File    []byte
	Secrets map[string][]byte
	// Configs are the Swarm configs, written alike: the files of the read-only bind
	// mounts, which a task on another node could not find on its host.
	Configs map[string][]byte
}

// objects collects what a stack adds beside its services. A secret's or config's
// name carries a hash of its value: Swarm secrets and configs cannot change, so a new
// value is a new object, and the services that use it are updated to it.
type objects struct {
	secrets map[string][]byte
	configs map[string][]byte // the files of read-only bind mounts
	volumes map[string]bool   // named volumes that replace writable bind mounts
}

// objectName names a Swarm secret or config after base and a hash of what else
// identifies it (its value, and its target for configs).
func objectName(base string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return base + "_" + hex.EncodeToString(h.Sum(nil)[:4])
}

// add records the secret base=value and returns where a service finds it
// (/run/secrets/<base>) and the service's reference to it.
//
// value is as `docker compose config` prints it, with every $ doubled (so that the
// output can be interpolated again); the secret holds the value itself.
func (s *objects) add(base, value string) (path string, ref map[string]any) {
	value = strings.ReplaceAll(value, "$$", "$")
	name := objectName(base, value)
	s.secrets[name] = []byte(value)
	// Mode 0444, Swarm's default: the services run as their images' own users.
	return "/run/secrets/" + base, map[string]any{"source": name, "target": base}
}

// Render returns the stack (its file is JSON, which docker stack deploy reads as YAML)
// for the compose configuration config.
func Render(config []byte, opts Options) (*Stack, error) {
	var in struct {
		Name     string                    `json:"name"`
		Services map[string]map[string]any `json:"services"`
		Networks map[string]map[string]any `json:"networks"`
		Volumes  map[string]map[string]any `json:"volumes"`
	}
	if err := json.Unmarshal(config, &in); err != nil {
		return nil, fmt.Errorf("swarmstack: the compose configuration is not JSON (docker compose config --format json): %w", err)
	}
	if len(in.Services) == 0 {
		return nil, fmt.Errorf("swarmstack: the compose configuration has no services")
	}
	if opts.DefaultReplicas <= 0 {
		opts.DefaultReplicas = 2
	}
	if opts.SecretsDir == "" {
		return nil, fmt.Errorf("swarmstack: no directory for the secrets (Options.SecretsDir)")
	}
	out := map[string]any{"version": "3.9"}
	objs := &objects{secrets: map[string][]byte{}, configs: map[string][]byte{}, volumes: map[string]bool{}}
	services := map[string]map[string]any{}
	var edge string    // the service that runs Traefik
	var edgeRefs []any // the secrets the labels' plugin options name, mounted into it
	for _, name := range sortedKeys(in.Services) {
		svc, refs, err := service(name, in.Services[name], opts, objs)
		if err != nil {
			return nil, err
		}
		services[name] = svc
		edgeRefs = append(edgeRefs, refs...)
		if env, ok := svc["environment"].(map[string]any); ok && env["TRAEFIK_STATIC_CONFIG"] != nil {
			edge = name
		}
	}
	if len(edgeRefs) > 0 {
		if edge == "" {
			return nil, fmt.Errorf("swarmstack: the labels configure the mcpauth plugin, but no service runs Traefik (none sets TRAEFIK_STATIC_CONFIG)")
		}
		own, _ := services[edge]["secrets"].([]any)
		refs, err := uniqueRefs(append(own, edgeRefs...))
		if err != nil {
			return nil, err
		}
		services[edge]["secrets"] = refs
	}
	out["services"] = services
	for key, files := range map[string]map[string][]byte{"secrets": objs.secrets, "configs": objs.configs} {
		if len(files) > 0 {
			top := map[string]any{}
			for name := range files {
				top[name] = map[string]any{"file": filepath.Join(opts.SecretsDir, name)}
			}
			out[key] = top
		}
	}
	networks := map[string]any{}
	for name, n := range in.Networks {
		nn := map[string]any{"driver": "overlay", "attachable": true}
		if v, ok := n["name"]; ok {
			nn["name"] = v
		}
		networks[name] = nn
	}
	if len(networks) > 0 {
		out["networks"] = networks
	}
	volumes := map[string]any{}
	for name := range objs.volumes {
		volumes[name] = map[string]any{}
	}
	for name, v := range in.Volumes {
		vv := map[string]any{}
		if n, ok := v["name"]; ok {
			vv["name"] = n
		}
		volumes[name] = vv
	}
	if len(volumes) > 0 {
		out["volumes"] = volumes
	}
	file, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return &Stack{File: file, Secrets: objs.secrets, Configs: objs.configs}, nil
}

// uniqueRefs drops repeated secret references (two bridges' labels naming the same
// identity secret), sorted by target. Two different secrets for one target (two
// bridges' labels with different identity secrets) cannot both be mounted there: that
// is an error, not a silent pick.
func uniqueRefs(refs []any) ([]any, error) {
	seen := map[string]string{} // target -> source
	var out []any
	for _, r := range refs {
		m := r.(map[string]any)
		target, source := m["target"].(string), m["source"].(string)
		if prev, ok := seen[target]; ok {
			if prev != source {
				return nil, fmt.Errorf("swarmstack: two different secrets would be mounted as %s (do the services' labels give the plugin different values of one option?)", target)
			}
			continue
		}
		seen[target] = source
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].(map[string]any)["target"].(string) < out[j].(map[string]any)["target"].(string)
	})
	return out, nil
}

// secretEnv moves the secret variables of env (authsvc's and the bridges') into Swarm
// secrets: NAME=value becomes NAME_FILE=/run/secrets/<name>.
func secretEnv(env map[string]any, objs *objects) []any {
	var refs []any
	for _, k := range append(slices.Clone(contract.AuthsvcSecrets), contract.BridgeSecrets...) {
		v, ok := env[k].(string)
		if !ok || v == "" {
			delete(env, k) // empty means unset; a null is a variable compose left unset
			continue
		}
		path, ref := objs.add(strings.ToLower(k), v)
		delete(env, k)
		env[k+"_FILE"] = path
		refs = append(refs, ref)
	}
	return refs
}

// unsafeName matches what a Swarm secret's or config's name cannot hold.
var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// pluginSecretLabel matches a label setting one of the mcpauth plugin's secret options.
var pluginSecretLabel = regexp.MustCompile(`^traefik\.http\.middlewares\.([^.]+)\.plugin\.mcpauth\.(` +
	strings.Join(contract.PluginSecretOptions, "|") + `)$`)

// secretLabels rewrites the labels that give the plugin a secret into its …File
// option, naming a secret mounted into Traefik as <middleware>_<option>, so that each
// middleware reads its own value (bridges may have different identity secrets); it
// returns those secrets.
func secretLabels(labels map[string]string, objs *objects) []any {
	var refs []any
	for _, k := range sortedKeys(labels) {
		m := pluginSecretLabel.FindStringSubmatch(k)
		if m == nil {
			continue
		}
		v := labels[k]
		delete(labels, k)
		if v == "" {
			continue
		}
		middleware := unsafeName.ReplaceAllString(m[1], "_")
		path, ref := objs.add(middleware+"_"+strings.ToLower(m[2]), v)
		labels[k+"File"] = path
		refs = append(refs, ref)
	}
	return refs
}

// redisPassword matches a Redis password that an ACL file line can hold: what
// `just generate-redis-password` makes, and more.
var redisPassword = regexp.MustCompile(`^[A-Za-z0-9._~+/=:@%^*!?-]+$`)

// redisSecret rewrites a Redis service that passes its password on the command line
// (redis-server … --requirepass P, with REDISCLI_AUTH=P for the healthcheck) to read it
// from secrets: redis-server loads an ACL file (a secret) that gives the default user
// the password, and the healthcheck reads the password from another. The command still
// starts with redis-server, so the image's entrypoint runs it as it would (the
// official one drops root), and every other argument stays.
func redisSecret(out map[string]any, env map[string]any, objs *objects) ([]any, error) {
	cmd, ok := out["command"].([]any)
	if !ok || len(cmd) == 0 || cmd[0] != "redis-server" {
		return nil, nil
	}
	i := slices.IndexFunc(cmd, func(a any) bool { return a == "--requirepass" })
	if i < 0 || len(cmd) < i+2 {
		return nil, nil
	}
	password := fmt.Sprint(cmd[i+1])
	if !redisPassword.MatchString(password) {
		return nil, fmt.Errorf("swarmstack: the Redis password has characters an ACL file line cannot hold; use letters, digits and ._~+/=:@%%^*!?- (just generate-redis-password)")
	}
	aclPath, aclRef := objs.add("redis_users_acl", "user default on >"+password+" ~* &* +@all\n")
	path, ref := objs.add("redis_password", password)
	out["command"] = append(slices.Clone(cmd[:i]), append(slices.Clone(cmd[i+2:]), "--aclfile", aclPath)...)
	delete(env, "REDISCLI_AUTH")
	if hc, ok := out["healthcheck"].(map[string]any); ok {
		if test, ok := hc["test"].([]any); ok && len(test) == 2 && test[0] == "CMD-SHELL" {
			// $$: docker stack deploy interpolates the stack file, as compose does.
			hc["test"] = []any{"CMD-SHELL", "REDISCLI_AUTH=\"$$(cat " + path + ")\" && export REDISCLI_AUTH && " + fmt.Sprint(test[1])}
		}
	}
	return []any{aclRef, ref}, nil
}

// kept are the service keys that mean the same under Swarm.
var kept = []string{"image", "command", "entrypoint", "environment", "networks", "init", "user", "working_dir",
	"stop_grace_period", "stop_signal", "cap_add", "cap_drop", "read_only", "tmpfs", "ulimits"}

func service(name string, in map[string]any, opts Options, objs *objects) (svc map[string]any, edgeRefs []any, err error) {
	if _, ok := in["image"].(string); !ok {
		return nil, nil, fmt.Errorf("swarmstack: service %s has no image name (Swarm deploys images; the compose file must name the one it builds)", name)
	}
	out := map[string]any{}
	for _, k := range kept {
		if v, ok := in[k]; ok && v != nil {
			out[k] = v
		}
	}
	env := map[string]any{}
	if e, ok := in["environment"].(map[string]any); ok {
		for k, v := range e {
			env[k] = v
		}
	}
	bridge := env["MCPBRIDGE_IDENTITY_SECRET"] != nil
	traefik := env["TRAEFIK_STATIC_CONFIG"] != nil
	replicas := 1
	if bridge || name == "auth" {
		replicas = opts.DefaultReplicas
	}
	if n, ok := opts.Replicas[name]; ok {
		replicas = n
	}
	if bridge && replicas > 1 {
		env["MCPBRIDGE_REPLICA_URL"] = "auto"
		// The replicas share the 2026-07-28 traffic by user; Swarm's DNS lists the
		// service's tasks under tasks.<service>.
		env["MCPBRIDGE_PEERS"] = "tasks." + name
		// On SIGTERM (a rolling update, a scale-down) serve 5 s more: Traefik's Swarm
		// provider drops the task within its 2 s refresh, so that no request meets a
		// closed port. The grace period covers that and the shutdown itself.
		if _, set := env["MCPBRIDGE_SHUTDOWN_DELAY"]; !set || env["MCPBRIDGE_SHUTDOWN_DELAY"] == "" {
			env["MCPBRIDGE_SHUTDOWN_DELAY"] = "5s"
		}
		out["stop_grace_period"] = "30s"
	}
	if traefik {
		env["TRAEFIK_STATIC_CONFIG"] = "traefik.swarm.yml"
	}
	refs := secretEnv(env, objs)
	if hc, ok := in["healthcheck"].(map[string]any); ok {
		h := map[string]any{}
		for k, v := range hc {
			if k != "start_interval" { // not in the stack file format
				h[k] = v
			}
		}
		out["healthcheck"] = h
	}
	var fileRefs, configRefs []any
	if vols, ok := in["volumes"].([]any); ok {
		var vs []any
		for _, v := range vols {
			m, ok := v.(map[string]any)
			if !ok {
				continue
			}
			c := map[string]any{}
			for _, k := range []string{"type", "source", "target", "read_only"} {
				if x, ok := m[k]; ok {
					c[k] = x
				}
			}
			if c["type"] == "bind" {
				kept, secretRefs, cfgRefs, err := carryBind(name, c, objs)
				if err != nil {
					return nil, nil, err
				}
				fileRefs, configRefs = append(fileRefs, secretRefs...), append(configRefs, cfgRefs...)
				if kept == nil {
					continue
				}
				c = kept
			}
			vs = append(vs, c)
		}
		if len(vs) > 0 {
			out["volumes"] = vs
		}
	}
	if len(configRefs) > 0 {
		out["configs"] = configRefs
	}
	if hosts := extraHosts(in["extra_hosts"]); len(hosts) > 0 {
		out["extra_hosts"] = hosts
	}
	if ports, ok := in["ports"].([]any); ok {
		var ps []any
		for _, p := range ports {
			m, ok := p.(map[string]any)
			if !ok {
				continue
			}
			pub, err := strconv.Atoi(fmt.Sprint(m["published"]))
			if err != nil || pub == 0 {
				continue // a port nobody asked for (HTTP_PORT=…:0), or a range
			}
			// Published on the node itself: the routing mesh balances with IPVS, which
			// a node may lack, and Traefik is the balancer.
			ps = append(ps, map[string]any{"target": m["target"], "published": pub, "protocol": "tcp", "mode": "host"})
		}
		if len(ps) > 0 {
			out["ports"] = ps
		}
	}

	redisRefs, err := redisSecret(out, env, objs)
	if err != nil {
		return nil, nil, err
	}
	refs = append(refs, redisRefs...)
	if len(refs) > 0 {
		if out["secrets"], err = uniqueRefs(refs); err != nil {
			return nil, nil, err
		}
	}
	if len(fileRefs) > 0 {
		all, _ := out["secrets"].([]any)
		out["secrets"] = append(all, fileRefs...)
	}
	if len(env) > 0 {
		out["environment"] = env
	} else {
		delete(out, "environment")
	}

	labels := map[string]string{}
	switch l := in["labels"].(type) {
	case map[string]any:
		for k, v := range l {
			labels[strings.Replace(k, "traefik.docker.", "traefik.swarm.", 1)] = fmt.Sprint(v)
		}
	case []any:
		for _, x := range l {
			k, v, _ := strings.Cut(fmt.Sprint(x), "=")
			labels[strings.Replace(k, "traefik.docker.", "traefik.swarm.", 1)] = v
		}
	}
	deploy := map[string]any{
		"replicas":      replicas,
		"endpoint_mode": "dnsrr",
		"restart_policy": map[string]any{
			"condition": "any", "delay": "2s",
		},
		"update_config": map[string]any{
			"parallelism": 1, "order": "start-first", "delay": "5s", "failure_action": "rollback", "monitor": "20s",
		},
		"rollback_config": map[string]any{"parallelism": 1, "order": "start-first"},
	}
	if traefik {
		// The Swarm provider reads the services through the manager's API (the socket).
		deploy["placement"] = map[string]any{"constraints": []string{"node.role == manager"}}
		// One Traefik per node port: a second task could not publish the same port.
		deploy["update_config"] = map[string]any{"parallelism": 1, "order": "stop-first", "failure_action": "rollback"}
	}
	edgeRefs = secretLabels(labels, objs)
	if len(labels) > 0 {
		deploy["labels"] = labels
	}
	out["deploy"] = deploy
	return out, edgeRefs, nil
}

// extraHosts turns compose's extra_hosts (a map of host to addresses, or a list of
// host:address) into the stack file's list.
func extraHosts(v any) []string {
	var out []string
	switch h := v.(type) {
	case map[string]any:
		for host, addrs := range h {
			switch a := addrs.(type) {
			case []any:
				for _, x := range a {
					out = append(out, host+":"+fmt.Sprint(x))
				}
			default:
				out = append(out, host+":"+fmt.Sprint(a))
			}
		}
	case []any:
		for _, x := range h {
			out = append(out, strings.Replace(fmt.Sprint(x), "=", ":", 1))
		}
	}
	sort.Strings(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// carryBind turns a bind mount of the compose file (a path on the machine that
// deploys) into what a task on any node has: a read-only regular file becomes a Swarm
// config mounted at the same place, or a Swarm secret when it holds a private key; a
// read-only directory, each regular file under it so (Go test files and testdata
// left out); a writable bind mount, a named volume of the service. What is not a
// regular file or directory (the Docker socket) stays a bind mount, as does a path
// that does not exist here (nothing to carry: a node has it or not). It returns the
// mount to keep (nil when none) and the secrets and configs to mount.
func carryBind(service string, m map[string]any, objs *objects) (kept map[string]any, secretRefs, configRefs []any, err error) {
	src, _ := m["source"].(string)
	target, _ := m["target"].(string)
	if m["read_only"] != true {
		vol := service + "-" + strings.Trim(strings.ReplaceAll(target, "/", "-"), "-")
		objs.volumes[vol] = true
		return map[string]any{"type": "volume", "source": vol, "target": target}, nil, nil, nil
	}
	st, statErr := os.Stat(src)
	switch {
	case statErr != nil:
		return m, nil, nil, nil
	case st.Mode().IsRegular():
		s, c, err := carryFile(src, target, objs)
		return nil, s, c, err
	case !st.IsDir():
		return m, nil, nil, nil
	}
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() || strings.HasSuffix(d.Name(), "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(src, path)
		s, c, err := carryFile(path, filepath.ToSlash(filepath.Join(target, rel)), objs)
		secretRefs, configRefs = append(secretRefs, s...), append(configRefs, c...)
		return err
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("swarmstack: service %s mounts %s: %w", service, src, err)
	}
	return nil, secretRefs, configRefs, nil
}

// maxConfigBytes is Swarm's limit on a config or a secret (500 KB).
const maxConfigBytes = 500 * 1024

// carryFile makes the file at path a Swarm config (a secret when it holds a private
// key) mounted at target.
func carryFile(path, target string, objs *objects) (secretRefs, configRefs []any, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if len(b) > maxConfigBytes {
		return nil, nil, fmt.Errorf("swarmstack: %s holds %d bytes, more than a Swarm config's %d", path, len(b), maxConfigBytes)
	}
	base := strings.Trim(unsafeName.ReplaceAllString(filepath.Base(target), "_"), "._-")
	name := objectName(base, target, string(b))
	ref := map[string]any{"source": name, "target": target}
	if strings.HasSuffix(path, ".key") || bytes.Contains(b, []byte("PRIVATE KEY-----")) {
		objs.secrets[name] = b
		return []any{ref}, nil, nil
	}
	objs.configs[name] = b
	return nil, []any{ref}, nil
}
