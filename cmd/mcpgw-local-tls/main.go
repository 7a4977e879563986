// Command mcpgw-local-tls is `just local-tls`: a local certificate authority (made once,
// kept) and a server certificate for the stack's host names, which the compose stack's
// Traefik serves instead of asking Let's Encrypt.
//
//	mcpgw-local-tls -dir .local-tls -hosts auth.localhost,memory.localhost,...
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mcp-oauth-gateway/gateway/internal/localtls"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mcpgw-local-tls:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("mcpgw-local-tls", flag.ContinueOnError)
	dir := fs.String("dir", ".local-tls", "directory for the CA (kept) and the server certificate")
	hosts := fs.String("hosts", "", "comma-separated host names (and IP addresses) the certificate covers")
	mounted := fs.String("mounted-at", "/etc/traefik/dynamic/local-tls", "where the Traefik container mounts DIR/traefik")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var list []string
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			list = append(list, h)
		}
	}
	res, err := localtls.Make(localtls.Options{Dir: *dir, Hosts: list, MountedAt: *mounted})
	if err != nil {
		return err
	}
	if res.NewCA {
		fmt.Fprintf(stdout, "local-tls: made a new local CA: %s\n", res.CACertPath)
	} else {
		fmt.Fprintf(stdout, "local-tls: kept the local CA: %s\n", res.CACertPath)
	}
	fmt.Fprintf(stdout, "local-tls: server certificate for %s, valid until %s\n",
		strings.Join(res.Hosts, " "), res.NotAfter.Format("2006-01-02"))
	fmt.Fprintf(stdout, "local-tls: trust the CA once, e.g. curl --cacert %s, or add it to your system's or browser's trust store (docs/stack.md)\n", res.CACertPath)
	return nil
}
