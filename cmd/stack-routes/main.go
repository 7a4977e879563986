// Command stack-routes prints the routing table the Docker Compose stack's Traefik
// labels produce, without Docker: the same loading and decoding as the stack tests
// (compose-go, paerser). `just stack-routes` runs it with .env.
//
//	stack-routes [-compose DIR] [-env FILE] [-json]
//
// -json prints the Traefik dynamic configuration instead (file-provider format).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/mcp-oauth-gateway/gateway/internal/labels"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "stack-routes:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("stack-routes", flag.ContinueOnError)
	composeDir := fs.String("compose", "compose", "directory of compose.yaml")
	envFile := fs.String("env", ".env", "dotenv file with the stack's variables")
	asJSON := fs.Bool("json", false, "print the Traefik dynamic configuration")
	if err := fs.Parse(args); err != nil {
		return err
	}
	env, err := labels.ReadEnvFile(*envFile)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s does not exist: run `just generate-all-secrets` and fill it (docs/stack.md)", *envFile)
	}
	if err != nil {
		return err
	}
	st, err := labels.Load(*composeDir, env)
	if err != nil {
		return err
	}
	if *asJSON {
		b, err := st.DynamicConfig(labels.Options{})
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	}
	return printTable(st, out)
}

// printTable lists routers by priority, highest first, as Traefik tries them.
func printTable(st *labels.Stack, out io.Writer) error {
	names := make([]string, 0, len(st.HTTP.Routers))
	for n := range st.HTTP.Routers {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := st.HTTP.Routers[names[i]], st.HTTP.Routers[names[j]]
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		return names[i] < names[j]
	})
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "PRIO\tROUTER\tENTRY POINTS\tSERVICE\tMIDDLEWARES\tRULE")
	for _, n := range names {
		r := st.HTTP.Routers[n]
		target := r.Service
		if u, err := st.InternalURL(r.Service); err == nil {
			target += " (" + u + ")"
		}
		mw := strings.Join(r.Middlewares, ",")
		if mw == "" {
			mw = "-"
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", r.Priority, n, strings.Join(r.EntryPoints, ","), target, mw, r.Rule)
	}
	return w.Flush()
}
