// Package proccpu reads the CPU time processes have used, from /proc and getrusage, so
// that a benchmark can say what each part of a path costs per call.
package proccpu

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

// Stat returns the parent pid and the CPU time (user + system) of process pid from
// /proc/<pid>/stat; ok is false when it is gone.
func Stat(pid int) (ppid int, cpu time.Duration, ok bool) {
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

// Children returns the running processes whose parent is one of parents.
func Children(parents ...int) []int {
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
		if ppid, _, ok := Stat(pid); ok && is[ppid] {
			out = append(out, pid)
		}
	}
	return out
}

// Descendants returns the running processes below parents, at any depth (a server
// started through a shell or npx is a grandchild).
func Descendants(parents ...int) []int {
	var out []int
	for level := Children(parents...); len(level) > 0; level = Children(level...) {
		out = append(out, level...)
	}
	return out
}

// Of sums the CPU time the processes pids have used.
func Of(pids ...int) time.Duration {
	var sum time.Duration
	for _, pid := range pids {
		if _, cpu, ok := Stat(pid); ok {
			sum += cpu
		}
	}
	return sum
}

// Self is the CPU time this process has used (its children not included).
func Self() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
