// Command mcpgw-swarm renders the compose stack for Docker Swarm (internal/swarmstack):
//
//	docker compose --env-file .env -f compose/compose.yaml config --format json [services…] |
//	  mcpgw-swarm [--replicas auth=3,memory=2] [--default-replicas 2] |
//	  docker stack deploy --resolve-image never -c - NAME
//
// `just swarm-deploy` runs exactly that; docs/stack.md "Docker Swarm" explains it.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
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
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts := swarmstack.Options{DefaultReplicas: *def, Replicas: map[string]int{}}
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
	_, err = out.Write(append(stack, '\n'))
	return err
}
