package peercred

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/windows"
)

// getConn names the process at the other end of a named pipe: the client
// when conn is the server's end (the agent checking a helper), the server
// when it is the client's (a helper checking the agent), and the user its
// process token runs as.
//
// The process id is read when Get is called, not when the peer connected,
// so a peer that exited since could in theory have its id reused by another
// process. The pipe's ACL, which admits only the agent's user, is the gate;
// this check is the second lock that makes a mistake in the ACL, or a pipe
// name squatted by another user, fail closed.
func getConn(conn net.Conn) (Cred, error) {
	// go-winio's pipe connections export their handle through Fd, which
	// keeps this package free of go-winio itself.
	f, ok := conn.(interface{ Fd() uintptr })
	if !ok {
		return Cred{}, errors.New("peercred: not a named pipe")
	}
	h := windows.Handle(f.Fd())
	var flags uint32
	if err := windows.GetNamedPipeInfo(h, &flags, nil, nil, nil); err != nil {
		return Cred{}, fmt.Errorf("peercred: not a named pipe: %w", err)
	}
	var pid uint32
	var err error
	if flags&windows.PIPE_SERVER_END != 0 {
		err = windows.GetNamedPipeClientProcessId(h, &pid)
	} else {
		err = windows.GetNamedPipeServerProcessId(h, &pid)
	}
	if err != nil {
		return Cred{}, fmt.Errorf("peercred: pipe peer's process id: %w", err)
	}
	sid, err := processSID(pid)
	if err != nil {
		return Cred{}, err
	}
	return Cred{PID: int(pid), UID: -1, SID: sid}, nil
}

// processSID returns the user SID of process pid's token. Another user's
// process usually refuses PROCESS_QUERY_LIMITED_INFORMATION or TOKEN_QUERY:
// that is an error, never a guess.
func processSID(pid uint32) (string, error) {
	p, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return "", fmt.Errorf("peercred: open process %d: %w", pid, err)
	}
	defer windows.CloseHandle(p)
	var tok windows.Token
	if err := windows.OpenProcessToken(p, windows.TOKEN_QUERY, &tok); err != nil {
		return "", fmt.Errorf("peercred: token of process %d: %w", pid, err)
	}
	defer tok.Close()
	u, err := tok.GetTokenUser()
	if err != nil {
		return "", fmt.Errorf("peercred: user of process %d: %w", pid, err)
	}
	return u.User.Sid.String(), nil
}

// ownSID is this process's user SID, read once ("" if it cannot be read,
// which then matches no peer).
var ownSID = sync.OnceValue(func() string {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return ""
	}
	return u.User.Sid.String()
})

func sameUser(c Cred) bool { return c.SID != "" && c.SID == ownSID() }

func self() Cred { return Cred{PID: os.Getpid(), UID: -1, SID: ownSID()} }
