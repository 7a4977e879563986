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
	tb.Cleanup(func() {
		if tb.Failed() {
			s.dumpLogs(tb)
		}
	})
	start := func(name string, args func(port int) []string) (string, *exec.Cmd) {
		log, err := os.Create(filepath.Join(dir, name+".out"))
		if err != nil {
			tb.Fatal(err)
		}
		cmd, a, err := launch(bin, log, args)
		if err != nil {
			tb.Fatalf("start %s: %v", name, err)
		}
		return a, cmd
	}
	node := func(name string, extra ...string) string {
		d := filepath.Join(dir, name)
		_ = os.MkdirAll(d, 0o755)
		a, cmd := start(name, func(port int) []string {
			return append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
				"--dir", d, "--daemonize", "no"}, extra...)
		})
		s.nodes[a] = cmd
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
		conf := filepath.Join(dir, fmt.Sprintf("sentinel%d.conf", i))
		text := fmt.Sprintf("bind 127.0.0.1\ndir %s\nsentinel monitor %s %s %s 2\n"+
			"sentinel down-after-milliseconds %s %d\nsentinel failover-timeout %s 10000\nsentinel parallel-syncs %s 1\n",
			dir, s.MasterName, mh, mp, s.MasterName, DownAfter.Milliseconds(), s.MasterName, s.MasterName)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			tb.Fatal(err)
		}
		a, cmd := start(fmt.Sprintf("sentinel%d", i), func(port int) []string {
			return []string{conf, "--sentinel", "--port", strconv.Itoa(port)}
		})
		s.nodes["sentinel:"+a] = cmd
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
// It first waits until the replica has applied every write the master had taken when
// KillMaster was called, so that what a failover loses is only what was written in the
// last moments (asynchronous replication), never an older write a slow or
// resynchronising replica had not caught up with.
func (s *Sentinel) KillMaster(tb testing.TB) string {
	tb.Helper()
	m := s.Master(tb)
	cmd := s.nodes[m]
	if cmd == nil {
		tb.Fatalf("no process for master %s", m)
	}
	s.waitCaughtUp(tb, m)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		tb.Fatal(err)
	}
	_, _ = cmd.Process.Wait()
	delete(s.nodes, m)
	return m
}

// Replica returns the address of a data node that is not the current master.
func (s *Sentinel) Replica(tb testing.TB) string {
	tb.Helper()
	m := s.Master(tb)
	for a := range s.nodes {
		if a != m && !strings.HasPrefix(a, "sentinel:") {
			return a
		}
	}
	tb.Fatal("no replica is running")
	return ""
}

// PauseReplica stops the replica (SIGSTOP) until the returned function is called (or
// the test ends): the master's writes then wait in its replication buffer, and a
// WAIT for one replica blocks.
func (s *Sentinel) PauseReplica(tb testing.TB) (resume func()) {
	tb.Helper()
	p := s.nodes[s.Replica(tb)].Process
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		tb.Fatal(err)
	}
	resume = func() { _ = p.Signal(syscall.SIGCONT) }
	tb.Cleanup(resume)
	return resume
}

// waitCaughtUp waits until a replica of master, linked to it, has applied the
// master's replication offset as it was when called.
func (s *Sentinel) waitCaughtUp(tb testing.TB, master string) {
	tb.Helper()
	out, err := reply(master, "INFO replication")
	want, ok := infoInt(out, "master_repl_offset")
	if err != nil || !ok {
		tb.Fatalf("master %s: INFO replication: %v %q", master, err, out)
	}
	var last string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for a := range s.nodes {
			if a == master || strings.HasPrefix(a, "sentinel:") {
				continue
			}
			out, err := reply(a, "INFO replication")
			last = a + ": " + out
			if err != nil || !strings.Contains(out, "master_link_status:up") {
				continue
			}
			if got, ok := infoInt(out, "slave_repl_offset"); ok && got >= want {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("no replica caught up with master %s (offset %d) within 30 s; last seen %q", master, want, last)
}

// infoInt reads an integer field of an INFO reply.
func infoInt(info, field string) (int64, bool) {
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// dumpLogs logs the end of every node's output, for a test that failed.
func (s *Sentinel) dumpLogs(tb testing.TB) {
	logs, _ := filepath.Glob(filepath.Join(s.dir, "*.out"))
	for _, f := range logs {
		b, _ := os.ReadFile(f)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		lines = lines[max(0, len(lines)-40):]
		tb.Logf("%s (last %d lines):\n%s", filepath.Base(f), len(lines), strings.Join(lines, "\n"))
	}
}

func (s *Sentinel) stopAll() {
	for _, cmd := range s.nodes {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
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
