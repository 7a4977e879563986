package helm_test

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// authsvcSecrets are authsvc's settings that are secrets (authsvc/internal/config):
// they come from the Secret, under their own names as keys; the first two are required.
var authsvcSecrets = []string{"GITHUB_CLIENT_SECRET", "REVOCATION_FEED_TOKEN",
	"REDIS_PASSWORD", "REDIS_SENTINEL_PASSWORD", "SESSION_SECRET", "JWT_PRIVATE_KEY", "GATEWAY_JWT_SECRET"}

// envVar is one container env entry.
type envVar struct {
	Value     string
	FromKey   string // secretKeyRef key; "" for a plain value
	Secret    string // secretKeyRef name
	Optional  bool
	HasSource bool // valueFrom of any kind
}

// firstContainer returns a Deployment's only container.
func firstContainer(t testing.TB, d *object) map[string]any {
	t.Helper()
	cs := anyList(dig(d.Doc, "spec", "template", "spec", "containers"))
	if len(cs) != 1 {
		t.Fatalf("%s has %d containers, want 1", d, len(cs))
	}
	return cs[0].(map[string]any)
}

func containerEnv(t testing.TB, d *object) map[string]envVar {
	t.Helper()
	out := map[string]envVar{}
	for _, e := range anyList(dig(firstContainer(t, d), "env")) {
		name := str(e, "name")
		if _, dup := out[name]; dup {
			t.Errorf("%s: env %s set twice", d, name)
		}
		v := envVar{Value: str(e, "value"), HasSource: dig(e, "valueFrom") != nil}
		if ref := dig(e, "valueFrom", "secretKeyRef"); ref != nil {
			v.FromKey, v.Secret = str(ref, "key"), str(ref, "name")
			v.Optional, _ = dig(ref, "optional").(bool)
		}
		out[name] = v
	}
	return out
}

// imageRepository is an image reference without its tag and without registry prefix.
func imageRepository(ref, registry string) string {
	ref = strings.TrimPrefix(ref, registry)
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}

func probePath(c map[string]any, probe string) string {
	return str(c, probe, "httpGet", "path") + " on " + fmt.Sprint(dig(c, probe, "httpGet", "port"))
}

// TestAuthsvcMatchesCompose: authsvc's Deployment has compose/auth.yaml's environment
// (the override, which sets every optional value, exactly its names; the defaults a
// subset with the values compose sets itself), every secret from the Secret, the
// same image, port, and the probes and hardening the chart promises.
func TestAuthsvcMatchesCompose(t *testing.T) {
	c := mustCompose(t)
	auth := c.Stack.Project.Services["auth"]
	composeNames := slices.Sorted(maps.Keys(auth.Environment))
	for _, tc := range []struct {
		name, secret, registry string
		r                      *rendering
		replicas               float64
		all                    bool
	}{
		{"default", fullname + "-secrets", "", mustRender(t, defaultRender), 2, false},
		{"override", "gateway-secrets", "registry.example.com/mcpgw/", mustRender(t, overrideRender), 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.r.find("Deployment", fullname+"-authsvc")
			if d == nil {
				t.Fatal("no authsvc Deployment")
			}
			env := containerEnv(t, d)
			names := slices.Sorted(maps.Keys(env))
			for _, n := range names {
				if !slices.Contains(composeNames, n) {
					t.Errorf("env %s is not in compose/auth.yaml's environment", n)
				}
			}
			if tc.all && !slices.Equal(names, composeNames) {
				t.Errorf("env names %v, compose/auth.yaml has %v", names, composeNames)
			}
			// Set by the stack itself, or required by compose/auth.yaml.
			for _, n := range []string{"LISTEN_ADDR", "AUTH_ISSUER_URL", "REDIS_URL", "LOG_FORMAT", "BASE_DOMAIN",
				"GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET", "ALLOWED_GITHUB_USERS", "REVOCATION_FEED_TOKEN"} {
				if _, ok := env[n]; !ok {
					t.Errorf("env %s missing", n)
				}
			}
			for _, n := range []string{"LISTEN_ADDR", "AUTH_ISSUER_URL", "LOG_FORMAT", "BASE_DOMAIN"} {
				if want := *auth.Environment[n]; env[n].Value != want {
					t.Errorf("env %s=%q, compose sets %q", n, env[n].Value, want)
				}
			}
			for n, v := range env {
				secret := slices.Contains(authsvcSecrets, n)
				switch {
				case secret && (v.FromKey != n || v.Secret != tc.secret):
					t.Errorf("env %s: from Secret %q key %q, want %s key %s", n, v.Secret, v.FromKey, tc.secret, n)
				case secret && v.Optional != (slices.Index(authsvcSecrets, n) >= 2):
					t.Errorf("env %s: optional=%v", n, v.Optional)
				case !secret && v.HasSource:
					t.Errorf("env %s: not a secret, yet from valueFrom", n)
				}
			}
			if tc.all {
				if env["REDIS_SENTINELS"].Value != "redis-node-0.redis-headless.redis:26379,redis-node-1.redis-headless.redis:26379" || env["REDIS_MASTER_NAME"].Value != "mymaster" {
					t.Errorf("Sentinel env %+v %+v", env["REDIS_SENTINELS"], env["REDIS_MASTER_NAME"])
				}
				// Helm reads numbers in values as float64: they must not become 2.592e+06.
				for n, want := range map[string]string{"ACCESS_TOKEN_LIFETIME": "1800", "REFRESH_TOKEN_LIFETIME": "2592000"} {
					if env[n].Value != want {
						t.Errorf("the number %s in authsvc.config became %q", want, env[n].Value)
					}
				}
			} else if _, ok := env["REDIS_SENTINELS"]; ok {
				t.Error("REDIS_SENTINELS set without redis.sentinels")
			}

			ctr := firstContainer(t, d)
			if got, want := imageRepository(str(ctr, "image"), tc.registry), imageRepository(auth.Image, ""); got != want {
				t.Errorf("image %s, compose builds %s", str(ctr, "image"), auth.Image)
			}
			port := fmt.Sprint(dig(anyList(dig(ctr, "ports"))[0], "containerPort"))
			if want := c.Stack.HTTP.Services["auth"].LoadBalancer.Servers[0].Port; port != want {
				t.Errorf("container port %s, the labels route to %s", port, want)
			}
			// Routed while Redis is down, as compose's healthcheck (authsvc.readinessPath).
			if got := probePath(ctr, "readinessProbe"); got != "/health/live on http" {
				t.Errorf("readiness %s, want /health/live on http", got)
			}
			if got := probePath(ctr, "livenessProbe"); got != "/health/live on http" {
				t.Errorf("liveness %s, want /health/live on http", got)
			}
			checkHardened(t, d, ctr)
			if r := dig(d.Doc, "spec", "replicas"); r != tc.replicas {
				t.Errorf("replicas %v, want %v", r, tc.replicas)
			}
		})
	}
}

// checkHardened: non-root, read-only root, no privilege escalation, no capabilities,
// requests and a memory limit.
func checkHardened(t *testing.T, d *object, ctr map[string]any) {
	t.Helper()
	sc := dig(ctr, "securityContext")
	if dig(sc, "runAsNonRoot") != true || dig(sc, "readOnlyRootFilesystem") != true || dig(sc, "allowPrivilegeEscalation") != false ||
		fmt.Sprint(dig(sc, "capabilities", "drop")) != "[ALL]" {
		t.Errorf("%s: securityContext %v", d, sc)
	}
	if dig(d.Doc, "spec", "template", "spec", "securityContext", "runAsNonRoot") != true {
		t.Errorf("%s: the pod does not run as non-root", d)
	}
	if dig(ctr, "resources", "requests", "cpu") == nil || dig(ctr, "resources", "requests", "memory") == nil || dig(ctr, "resources", "limits", "memory") == nil {
		t.Errorf("%s: resources %v, want cpu and memory requests and a memory limit", d, dig(ctr, "resources"))
	}
	if dig(d.Doc, "spec", "template", "spec", "automountServiceAccountToken") != false {
		t.Errorf("%s: mounts a service account token it never uses", d)
	}
}

// TestBridgesMatchCompose: one bridge Deployment per compose MCP service with its
// command, image, environment (plus the replica settings the Swarm rendering adds),
// port, volumes, and its init; the override's sixth server and settings.
func TestBridgesMatchCompose(t *testing.T) {
	c := mustCompose(t)
	var servers []string
	for name, svc := range c.Stack.Project.Services {
		if _, ok := svc.Environment["MCPBRIDGE_IDENTITY_SECRET"]; ok {
			servers = append(servers, name)
		}
	}
	slices.Sort(servers)
	if len(servers) != 5 {
		t.Fatalf("compose has MCP services %v, want five", servers)
	}
	def := mustRender(t, defaultRender)
	var rendered []string
	for _, d := range def.ofKind("Deployment") {
		if s := d.Labels()["mcp-oauth-gateway/server"]; s != "" {
			rendered = append(rendered, s)
		}
	}
	slices.Sort(rendered)
	if !slices.Equal(rendered, servers) {
		t.Errorf("bridges %v, compose has %v", rendered, servers)
	}
	for _, name := range servers {
		t.Run(name, func(t *testing.T) {
			svc := c.Stack.Project.Services[name]
			d := def.find("Deployment", fullname+"-mcp-"+name)
			if d == nil {
				t.Fatal("not rendered")
			}
			// The replicas find each other through a headless Service of the same pods.
			peers := fullname + "-mcp-" + name + "-peers"
			added := map[string]string{"MCPBRIDGE_REPLICA_URL": "auto", "MCPBRIDGE_SHUTDOWN_DELAY": "5s", "MCPBRIDGE_PEERS": peers}
			if ps := def.find("Service", peers); ps == nil {
				t.Errorf("no Service %s", peers)
			} else if ip := str(ps.Doc, "spec", "clusterIP"); ip != "None" ||
				fmt.Sprint(dig(ps.Doc, "spec", "selector")) != fmt.Sprint(dig(d.Doc, "spec", "selector", "matchLabels")) {
				t.Errorf("Service %s: clusterIP %q selector %v, want headless over the Deployment's pods %v", peers, ip,
					dig(ps.Doc, "spec", "selector"), dig(d.Doc, "spec", "selector", "matchLabels"))
			}
			ctr := firstContainer(t, d)
			if got := fmt.Sprint(anyList(dig(ctr, "args"))); got != fmt.Sprint([]string(svc.Command)) {
				t.Errorf("args %s, compose's command %v", got, svc.Command)
			}
			if got, want := imageRepository(str(ctr, "image"), ""), imageRepository(svc.Image, ""); got != want {
				t.Errorf("image %s, compose builds %s", str(ctr, "image"), svc.Image)
			}
			env := containerEnv(t, d)
			for n, v := range env {
				cv, inCompose := svc.Environment[n]
				switch {
				case added[n] != "":
					if v.Value != added[n] {
						t.Errorf("env %s=%q, want %q", n, v.Value, added[n])
					}
				case !inCompose:
					t.Errorf("env %s is not in compose's environment of %s", n, name)
				case n == "MCPBRIDGE_IDENTITY_SECRET":
					if v.FromKey != "IDENTITY_SECRET" || v.Secret != fullname+"-secrets" || v.Optional {
						t.Errorf("env %s: %+v, want the Secret's IDENTITY_SECRET, not optional", n, v)
					}
				case v.HasSource || cv == nil || v.Value != *cv:
					t.Errorf("env %s: %+v, compose sets %v", n, v, deref(cv))
				}
			}
			for n := range added {
				if _, ok := env[n]; !ok {
					t.Errorf("env %s missing", n)
				}
			}
			for n, cv := range svc.Environment {
				if cv != nil && *cv != "" && n != "MCPBRIDGE_IDENTITY_SECRET" {
					if _, ok := env[n]; !ok {
						t.Errorf("compose sets %s=%s, the chart does not", n, *cv)
					}
				}
			}
			port := fmt.Sprint(dig(anyList(dig(ctr, "ports"))[0], "containerPort"))
			if want := c.Stack.HTTP.Services[name].LoadBalancer.Servers[0].Port; port != want {
				t.Errorf("container port %s, the labels route to %s", port, want)
			}
			if got := probePath(ctr, "readinessProbe"); got != "/ready on http" {
				t.Errorf("readiness %s", got)
			}
			if got := probePath(ctr, "livenessProbe"); got != "/health on http" {
				t.Errorf("liveness %s", got)
			}
			pod := dig(d.Doc, "spec", "template", "spec")
			if dig(pod, "terminationGracePeriodSeconds") != float64(30) {
				t.Errorf("terminationGracePeriodSeconds %v, want 30", dig(pod, "terminationGracePeriodSeconds"))
			}
			if init := svc.Init != nil && *svc.Init; dig(pod, "shareProcessNamespace") != init {
				t.Errorf("shareProcessNamespace %v, compose init %v", dig(pod, "shareProcessNamespace"), init)
			}
			if dig(d.Doc, "spec", "replicas") != float64(2) {
				t.Errorf("replicas %v, want 2", dig(d.Doc, "spec", "replicas"))
			}
			checkHardened(t, d, ctr)
			// A named volume in compose is a PersistentVolumeClaim at the same path.
			mounts := map[string]string{}
			for _, m := range anyList(dig(ctr, "volumeMounts")) {
				mounts[str(m, "mountPath")] = str(m, "name")
			}
			for _, v := range svc.Volumes {
				if v.Type != "volume" {
					continue
				}
				vol := podVolume(d, mounts[v.Target])
				if claim := str(vol, "persistentVolumeClaim", "claimName"); claim == "" || def.find("PersistentVolumeClaim", claim) == nil {
					t.Errorf("compose keeps %s on volume %s; the chart mounts %v there", v.Target, v.Source, vol)
				}
			}
		})
	}

	t.Run("override", func(t *testing.T) {
		r := mustRender(t, overrideRender)
		git := r.find("Deployment", fullname+"-mcp-git")
		if git == nil {
			t.Fatal("the sixth server git is not rendered")
		}
		env := containerEnv(t, git)
		for n, want := range map[string]string{
			"MCPBRIDGE_TOOL_POLICY": "git_push=user:alice", "GIT_AUTHOR_NAME": "gateway", "MCPBRIDGE_MAX_SESSIONS": "128",
			"MCPBRIDGE_MAX_MESSAGE_BYTES": "8388608",
			"MCPBRIDGE_ALLOWED_ORIGINS":   "https://app.example.com", "MCPBRIDGE_METRICS_LISTEN": ":9101",
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector.monitoring:4318",
		} {
			if env[n].Value != want {
				t.Errorf("git env %s=%q, want %q", n, env[n].Value, want)
			}
		}
		if img := str(firstContainer(t, git), "image"); img != "registry.example.com/mcpgw/team/mcp-git:2026.1" {
			t.Errorf("git image %s", img)
		}
		if env := containerEnv(t, r.find("Deployment", fullname+"-mcp-filesystem")); env["MCPBRIDGE_TOOL_POLICY"].Value != "write_*=scope:fs.write; delete_*=user:alice" {
			t.Errorf("filesystem tool policy %+v", env["MCPBRIDGE_TOOL_POLICY"])
		}
		for _, d := range r.ofKind("Deployment") {
			want := float64(3)
			if d.Name() == fullname+"-mcp-filesystem" {
				want = 1
			}
			if got := dig(d.Doc, "spec", "replicas"); got != want {
				t.Errorf("%s: replicas %v, want %v", d, got, want)
			}
		}
		if claim := str(podVolume(r.find("Deployment", fullname+"-mcp-memory"), "data"), "persistentVolumeClaim", "claimName"); claim != "memory-data" {
			t.Errorf("memory's volume claim %q, want the existing memory-data", claim)
		}
		if r.find("PersistentVolumeClaim", fullname+"-mcp-memory") != nil {
			t.Error("a claim is made for memory although it names an existing one")
		}
		pvc := r.find("PersistentVolumeClaim", fullname+"-mcp-filesystem")
		if pvc == nil || str(pvc.Doc, "spec", "storageClassName") != "fast" || fmt.Sprint(dig(pvc.Doc, "spec", "accessModes")) != "[ReadWriteOnce]" ||
			str(pvc.Doc, "spec", "resources", "requests", "storage") != "10Gi" || str(pvc.Doc, "metadata", "annotations", "helm.sh/resource-policy") != "keep" {
			t.Errorf("filesystem's claim %v", pvc)
		}
	})
}

func podVolume(d *object, name string) any {
	for _, v := range anyList(dig(d.Doc, "spec", "template", "spec", "volumes")) {
		if str(v, "name") == name {
			return v
		}
	}
	return nil
}

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// TestSecretsStayInTheSecret: secret values are in the Secret only (never in a plain
// env value, an annotation, a Middleware; no ConfigMap at all); every secretKeyRef and
// every urn:k8s:secret names the Secret, and each required key is in it. With
// secrets.existingSecret the chart makes no Secret and names the user's.
func TestSecretsStayInTheSecret(t *testing.T) {
	secretEnv := append([]string{"MCPBRIDGE_IDENTITY_SECRET"}, authsvcSecrets...)
	for _, tc := range []struct {
		name, secret string
		r            *rendering
	}{
		{"default", fullname + "-secrets", mustRender(t, defaultRender)},
		{"override", "gateway-secrets", mustRender(t, overrideRender)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys := map[string]bool{}
			secrets := tc.r.ofKind("Secret")
			if tc.name == "override" {
				if len(secrets) != 0 {
					t.Errorf("%d Secrets rendered although secrets.existingSecret is set", len(secrets))
				}
			} else {
				if len(secrets) != 1 || secrets[0].Name() != tc.secret || str(secrets[0].Doc, "type") != "Opaque" {
					t.Fatalf("Secrets %v, want one Opaque %s", secrets, tc.secret)
				}
				data, _ := dig(secrets[0].Doc, "stringData").(map[string]any)
				want := map[string]any{"GITHUB_CLIENT_SECRET": testSecrets["githubClientSecret"], "REVOCATION_FEED_TOKEN": testSecrets["revocationFeedToken"],
					"IDENTITY_SECRET": testSecrets["identitySecret"], "REDIS_PASSWORD": testSecrets["redisPassword"]}
				if !maps.Equal(data, want) {
					t.Errorf("the Secret holds %v, want %v", data, want)
				}
				for k := range data {
					keys[k] = true
				}
			}
			if n := len(tc.r.ofKind("ConfigMap")); n != 0 {
				t.Errorf("%d ConfigMaps rendered", n)
			}
			for _, o := range tc.r.Objects {
				if o.Kind() == "Secret" {
					continue
				}
				for k, v := range testSecrets {
					if strings.Contains(string(o.JSON), v) {
						t.Errorf("%s contains the value of secrets.%s", o, k)
					}
				}
			}
			for _, d := range tc.r.ofKind("Deployment") {
				for n, v := range containerEnv(t, &d) {
					if v.Secret != "" && v.Secret != tc.secret {
						t.Errorf("%s: env %s from Secret %s, want %s", d, n, v.Secret, tc.secret)
					}
					if slices.Contains(secretEnv, n) && v.FromKey == "" {
						t.Errorf("%s: secret env %s is not from the Secret", d, n)
					}
					if v.FromKey != "" && !v.Optional && tc.name == "default" && !keys[v.FromKey] {
						t.Errorf("%s: env %s needs key %s, which the Secret lacks", d, n, v.FromKey)
					}
				}
			}
			urn := regexp.MustCompile(`urn:k8s:secret:([^:"]+):([A-Z_]+)`)
			n := 0
			for _, mw := range tc.r.ofKind("Middleware") {
				for _, m := range urn.FindAllStringSubmatch(string(mw.JSON), -1) {
					n++
					if m[1] != tc.secret || (tc.name == "default" && !keys[m[2]]) {
						t.Errorf("%s: %s names Secret %s key %s, want %s and a key it holds", mw, m[0], m[1], m[2], tc.secret)
					}
				}
			}
			if n == 0 {
				t.Error("no Middleware takes a setting from the Secret")
			}
		})
	}
}

// podLabels returns a Deployment's pod template labels.
func podLabels(d object) map[string]string {
	out := map[string]string{}
	if m, ok := dig(d.Doc, "spec", "template", "metadata", "labels").(map[string]any); ok {
		for k, v := range m {
			out[k] = fmt.Sprint(v)
		}
	}
	return out
}

// selects reports whether a selector (a Service's map, or a LabelSelector with
// matchLabels; the chart uses no matchExpressions) matches labels.
func selects(selector any, labels map[string]string) bool {
	m, ok := selector.(map[string]any)
	if !ok {
		return false
	}
	if ml, ok := m["matchLabels"].(map[string]any); ok {
		m = ml
	} else if _, hasExpr := m["matchExpressions"]; hasExpr {
		return false
	}
	for k, v := range m {
		if labels[k] != fmt.Sprint(v) {
			return false
		}
	}
	return true
}

// selected returns the names of the Deployments whose pods a selector matches.
func selected(r *rendering, selector any) []string {
	var out []string
	for _, d := range r.ofKind("Deployment") {
		if selects(selector, podLabels(d)) {
			out = append(out, d.Name())
		}
	}
	return out
}

// TestSelectorsAndNetworkPolicies checks what the API server and the cluster check
// beyond the schemas, for the fields the chart sets: each Deployment's selector
// matches its own pods and no other's; each Service, PodDisruptionBudget and
// NetworkPolicy selects exactly the pods of its namesake; names, label values and
// port names have the forms Kubernetes requires; and the NetworkPolicies let in
// Traefik's pods (any namespace by default) and, for a bridge, its own replicas, and
// no other pod of the chart: compose's networks, where each bridge is alone with
// Traefik.
func TestSelectorsAndNetworkPolicies(t *testing.T) {
	dnsLabel := regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	labelValue := regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)
	for name, which := range map[string]func() (*rendering, error){"default": defaultRender, "override": overrideRender} {
		r := mustRender(t, which)
		t.Run(name, func(t *testing.T) {
			for _, o := range r.Objects {
				if len(o.Name()) > 63 || (o.Kind() == "Service" && !dnsLabel.MatchString(o.Name())) {
					t.Errorf("%s: name not a DNS label of at most 63 characters", o)
				}
				for k, v := range o.Labels() {
					if len(v) > 63 || !labelValue.MatchString(v) {
						t.Errorf("%s: label %s=%q is not a valid label value", o, k, v)
					}
				}
			}
			for _, d := range r.ofKind("Deployment") {
				sel := dig(d.Doc, "spec", "selector")
				if got := selected(r, sel); !slices.Equal(got, []string{d.Name()}) {
					t.Errorf("%s: selector %v matches the pods of %v, want its own only", d, sel, got)
				}
				for _, p := range anyList(dig(firstContainer(t, &d), "ports")) {
					if n := str(p, "name"); len(n) > 15 || !dnsLabel.MatchString(n) {
						t.Errorf("%s: port name %q is not an IANA service name", d, n)
					}
				}
			}
			for _, kind := range []string{"Service", "PodDisruptionBudget", "NetworkPolicy"} {
				for _, o := range r.ofKind(kind) {
					path := []string{"spec", "selector"}
					if kind == "NetworkPolicy" {
						path = []string{"spec", "podSelector"}
					}
					// A bridge's peers Service (headless) selects the bridge's own pods.
					want := strings.TrimSuffix(o.Name(), "-peers")
					if kind != "Service" || str(o.Doc, "spec", "clusterIP") != "None" {
						want = o.Name()
					}
					if got := selected(r, dig(o.Doc, path...)); !slices.Equal(got, []string{want}) {
						t.Errorf("%s selects the pods of %v, want those of Deployment %s", o, got, want)
					}
				}
			}
			for _, p := range r.ofKind("PodDisruptionBudget") {
				if dig(p.Doc, "spec", "maxUnavailable") != float64(1) || dig(p.Doc, "spec", "minAvailable") != nil {
					t.Errorf("%s: %v, want maxUnavailable 1", p, dig(p.Doc, "spec"))
				}
			}
			wantNS := map[string]any{}
			if name == "override" {
				wantNS = map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "traefik"}}
			}
			for _, np := range r.ofKind("NetworkPolicy") {
				if fmt.Sprint(dig(np.Doc, "spec", "policyTypes")) != "[Ingress]" {
					t.Errorf("%s: policyTypes %v, want [Ingress] (egress stays open)", np, dig(np.Doc, "spec", "policyTypes"))
				}
				rules := anyList(dig(np.Doc, "spec", "ingress"))
				if len(rules) == 0 {
					t.Fatalf("%s has no ingress rule", np)
				}
				if got := fmt.Sprint(dig(rules[0], "ports")); got != "[map[port:http protocol:TCP]]" {
					t.Errorf("%s: ports %s, want the http port only", np, got)
				}
				bridge := np.Labels()["app.kubernetes.io/component"] == "mcp-bridge"
				var traefik, own int
				for _, peer := range anyList(dig(rules[0], "from")) {
					ps := dig(peer, "podSelector")
					switch {
					case fmt.Sprint(ps) == "map[matchLabels:map[app.kubernetes.io/name:traefik]]":
						traefik++
						if ns := dig(peer, "namespaceSelector"); fmt.Sprint(ns) != fmt.Sprint(wantNS) {
							t.Errorf("%s: Traefik's namespaces %v, want %v", np, ns, wantNS)
						}
						if got := selected(r, ps); len(got) != 0 {
							t.Errorf("%s: Traefik's selector matches the chart's own pods %v", np, got)
						}
					case dig(peer, "namespaceSelector") == nil:
						own++
						if got := selected(r, ps); !slices.Equal(got, []string{np.Name()}) {
							t.Errorf("%s: a peer lets in the pods of %v, want the bridge's own only", np, got)
						}
					default:
						t.Errorf("%s: unexpected peer %v", np, peer)
					}
				}
				if traefik != 1 || (bridge && own != 1) || (!bridge && own != 0) {
					t.Errorf("%s: %d Traefik peers and %d own-replica peers", np, traefik, own)
				}
				wantRules := 1
				if name == "override" {
					wantRules = 2 // the metrics port, from metricsFrom
				}
				if len(rules) != wantRules {
					t.Errorf("%s: %d ingress rules, want %d", np, len(rules), wantRules)
				}
			}
		})
	}
}
