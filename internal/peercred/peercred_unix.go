//go:build !windows

package peercred

import (
	"errors"
	"net"
	"os"
)

func getConn(conn net.Conn) (Cred, error) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return Cred{}, errors.New("peercred: not a UNIX socket")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return Cred{}, err
	}
	var cred Cred
	var serr error
	if err := raw.Control(func(fd uintptr) { cred, serr = get(int(fd)) }); err != nil {
		return Cred{}, err
	}
	return cred, serr
}

func sameUser(c Cred) bool { return c.UID == os.Getuid() }

func self() Cred { return Cred{PID: os.Getpid(), UID: os.Getuid()} }
