package peercred

import (
	"fmt"

	"golang.org/x/sys/unix"
)

func get(fd int) (Cred, error) {
	xc, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return Cred{}, fmt.Errorf("peercred: LOCAL_PEERCRED: %w", err)
	}
	pid, err := unix.GetsockoptInt(fd, unix.SOL_LOCAL, unix.LOCAL_PEERPID)
	if err != nil {
		pid = 0 // older macOS: the uid is what matters
	}
	return Cred{PID: pid, UID: int(xc.Uid)}, nil
}
