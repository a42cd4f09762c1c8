// Package peercred reports who is at the other end of the agent's socket,
// from the kernel, never from anything the peer says about itself:
// SO_PEERCRED on Linux, LOCAL_PEERCRED and LOCAL_PEERPID on macOS, and on
// Windows the named pipe's client (or server) process id and that process's
// token. The agent uses it to refuse other users; helpers use it to refuse
// an agent socket or pipe planted by another user. [Exe] and [Parent] name a
// process's executable and parent (from /proc on Linux, proc_info and the
// process table on macOS, the process object and a Toolhelp snapshot on
// Windows), for the agent's allow_exec rule and audit log.
package peercred

import (
	"errors"
	"fmt"
	"net"
)

// Cred is the peer's identity as the kernel saw it at connect time (on
// Windows: when [Get] asked).
type Cred struct {
	PID int    // 0 when the OS does not tell
	UID int    // -1 on Windows, which has no uids
	SID string // the user's security identifier on Windows; "" elsewhere
}

// SameUser reports whether the peer runs as the same user as this process:
// the same uid, or on Windows the same SID.
func (c Cred) SameUser() bool { return sameUser(c) }

// User names the peer's user for messages: "uid 1000", or on Windows
// "user S-1-5-21-…".
func (c Cred) User() string {
	if c.SID != "" {
		return "user " + c.SID
	}
	return fmt.Sprintf("uid %d", c.UID)
}

// Self returns this process's own identity, as its peers see it.
func Self() Cred { return self() }

// ErrUnsupported is returned where the OS has no peer credentials.
var ErrUnsupported = errors.New("peercred: not supported on this system")

// Get returns the credentials of conn's peer. conn must be a *net.UnixConn,
// or on Windows a named pipe connection (as github.com/Microsoft/go-winio
// makes them: a net.Conn with an Fd method returning the pipe handle).
func Get(conn net.Conn) (Cred, error) { return getConn(conn) }
