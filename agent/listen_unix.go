//go:build unix

package agent

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrRunning is returned by Listen when another agent holds the socket.
var ErrRunning = errors.New("agent: another agent is already running on this socket")

// Listen prepares the socket folder and binds the socket. The folder must
// belong to this user and be writable by nobody else, or another user could
// swap the socket for their own. A lock file next to the socket makes sure
// only one agent runs per socket, even when fifty helpers start one at once.
// The returned release func removes the socket and drops the lock.
//
// When a service manager started the agent with the socket already bound
// (systemd's socket activation, see listen_systemd_linux.go), Listen uses
// that socket instead, after the same folder checks, and its release func
// leaves the socket to the manager: every connection on it is still checked
// for the peer's uid in serveConn, as on a socket of the agent's own.
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
	passed, err := passedListener(path)
	if err != nil {
		return nil, nil, err
	}
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		if passed != nil {
			passed.Close()
		}
		return nil, nil, fmt.Errorf("agent: lock: %w", err)
	}
	locked := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if passed != nil {
		// The manager owns the socket and starts one agent at a time. Hold
		// the lock if it is free, so that an agent started by hand gives
		// way to this one; if not, an agent started before the manager took
		// the socket still holds it, serves nobody new, and will exit idle.
		if locked != nil {
			lock.Close()
			lock = nil
		}
		return passed, func() {
			passed.Close()
			if lock != nil {
				lock.Close()
			}
		}, nil
	}
	if locked != nil {
		lock.Close()
		if errors.Is(locked, unix.EWOULDBLOCK) {
			return nil, nil, ErrRunning
		}
		return nil, nil, fmt.Errorf("agent: lock: %w", locked)
	}
	// We hold the lock, so a socket file left here is a dead agent's,
	// unless a service manager holds it for an agent it starts on demand:
	// that one answers (or keeps us waiting).
	c, err := net.DialTimeout("unix", path, time.Second)
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		if c != nil {
			c.Close()
		}
		lock.Close()
		return nil, nil, ErrRunning
	}
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
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(false) // ownSocket.Close does it, more carefully
	bound, err := os.Stat(path)
	if err != nil {
		ln.Close()
		lock.Close()
		return nil, nil, fmt.Errorf("agent: listen: %w", err)
	}
	own := &ownSocket{UnixListener: ul, path: path, bound: bound}
	release := func() {
		own.Close()
		lock.Close()
	}
	return own, release, nil
}

// ownSocket is the socket the agent bound itself. Closing it removes the
// socket file, as a net.UnixListener would, but only while the file is
// still the one it bound: `systemctl --user start mayfly-agent.socket`
// while this agent runs binds a new socket in its place, and removing that
// would cut every helper off from the agent systemd starts.
type ownSocket struct {
	*net.UnixListener
	path  string
	bound os.FileInfo
	once  sync.Once
}

func (l *ownSocket) Close() error {
	var err error
	l.once.Do(func() {
		// Compared while the socket is open, so its inode number cannot
		// have gone to a new file yet.
		now, serr := os.Stat(l.path)
		ours := serr == nil && os.SameFile(l.bound, now)
		err = l.UnixListener.Close()
		if ours {
			os.Remove(l.path)
		}
	})
	return err
}
