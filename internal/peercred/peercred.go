// Package peercred reports who is at the other end of a UNIX socket, from
// the kernel (SO_PEERCRED on Linux, LOCAL_PEERCRED and LOCAL_PEERPID on
// macOS), never from anything the peer says about itself. The agent uses it
// to refuse other users; helpers use it to refuse an agent socket planted by
// another user. [Exe] and [Parent] name a process's executable and parent
// (from /proc on Linux), for the agent's allow_exec rule and audit log.
package peercred

import (
	"errors"
	"net"
)

// Cred is the peer's identity as the kernel saw it at connect time.
type Cred struct {
	PID int // 0 when the OS does not tell
	UID int
}

// ErrUnsupported is returned where the OS has no peer credentials.
var ErrUnsupported = errors.New("peercred: not supported on this system")

// Get returns the credentials of conn's peer. conn must be a *net.UnixConn.
func Get(conn net.Conn) (Cred, error) {
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
