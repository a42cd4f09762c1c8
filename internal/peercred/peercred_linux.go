package peercred

import (
	"fmt"

	"golang.org/x/sys/unix"
)

func get(fd int) (Cred, error) {
	uc, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return Cred{}, fmt.Errorf("peercred: SO_PEERCRED: %w", err)
	}
	return Cred{PID: int(uc.Pid), UID: int(uc.Uid)}, nil
}
