package bench

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat (USER_HZ, 100 on Linux).
const userHZ = 100

// procStat returns the parent pid and the CPU time (user + system) of process pid
// from /proc/<pid>/stat; ok is false when it is gone.
func procStat(pid int) (ppid int, cpu time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// The command name (field 2) is in parentheses and may hold spaces: the fields
	// after the last ')' start with field 3, the state.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return ppid, time.Duration(utime+stime) * time.Second / userHZ, true
}

// childrenOf returns the running processes whose parent is one of parents.
func childrenOf(parents []int) []int {
	is := map[int]bool{}
	for _, p := range parents {
		is[p] = true
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if ppid, _, ok := procStat(pid); ok && is[ppid] {
			out = append(out, pid)
		}
	}
	return out
}

// cpuOf sums the CPU time the processes pids have used.
func cpuOf(pids []int) time.Duration {
	var sum time.Duration
	for _, pid := range pids {
		if _, cpu, ok := procStat(pid); ok {
			sum += cpu
		}
	}
	return sum
}

// selfCPU is the CPU time this process (the benchmark's clients) has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuSplit is the CPU time of each part of a benchmark row.
type cpuSplit struct{ edge, bridges, children, clients time.Duration }

// sampleCPU reads the CPU time used so far by Traefik (edge), the bridges, their
// children and this process.
func sampleCPU(edge int, bridges []int) cpuSplit {
	return cpuSplit{
		edge: cpuOf([]int{edge}), bridges: cpuOf(bridges),
		children: cpuOf(childrenOf(bridges)), clients: selfCPU(),
	}
}

func (a cpuSplit) sub(b cpuSplit) cpuSplit {
	return cpuSplit{a.edge - b.edge, a.bridges - b.bridges, a.children - b.children, a.clients - b.clients}
}
