package agent

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// ErrRunning is returned by Listen when another agent holds the socket.
var ErrRunning = errors.New("agent: another agent is already running on this socket")

// Listen binds the agent's AF_UNIX socket in the user's own profile folder,
// whose ACL admits only this user. Windows has no SO_PEERCRED, so that ACL
// is the gate.
func Listen(path string) (net.Listener, func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, nil, fmt.Errorf("agent: socket folder: %w", err)
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, nil, ErrRunning
	}
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, nil, fmt.Errorf("agent: listen: %w", err)
	}
	return ln, func() { ln.Close() }, nil
}
