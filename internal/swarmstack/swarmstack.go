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
//     policy replaces it).
package swarmstack

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Options tune [Render].
type Options struct {
	// Replicas per service; a service not named gets DefaultReplicas when it is
	// authsvc or an MCP bridge, and one otherwise (Traefik, Redis).
	Replicas        map[string]int
	DefaultReplicas int // default 2
}

// Render returns the stack file (JSON, which docker stack deploy reads as YAML) for
// the compose configuration config.
func Render(config []byte, opts Options) ([]byte, error) {
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
	out := map[string]any{"version": "3.9"}
	services := map[string]any{}
	for _, name := range sortedKeys(in.Services) {
		svc, err := service(name, in.Services[name], opts)
		if err != nil {
			return nil, err
		}
		services[name] = svc
	}
	out["services"] = services
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
	return json.MarshalIndent(out, "", "  ")
}

// kept are the service keys that mean the same under Swarm.
var kept = []string{"image", "command", "entrypoint", "environment", "networks", "init", "user", "working_dir",
	"stop_grace_period", "stop_signal", "cap_add", "cap_drop", "read_only", "tmpfs", "ulimits"}

func service(name string, in map[string]any, opts Options) (map[string]any, error) {
	if _, ok := in["image"].(string); !ok {
		return nil, fmt.Errorf("swarmstack: service %s has no image name (Swarm deploys images; the compose file must name the one it builds)", name)
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
	if len(env) > 0 {
		out["environment"] = env
	}
	if hc, ok := in["healthcheck"].(map[string]any); ok {
		h := map[string]any{}
		for k, v := range hc {
			if k != "start_interval" { // not in the stack file format
				h[k] = v
			}
		}
		out["healthcheck"] = h
	}
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
			vs = append(vs, c)
		}
		out["volumes"] = vs
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
	if len(labels) > 0 {
		deploy["labels"] = labels
	}
	out["deploy"] = deploy
	return out, nil
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
