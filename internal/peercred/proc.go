package peercred

import (
	"bytes"
	"errors"
	"strconv"
)

// Exe returns the path of the executable process pid runs, as the kernel
// resolved it when the process started: /proc/PID/exe on Linux, the
// executable's vnode path on macOS (proc_pidpath), and the image path on
// Windows (QueryFullProcessImageNameW); symbolic links are followed on
// Linux and macOS. It says nothing the process chose to say about itself,
// but a process of the same user can still make another process run on
// its behalf, or be traced: see the caveat on allow_exec in the README.
//
// Where the OS offers no such query (other than Linux, macOS and Windows),
// it returns ErrUnsupported.
func Exe(pid int) (string, error) { return exe(pid) }

// Parent returns the id of pid's parent process, or ErrUnsupported. On
// Windows, which does not reparent orphans, it is an error when the parent
// has exited.
func Parent(pid int) (int, error) { return parent(pid) }

// parseStatPPID reads the parent pid from the contents of /proc/PID/stat:
// "pid (comm) state ppid ...". comm may hold spaces and parentheses, so
// the fields start after the last ')'.
func parseStatPPID(b []byte) (int, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("peercred: malformed stat")
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 2 {
		return 0, errors.New("peercred: malformed stat")
	}
	ppid, err := strconv.Atoi(string(f[1]))
	if err != nil || ppid < 0 {
		return 0, errors.New("peercred: malformed stat")
	}
	return ppid, nil
}
