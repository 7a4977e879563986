//go:build unix && !linux

package localstack

import "syscall"

// sysProcAttr puts each child in its own process group so the whole group can be
// stopped.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
