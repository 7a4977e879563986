package localstack

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// RunFile is the file in the state directory that describes the local gateway while it
// runs, so that the helpers (`just mcp-client-token`, `just mcp-config`) find it
// without being told its port again. [Stack.Stop] removes it.
const RunFile = "run.json"

// RunInfo is the content of [RunFile].
type RunInfo struct {
	Issuer   string         `json:"issuer"`
	Services []RunService   `json:"services"`
	PIDs     map[string]int `json:"pids"`
	LogDir   string         `json:"log_dir"`
}

// RunService is one MCP service of a running local gateway.
type RunService struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// DefaultStateDir is where `just run` keeps its state (Redis data, binaries, the run
// file) unless told otherwise: $MCPGW_CACHE/run, else the user's cache directory.
func DefaultStateDir(getenv func(string) string) string {
	if c := getenv("MCPGW_CACHE"); c != "" {
		return filepath.Join(c, "run")
	}
	if c, err := os.UserCacheDir(); err == nil {
		return filepath.Join(c, "mcp-oauth-gateway", "run")
	}
	return filepath.Join(os.TempDir(), "mcp-oauth-gateway-run")
}

func (s *Stack) writeRunInfo() {
	info := RunInfo{Issuer: s.Issuer, PIDs: s.PIDs(), LogDir: s.LogDir}
	for _, r := range s.Plan.Services {
		info.Services = append(info.Services, RunService{Name: r.Name, URL: r.MCPURL()})
	}
	b, _ := json.MarshalIndent(info, "", "  ") // plain data: never fails
	tmp := s.runFile + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err == nil {
		err = os.Rename(tmp, s.runFile)
		if err == nil {
			return
		}
	}
	s.log.Warn("could not write the run file; `just mcp-config` and `just mcp-client-token` will not find this gateway by themselves", "file", s.runFile)
}

// ErrNotRunning is returned by [ReadRunInfo] when no local gateway runs from stateDir.
var ErrNotRunning = errors.New("no local gateway (`just run`) is running")

// ReadRunInfo reads the run file of the local gateway running from stateDir. A file
// left by a gateway that no longer runs (its processes are gone) is ErrNotRunning.
func ReadRunInfo(stateDir string) (*RunInfo, error) {
	b, err := os.ReadFile(filepath.Join(stateDir, RunFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotRunning
	}
	if err != nil {
		return nil, err
	}
	var info RunInfo
	if err := json.Unmarshal(b, &info); err != nil || info.Issuer == "" {
		return nil, fmt.Errorf("%s: not a run file: %v", filepath.Join(stateDir, RunFile), err)
	}
	for _, pid := range info.PIDs {
		if pid > 0 && syscall.Kill(pid, 0) == nil {
			return &info, nil
		}
	}
	return nil, ErrNotRunning
}
