package localstack

import "syscall"

// sysProcAttr puts each child in its own process group (so the whole group can be
// stopped) and asks the kernel to SIGTERM it if this process dies without stopping
// it, e.g. after `kill -9`, so no orphan survives.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
