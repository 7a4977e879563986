// Command mcpgw-swarm renders the compose stack for Docker Swarm (internal/swarmstack):
//
//	docker compose --env-file .env -f compose/compose.yaml config --format json [services…] |
//	  mcpgw-swarm --secrets-dir DIR [--replicas auth=3,memory=2] [--default-replicas 2] |
//	  docker stack deploy --resolve-image never -c - NAME
//
// It writes the stack's secrets and configs into DIR (mode 0600) before it prints the
// stack file; docker stack deploy reads them from there to create the Swarm secrets
// and configs, after which DIR can go.
// `just swarm-deploy` runs exactly that; docs/stack.md "Docker Swarm" explains it.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mcp-oauth-gateway/gateway/internal/swarmstack"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mcpgw-swarm:", err)
		os.Exit(1)
	}
}

func run(args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("mcpgw-swarm", flag.ContinueOnError)
	replicas := fs.String("replicas", "", "replicas per service, e.g. auth=3,memory=2")
	def := fs.Int("default-replicas", 2, "replicas of authsvc and of each MCP bridge not named in --replicas")
	secretsDir := fs.String("secrets-dir", "", "an existing private directory to write the stack's secrets into, for docker stack deploy to read (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *secretsDir == "" {
		return fmt.Errorf("--secrets-dir is required: the directory docker stack deploy reads the secrets from")
	}
	dir, err := filepath.Abs(*secretsDir)
	if err != nil {
		return err
	}
	opts := swarmstack.Options{DefaultReplicas: *def, Replicas: map[string]int{}, SecretsDir: dir}
	for _, part := range strings.Split(*replicas, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		name, n, ok := strings.Cut(part, "=")
		count, err := strconv.Atoi(n)
		if !ok || err != nil || count < 0 {
			return fmt.Errorf("--replicas %q: want service=count", part)
		}
		opts.Replicas[name] = count
	}
	config, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	stack, err := swarmstack.Render(config, opts)
	if err != nil {
		return err
	}
	for _, files := range []map[string][]byte{stack.Secrets, stack.Configs} {
		for name, value := range files {
			if err := os.WriteFile(filepath.Join(dir, name), value, 0o600); err != nil {
				return fmt.Errorf("writing %s: %w", name, err)
			}
		}
	}
	_, err = out.Write(append(stack.File, '\n'))
	return err
}
