package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Sentinel is a real Redis Sentinel deployment on loopback: a master, a replica and
// three sentinels (quorum 2) watching them, all redis-server processes.
type Sentinel struct {
	MasterName string
	Sentinels  []string // host:port of each sentinel
	dir        string
	nodes      map[string]*exec.Cmd // data node address → process
}

// DownAfter is how long the sentinels wait before they consider a silent master down.
const DownAfter = time.Second

// StartSentinel starts the deployment; it is stopped when the test ends.
func StartSentinel(tb testing.TB) *Sentinel {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatalf("redis-server not found in PATH: %v", err)
	}
	dir := tb.TempDir()
	s := &Sentinel{MasterName: "gateway", dir: dir, nodes: map[string]*exec.Cmd{}}
	tb.Cleanup(s.stopAll)
	start := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(bin, args...)
		log, err := os.Create(filepath.Join(dir, name+".out"))
		if err != nil {
			tb.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			tb.Fatalf("start %s: %v", name, err)
		}
		return cmd
	}
	node := func(name string, extra ...string) string {
		port, err := freePort()
		if err != nil {
			tb.Fatal(err)
		}
		a := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		d := filepath.Join(dir, name)
		_ = os.MkdirAll(d, 0o755)
		args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", d, "--daemonize", "no"}, extra...)
		s.nodes[a] = start(name, args...)
		waitPing(tb, a)
		return a
	}
	// Diskless full sync at once (the default waits 5 s for more replicas).
	master := node("master", "--repl-diskless-sync-delay", "0")
	mh, mp, _ := net.SplitHostPort(master)
	replica := node("replica", "--replicaof", mh, mp, "--repl-diskless-sync-delay", "0")
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := reply(replica, "INFO replication")
		if err == nil && strings.Contains(out, "master_link_status:up") {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the replica did not sync with the master: %v %q", err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := range 3 {
		port, err := freePort()
		if err != nil {
			tb.Fatal(err)
		}
		conf := filepath.Join(dir, fmt.Sprintf("sentinel%d.conf", i))
		text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor %s %s %s 2\n"+
			"sentinel down-after-milliseconds %s %d\nsentinel failover-timeout %s 10000\nsentinel parallel-syncs %s 1\n",
			port, dir, s.MasterName, mh, mp, s.MasterName, DownAfter.Milliseconds(), s.MasterName, s.MasterName)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			tb.Fatal(err)
		}
		a := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		s.nodes["sentinel:"+a] = start(fmt.Sprintf("sentinel%d", i), conf, "--sentinel")
		waitPing(tb, a)
		s.Sentinels = append(s.Sentinels, a)
	}
	// The sentinels know the replica once they have asked the master (INFO, every 10 s
	// at first): wait until one reports it, so that a failover has a candidate.
	deadline = time.Now().Add(30 * time.Second)
	for {
		out, err := reply(s.Sentinels[0], "SENTINEL REPLICAS "+s.MasterName)
		if err == nil && strings.Contains(out, "slave") {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the sentinels did not discover the replica: %v %q", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return s
}

// Master asks a sentinel which node is the master now.
func (s *Sentinel) Master(tb testing.TB) string {
	tb.Helper()
	out, err := reply(s.Sentinels[0], "SENTINEL GET-MASTER-ADDR-BY-NAME "+s.MasterName)
	if err != nil {
		tb.Fatalf("sentinel: %v", err)
	}
	f := strings.Fields(out)
	var parts []string
	for _, x := range f {
		if !strings.HasPrefix(x, "*") && !strings.HasPrefix(x, "$") {
			parts = append(parts, x)
		}
	}
	if len(parts) != 2 {
		tb.Fatalf("sentinel: master address %q", out)
	}
	return net.JoinHostPort(parts[0], parts[1])
}

// KillMaster SIGKILLs the current master, as a crash would, and returns its address.
func (s *Sentinel) KillMaster(tb testing.TB) string {
	tb.Helper()
	m := s.Master(tb)
	cmd := s.nodes[m]
	if cmd == nil {
		tb.Fatalf("no process for master %s", m)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		tb.Fatal(err)
	}
	_, _ = cmd.Process.Wait()
	delete(s.nodes, m)
	return m
}

func (s *Sentinel) stopAll() {
	for _, cmd := range s.nodes {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	}
}

func waitPing(tb testing.TB, a string) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for ping(a) != nil {
		if time.Now().After(deadline) {
			tb.Fatalf("redis on %s did not answer PING", a)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// reply sends one inline command and returns the raw reply (all of what arrives
// within a short read).
func reply(a, cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", a, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		return "", err
	}
	buf := make([]byte, 64<<10)
	n, err := c.Read(buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
