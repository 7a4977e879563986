package mcpclient

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Service is one MCP service behind the gateway.
type Service struct {
	Name string
	URL  string // the MCP endpoint, e.g. https://everything.example.com/mcp
}

// Target is a gateway: its issuer and its MCP services.
type Target struct {
	Issuer   string
	Services []Service
}

// LocalTarget is the layout of `just run`: the issuer on http://localhost:port and
// the MCP servers on the following ports, in order.
func LocalTarget(port int, names []string) Target {
	t := Target{Issuer: "http://localhost:" + strconv.Itoa(port)}
	for i, n := range names {
		t.Services = append(t.Services, Service{Name: n, URL: "http://localhost:" + strconv.Itoa(port+1+i) + "/mcp"})
	}
	return t
}

// DeployedTarget is the layout of the compose stack: https://auth.<base> and
// https://<name>.<base>/mcp.
func DeployedTarget(baseDomain string, names []string) Target {
	t := Target{Issuer: "https://auth." + baseDomain}
	for _, n := range names {
		t.Services = append(t.Services, Service{Name: n, URL: "https://" + n + "." + baseDomain + "/mcp"})
	}
	return t
}

// Service returns the named service.
func (t Target) Service(name string) (Service, bool) {
	for _, s := range t.Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// WriteConfigs prints ready-to-paste configuration for Claude Code, Claude Desktop
// (through mcp-remote) and VS Code for every service of t. Each client discovers the
// gateway's OAuth itself (401 → metadata → registration → browser login).
func WriteConfigs(w io.Writer, t Target) error {
	fmt.Fprintf(w, "# MCP services of the gateway at %s\n\n", t.Issuer)

	fmt.Fprintln(w, "## Claude Code (run in a shell; Claude Code does the OAuth login on first use, or via /mcp)")
	fmt.Fprintln(w)
	for _, s := range t.Services {
		fmt.Fprintf(w, "claude mcp add --transport http %s %s\n", shellQuote(s.Name), shellQuote(s.URL))
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "## Claude Desktop (claude_desktop_config.json, through mcp-remote, which does the OAuth login)")
	fmt.Fprintln(w)
	desktop := map[string]any{}
	for _, s := range t.Services {
		args := []string{"-y", "mcp-remote", s.URL}
		if strings.HasPrefix(s.URL, "http://") {
			args = append(args, "--allow-http")
		}
		desktop[s.Name] = map[string]any{"command": "npx", "args": args}
	}
	if err := writeJSON(w, map[string]any{"mcpServers": desktop}); err != nil {
		return err
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "## VS Code (.vscode/mcp.json; VS Code does the OAuth login when it first connects)")
	fmt.Fprintln(w)
	vscode := map[string]any{}
	for _, s := range t.Services {
		vscode[s.Name] = map[string]any{"type": "http", "url": s.URL}
	}
	if err := writeJSON(w, map[string]any{"servers": vscode}); err != nil {
		return err
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "## Any client with a static token (after `just mcp-client-token`, which writes MCP_CLIENT_ACCESS_TOKEN to .env)")
	fmt.Fprintln(w)
	for _, s := range t.Services {
		fmt.Fprintf(w, "claude mcp add --transport http %s %s --header \"Authorization: Bearer $MCP_CLIENT_ACCESS_TOKEN\"\n", shellQuote(s.Name), shellQuote(s.URL))
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// shellQuote leaves simple words bare and single-quotes anything else.
func shellQuote(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@", r)) {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}
