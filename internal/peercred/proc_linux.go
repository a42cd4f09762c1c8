package peercred

import (
	"fmt"
	"os"
	"strconv"
)

func exe(pid int) (string, error) {
	if pid <= 0 {
		return "", fmt.Errorf("peercred: no pid")
	}
	// Reading another process's exe link needs ptrace read access: same
	// uid and a dumpable target, or CAP_SYS_PTRACE.
	p, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		return "", fmt.Errorf("peercred: executable of pid %d: %w", pid, err)
	}
	return p, nil
}

func parent(pid int) (int, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("peercred: no pid")
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("peercred: parent of pid %d: %w", pid, err)
	}
	return parseStatPPID(b)
}
