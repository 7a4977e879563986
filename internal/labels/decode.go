package labels

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/traefik/paerser/parser"
)

// Label keys outside traefik.http that the Docker provider reads itself.
const (
	labelEnable  = "traefik.enable"
	labelNetwork = "traefik.docker.network"
)

// ErrLabel is wrapped by every label decoding and merging error.
var ErrLabel = errors.New("traefik label")

// Container is one compose service as Traefik's Docker provider sees it.
type Container struct {
	// Name is the compose service name (the host name on the Docker network).
	Name string
	// Enabled is traefik.enable (the stack runs with exposedByDefault=false).
	Enabled bool
	// Network is traefik.docker.network.
	Network string
	// Labels are the service's labels after interpolation, traefik.* and others.
	Labels map[string]string
	// HTTP is what the container's traefik.http.* labels decode to, with the Docker
	// provider's defaults applied (a router without service gets the container's only
	// service).
	HTTP *HTTPConfiguration
}

// DecodeContainer decodes one service's labels the way Traefik's Docker provider does:
// paerser's label decoder with root "traefik" and filter "traefik.http" into the
// dynamic configuration types. Unlike Traefik it refuses, rather than ignores, what
// would silently do nothing in this stack: traefik.* keys outside traefik.http,
// traefik.enable and traefik.docker.network (a misspelt "traefik.htp." prefix), routers
// without a rule (Traefik would invent Host(`<container>`)), and routers that cannot be
// linked to a service.
func DecodeContainer(name string, labels map[string]string) (*Container, error) {
	c := &Container{Name: name, Labels: maps.Clone(labels), HTTP: &HTTPConfiguration{}}
	for _, k := range sortedKeys(labels) {
		v := labels[k]
		switch {
		case !strings.HasPrefix(k, "traefik."):
		case k == labelEnable:
			if v != "true" && v != "false" {
				return nil, fmt.Errorf("%w: service %s: %s=%q, want true or false", ErrLabel, name, k, v)
			}
			c.Enabled = v == "true"
		case k == labelNetwork:
			c.Network = v
		case strings.HasPrefix(k, "traefik.http."):
		default:
			return nil, fmt.Errorf("%w: service %s: %s is not a label this stack uses (traefik.enable, traefik.docker.network, traefik.http.*)", ErrLabel, name, k)
		}
	}
	if !c.Enabled {
		return c, nil
	}
	conf := &Configuration{HTTP: c.HTTP}
	if err := parser.Decode(labels, conf, parser.DefaultRootName, "traefik.http"); err != nil {
		return nil, fmt.Errorf("%w: service %s: %w", ErrLabel, name, err)
	}
	if err := linkRouters(name, c.HTTP); err != nil {
		return nil, err
	}
	return c, nil
}

// linkRouters applies provider.BuildRouterConfiguration's rules for a container's
// routers, turning what Traefik would log and drop into errors.
func linkRouters(container string, http *HTTPConfiguration) error {
	for _, rn := range sortedKeys(http.Routers) {
		r := http.Routers[rn]
		if r.Rule == "" {
			return fmt.Errorf("%w: service %s: router %s has no rule", ErrLabel, container, rn)
		}
		if r.Service != "" {
			continue
		}
		if len(http.Services) != 1 {
			return fmt.Errorf("%w: service %s: router %s names no service and the container defines %d", ErrLabel, container, rn, len(http.Services))
		}
		for sn := range http.Services {
			r.Service = sn
		}
	}
	return nil
}

// Merge joins containers' configurations as the Docker provider does
// (provider.Merge): a router, service or middleware defined by two containers is an
// error unless both definitions are identical (Traefik drops conflicting ones).
func Merge(containers []*Container) (*HTTPConfiguration, error) {
	out := &HTTPConfiguration{
		Routers:     map[string]*Router{},
		Services:    map[string]*Service{},
		Middlewares: map[string]*Middleware{},
	}
	owner := map[string]string{}
	var errs []error
	for _, c := range containers {
		if !c.Enabled {
			continue
		}
		errs = append(errs, mergeInto(out.Routers, c.HTTP.Routers, "router", c.Name, owner)...)
		errs = append(errs, mergeInto(out.Services, c.HTTP.Services, "service", c.Name, owner)...)
		errs = append(errs, mergeInto(out.Middlewares, c.HTTP.Middlewares, "middleware", c.Name, owner)...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func mergeInto[T any](dst, src map[string]*T, kind, container string, owner map[string]string) []error {
	var errs []error
	for _, name := range sortedKeys(src) {
		key := kind + "/" + name
		if prev, ok := dst[name]; ok && !reflect.DeepEqual(prev, src[name]) {
			errs = append(errs, fmt.Errorf("%w: %s %s defined differently by services %s and %s", ErrLabel, kind, name, owner[key], container))
			continue
		}
		dst[name] = src[name]
		owner[key] = container
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := slices.Collect(maps.Keys(m))
	sort.Strings(keys)
	return keys
}
