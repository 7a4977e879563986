package localstack

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultServerNames are the MCP servers `just run` puts behind the gateway when
// MCP_SERVERS does not say otherwise: the official npm servers.
var DefaultServerNames = []string{"everything", "memory", "filesystem"}

// NPMServers returns the stdio command of each named official npm MCP server,
// installed in npmDir by `scripts/install-mcp-npm.sh servers`. The memory server
// keeps its knowledge graph in dataDir/memory.jsonl and the filesystem server may
// touch only dataDir/files.
func NPMServers(npmDir, dataDir string, names []string) ([]MCPServer, error) {
	bin := func(name string) string { return filepath.Join(npmDir, "node_modules", ".bin", name) }
	known := map[string]MCPServer{
		"everything": {Name: "everything", Command: []string{bin("mcp-server-everything"), "stdio"}},
		"memory": {Name: "memory", Command: []string{bin("mcp-server-memory")},
			Env: []string{"MEMORY_FILE_PATH=" + filepath.Join(dataDir, "memory.jsonl")}},
		"filesystem": {Name: "filesystem", Command: []string{bin("mcp-server-filesystem"), filepath.Join(dataDir, "files")}},
	}
	var out []MCPServer
	for _, n := range names {
		s, ok := known[n]
		if !ok {
			keys := make([]string, 0, len(known))
			for k := range known {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return nil, fmt.Errorf("%w: unknown MCP server %q (known: %s)", ErrConfig, n, strings.Join(keys, ", "))
		}
		if _, err := os.Stat(s.Command[0]); err != nil {
			return nil, fmt.Errorf("localstack: MCP server %s is not installed (run `just deps-mcp-servers`): %w", n, err)
		}
		out = append(out, s)
	}
	if err := os.MkdirAll(filepath.Join(dataDir, "files"), 0o755); err != nil {
		return nil, fmt.Errorf("localstack: %w", err)
	}
	return out, nil
}
