//go:build unix

package agent

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrRunning is returned by Listen when another agent holds the socket.
var ErrRunning = errors.New("agent: another agent is already running on this socket")

// Listen prepares the socket folder and binds the socket. The folder must
// belong to this user and be writable by nobody else, or another user could
// swap the socket for their own. A lock file next to the socket makes sure
// only one agent runs per socket, even when fifty helpers start one at once.
// The returned release func removes the socket and drops the lock.
func Listen(path string) (net.Listener, func(), error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("agent: socket folder: %w", err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("agent: socket folder: %w", err)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Getuid() {
		return nil, nil, fmt.Errorf("agent: socket folder %s belongs to uid %d, not to you", dir, sys.Uid)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return nil, nil, fmt.Errorf("agent: socket folder %s is writable by others (mode %v): make it 0700", dir, st.Mode().Perm())
	}
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("agent: lock: %w", err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, nil, ErrRunning
		}
		return nil, nil, fmt.Errorf("agent: lock: %w", err)
	}
	// We hold the lock, so any socket file left here is a dead agent's.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		lock.Close()
		return nil, nil, fmt.Errorf("agent: remove stale socket: %w", err)
	}
	// The socket is created with the umask's mode: make it owner-only from
	// the first instant, not after a chmod.
	old := unix.Umask(0o177)
	ln, err := net.Listen("unix", path)
	unix.Umask(old)
	if err != nil {
		lock.Close()
		return nil, nil, fmt.Errorf("agent: listen: %w", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	release := func() {
		ln.Close()
		lock.Close()
	}
	return ln, release, nil
}
