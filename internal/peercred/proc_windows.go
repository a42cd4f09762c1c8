package peercred

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

// exe returns the full Win32 path of the image process pid runs
// (QueryFullProcessImageNameW), which the kernel recorded when it created
// the process. PROCESS_QUERY_LIMITED_INFORMATION is the least access that
// allows it, and the one a user's own processes grant each other.
func exe(pid int) (string, error) {
	if pid <= 0 {
		return "", fmt.Errorf("peercred: no pid")
	}
	p, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return "", fmt.Errorf("peercred: executable of pid %d: %w", pid, err)
	}
	defer windows.CloseHandle(p)
	buf := make([]uint16, windows.MAX_LONG_PATH)
	n := uint32(len(buf))
	if err := windows.QueryFullProcessImageName(p, 0, &buf[0], &n); err != nil {
		return "", fmt.Errorf("peercred: executable of pid %d: %w", pid, err)
	}
	return windows.UTF16ToString(buf[:n]), nil
}

// parent returns the process that created pid, from a Toolhelp snapshot of
// the process list. Windows does not reparent orphans: the id it records is
// the creator's, which may have exited and had its id given to an unrelated
// process since. So the parent counts only while a process of that id
// exists and was created before pid; otherwise the chain ends here, with an
// error, rather than name a stranger.
func parent(pid int) (int, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("peercred: no pid")
	}
	ppid, err := snapshotParent(uint32(pid))
	if err != nil {
		return 0, fmt.Errorf("peercred: parent of pid %d: %w", pid, err)
	}
	born, err := created(uint32(pid))
	if err != nil {
		return 0, fmt.Errorf("peercred: parent of pid %d: %w", pid, err)
	}
	pborn, err := created(ppid)
	if err != nil {
		return 0, fmt.Errorf("peercred: parent of pid %d: pid %d: %w", pid, ppid, err)
	}
	if pborn > born {
		return 0, fmt.Errorf("peercred: parent of pid %d: pid %d: %w", pid, ppid, errors.New("exited, and its id was reused"))
	}
	return int(ppid), nil
}

func snapshotParent(pid uint32) (uint32, error) {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		return 0, err
	}
	defer windows.CloseHandle(snap)
	var e windows.ProcessEntry32
	e.Size = uint32(unsafe.Sizeof(e))
	for err = windows.Process32First(snap, &e); err == nil; err = windows.Process32Next(snap, &e) {
		if e.ProcessID == pid {
			return e.ParentProcessID, nil
		}
	}
	if errors.Is(err, windows.ERROR_NO_MORE_FILES) {
		return 0, errors.New("no such process")
	}
	return 0, err
}

// created returns when process pid was created, in nanoseconds since 1970.
func created(pid uint32) (int64, error) {
	p, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return 0, err
	}
	defer windows.CloseHandle(p)
	var c, x, k, u windows.Filetime
	if err := windows.GetProcessTimes(p, &c, &x, &k, &u); err != nil {
		return 0, err
	}
	return c.Nanoseconds(), nil
}
