package agent

import (
	"errors"
	"fmt"
	"net"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"
)

// ErrRunning is returned by Listen when another agent holds the socket.
var ErrRunning = errors.New("agent: another agent is already running on this socket")

// Listen creates the agent's named pipe, name being \\.\pipe\NAME (by
// default \\.\pipe\mayfly-agent-<SID>, from internal/paths). The returned
// release func closes it.
//
// The pipe's security descriptor (pipeSDDL) admits this user's SID and no
// one else, and go-winio creates every pipe with
// FILE_PIPE_REJECT_REMOTE_CLIENTS, so SMB clients of other machines are
// refused by the kernel. Each connection's peer is also checked by its
// process token in serveConn, as SO_PEERCRED is on UNIX.
//
// go-winio creates the first instance of the pipe with FILE_CREATE, the
// kernel's FILE_FLAG_FIRST_PIPE_INSTANCE: if the name exists, creation
// fails with access denied, which is how a second agent learns that one is
// running. A pipe name squatted by another user fails the same way and is
// reported as ErrRunning too; helpers then refuse that pipe because its
// server is not their user (agent/client), so nothing is ever sent to it.
func Listen(name string) (net.Listener, func(), error) {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, nil, fmt.Errorf("agent: this user's SID: %w", err)
	}
	ln, err := winio.ListenPipe(name, &winio.PipeConfig{
		SecurityDescriptor: pipeSDDL(u.User.Sid.String()),
		MessageMode:        false, // a byte stream, as NDJSON over a UNIX socket
		InputBufferSize:    64 << 10,
		OutputBufferSize:   64 << 10,
	})
	if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		return nil, nil, ErrRunning
	}
	if err != nil {
		return nil, nil, fmt.Errorf("agent: listen on %s: %w", name, err)
	}
	return ln, func() { ln.Close() }, nil
}

// pipeSDDL is the pipe's security descriptor in SDDL: owned by the user, and
// a protected DACL (P: no inherited entries) with one entry, full access for
// the user's SID. No entry for SYSTEM or Administrators, who can take
// ownership anyway, and no deny entry for NETWORK (NU): remote clients are
// rejected by the pipe flag, and a deny on NU would also lock out the user's
// own helpers in an SSH or WinRM session, whose tokens carry that SID.
func pipeSDDL(sid string) string {
	return "O:" + sid + "D:P(A;;GA;;;" + sid + ")"
}
