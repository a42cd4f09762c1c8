package peercred

import (
	"bytes"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// From <sys/proc_info.h>: proc_pidpath(3) is libproc's wrapper around
// __proc_info(PROC_INFO_CALL_PIDINFO, pid, PROC_PIDPATHINFO, 0, buf, size).
const (
	procInfoCallPIDInfo    = 2
	procPIDPathInfo        = 11
	procPIDPathInfoMaxSize = 4 * 1024 // PROC_PIDPATHINFO_MAXSIZE: 4 * MAXPATHLEN
)

// exe asks the kernel for the path of the vnode pid executes, as
// proc_pidpath(3) does. It calls the proc_info system call directly rather
// than through libproc, which would need cgo (helpers and the agent are
// built without it where they can be). The other source that needs no cgo,
// the kern.procargs2 sysctl, is no use here: its "exec path" is the string
// the process passed to execve, possibly relative, and it lies in the
// process's own memory, where the process can rewrite it.
//
// macOS does not promise a stable system call interface (hence x/sys's
// deprecation of the SYS_ numbers), but proc_info has kept its number (336)
// and this call its arguments since Mac OS X 10.5; TestExeAndParent and
// TestExeChild run it on every CI run on macOS. The way that needs no
// system call number, proc_pidpath through libSystem without cgo, takes
// assembly trampolines and a linkname into package syscall.
func exe(pid int) (string, error) {
	if pid <= 0 {
		return "", fmt.Errorf("peercred: no pid")
	}
	buf := make([]byte, procPIDPathInfoMaxSize)
	//lint:ignore SA1019 a direct system call on purpose: see above.
	_, _, errno := unix.Syscall6(unix.SYS_PROC_INFO, procInfoCallPIDInfo, uintptr(pid), procPIDPathInfo, 0,
		uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	if errno != 0 {
		return "", fmt.Errorf("peercred: executable of pid %d: %w", pid, errno)
	}
	n := bytes.IndexByte(buf, 0)
	if n <= 0 || buf[0] != '/' {
		return "", fmt.Errorf("peercred: executable of pid %d: %w", pid, errors.New("no path"))
	}
	return string(buf[:n]), nil
}

// parent reads the parent pid from the process table (kinfo_proc), as ps
// does. An orphan's parent is launchd, pid 1.
func parent(pid int) (int, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("peercred: no pid")
	}
	kp, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil {
		return 0, fmt.Errorf("peercred: parent of pid %d: %w", pid, err)
	}
	if int(kp.Proc.P_pid) != pid {
		// sysctl answers an unknown pid with an empty record.
		return 0, fmt.Errorf("peercred: parent of pid %d: no such process", pid)
	}
	return int(kp.Eproc.Ppid), nil
}
