// Command mcp-client is the gateway's client tooling:
//
//	mcp-client token   register a client, log in through the browser, write the
//	                   tokens to .env (`just mcp-client-token`)
//	mcp-client refresh use MCP_CLIENT_REFRESH_TOKEN to get new tokens into .env
//	                   (`just mcp-client-refresh`)
//	mcp-client config  print Claude Code, Claude Desktop and VS Code configuration
//	                   for every MCP service (`just mcp-config`)
//
// The gateway is the local one of `just run` (on $RUN_PORT, else the one its run file
// says is running, else http://localhost:8080) unless BASE_DOMAIN names a deployed one
// (https://auth.$BASE_DOMAIN); -local and -issuer override that.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/mcp-oauth-gateway/gateway/internal/dotenv"
	"github.com/mcp-oauth-gateway/gateway/internal/localstack"
	"github.com/mcp-oauth-gateway/gateway/internal/mcpclient"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mcp-client:", err)
		os.Exit(1)
	}
}

// defaultLocalServers and defaultDeployedServers mirror `just run` and compose/.
var (
	defaultLocalServers    = "everything,memory,filesystem"
	defaultDeployedServers = "everything,memory,filesystem,fetch,time"
)

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: mcp-client token|refresh|config [flags]")
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("mcp-client "+cmd, flag.ContinueOnError)
	fs.SetOutput(stdout)
	local := fs.Bool("local", false, "use the local gateway of `just run` even if BASE_DOMAIN is set")
	issuer := fs.String("issuer", "", "issuer URL of the gateway (overrides BASE_DOMAIN / RUN_PORT)")
	servers := fs.String("servers", "", "comma-separated MCP services (env MCP_SERVERS)")
	var service, resource, envFile, scope *string
	if cmd == "token" || cmd == "refresh" {
		envFile = fs.String("env-file", ".env", "file to read and write MCP_CLIENT_* in")
	}
	if cmd == "token" {
		service = fs.String("service", "", "comma-separated services the token is for (default: all)")
		resource = fs.String("resource", "", "comma-separated MCP URLs the token is for (instead of -service)")
		scope = fs.String("scope", "", "space-separated scopes to request")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	target := targetFrom(getenv, *local, *servers)
	if *issuer != "" {
		target.Issuer = strings.TrimSuffix(*issuer, "/")
	}
	switch cmd {
	case "config":
		return mcpclient.WriteConfigs(stdout, target)
	case "token":
		return token(ctx, target, *service, *resource, *envFile, *scope, stdout)
	case "refresh":
		return refresh(ctx, target, *envFile, getenv, stdout)
	default:
		return fmt.Errorf("unknown command %q: use token or config", cmd)
	}
}

func token(ctx context.Context, target mcpclient.Target, service, resource, envFile, scope string, out io.Writer) error {
	var resources []string
	if resource != "" {
		for _, r := range strings.Split(resource, ",") {
			resources = append(resources, strings.TrimSpace(r))
		}
	} else if service == "" {
		for _, s := range target.Services {
			resources = append(resources, s.URL)
		}
	} else {
		for _, n := range strings.Split(service, ",") {
			s, ok := target.Service(strings.TrimSpace(n))
			if !ok {
				return fmt.Errorf("unknown service %q", n)
			}
			resources = append(resources, s.URL)
		}
	}
	res, err := mcpclient.Authorize(ctx, mcpclient.Options{
		Issuer:     target.Issuer,
		Resources:  resources,
		Scope:      scope,
		ClientName: "mcp-client-token",
		Out:        out,
	})
	if err != nil {
		return err
	}
	if err := dotenv.Update(envFile, []dotenv.Pair{
		{Key: "MCP_CLIENT_ID", Value: res.ClientID},
		{Key: "MCP_CLIENT_ACCESS_TOKEN", Value: res.Token.AccessToken},
		{Key: "MCP_CLIENT_REFRESH_TOKEN", Value: res.Token.RefreshToken},
	}); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote MCP_CLIENT_ID, MCP_CLIENT_ACCESS_TOKEN and MCP_CLIENT_REFRESH_TOKEN to %s (token for %s, expires %s)\n",
		envFile, strings.Join(resources, ", "), res.Token.Expiry.Format("2006-01-02 15:04 MST"))
	return nil
}

// refresh rotates the tokens in envFile. The client id and refresh token come from
// the environment (just loads .env) or, failing that, from envFile itself.
func refresh(ctx context.Context, target mcpclient.Target, envFile string, getenv func(string) string, out io.Writer) error {
	fromFile := readEnvFile(envFile)
	get := func(k string) string {
		if v := fromFile[k]; v != "" {
			return v
		}
		return getenv(k)
	}
	tok, err := mcpclient.Refresh(ctx, nil, target.Issuer, get("MCP_CLIENT_ID"), get("MCP_CLIENT_REFRESH_TOKEN"))
	if err != nil {
		return err
	}
	if err := dotenv.Update(envFile, []dotenv.Pair{
		{Key: "MCP_CLIENT_ACCESS_TOKEN", Value: tok.AccessToken},
		{Key: "MCP_CLIENT_REFRESH_TOKEN", Value: tok.RefreshToken},
	}); err != nil {
		return err
	}
	fmt.Fprintf(out, "refreshed MCP_CLIENT_ACCESS_TOKEN and MCP_CLIENT_REFRESH_TOKEN in %s (expires %s)\n", envFile, tok.Expiry.Format("2006-01-02 15:04 MST"))
	return nil
}

// readEnvFile reads simple KEY=VALUE lines (as dotenv writes them); a missing file
// is empty.
func readEnvFile(path string) map[string]string {
	m := map[string]string{}
	b, err := os.ReadFile(path)
	if err != nil {
		return m
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimPrefix(strings.TrimSpace(line), "export ")
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") {
			m[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), "'")
		}
	}
	return m
}

// targetFrom picks the gateway: deployed when BASE_DOMAIN is a real domain; else the
// local one on RUN_PORT when set, else the local gateway `just run` says is running
// (its run file), else the default port 8080.
func targetFrom(getenv func(string) string, local bool, servers string) mcpclient.Target {
	base := getenv("BASE_DOMAIN")
	deployed := !local && base != "" && base != "localhost"
	if servers == "" {
		servers = getenv("MCP_SERVERS")
	}
	explicit := servers != ""
	if servers == "" {
		servers = defaultLocalServers
		if deployed {
			servers = defaultDeployedServers
		}
	}
	var names []string
	for _, n := range strings.Split(servers, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	if deployed {
		return mcpclient.DeployedTarget(base, names)
	}
	if p, err := strconv.Atoi(getenv("RUN_PORT")); err == nil {
		return mcpclient.LocalTarget(p, names)
	}
	if info, err := localstack.ReadRunInfo(localstack.DefaultStateDir(getenv)); err == nil {
		t := mcpclient.Target{Issuer: info.Issuer}
		for _, svc := range info.Services {
			if !explicit || slices.Contains(names, svc.Name) {
				t.Services = append(t.Services, mcpclient.Service{Name: svc.Name, URL: svc.URL})
			}
		}
		return t
	}
	return mcpclient.LocalTarget(8080, names)
}
