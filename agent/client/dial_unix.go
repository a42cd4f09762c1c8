//go:build unix

package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// connect opens the agent's socket with system calls of its own rather
// than through the net package, which costs a helper 450 KB and some 15
// page faults at every start (bench/README.md, "Where the time goes").
// The socket is wrapped in an *os.File, which registers it with the
// runtime's poller like a net.Conn: a read blocks only its goroutine, and
// Close (when ctx ends) wakes it.
func (c *Client) connect(ctx context.Context) (io.ReadWriteCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fd, err := socket()
	if err != nil {
		return nil, fmt.Errorf("dial unix %s: %w", c.Socket, os.NewSyscallError("socket", err))
	}
	f := os.NewFile(uintptr(fd), c.Socket) // non-blocking: pollable
	if err := connectFile(f, &unix.SockaddrUnix{Name: c.Socket}); err != nil {
		f.Close()
		return nil, fmt.Errorf("dial unix %s: %w", c.Socket, os.NewSyscallError("connect", err))
	}
	// Refuse an agent run by someone else: in a shared temporary folder
	// another user could have put a socket where ours should be. As with
	// internal/peercred (which needs a net.Conn), a system without peer
	// credentials leaves the check to the socket folder's permissions.
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	uid, perr := -1, error(nil)
	if err := rc.Control(func(fd uintptr) { uid, perr = peerUID(int(fd)) }); err == nil && perr == nil && uid != os.Getuid() {
		f.Close()
		return nil, fmt.Errorf("agent socket %s belongs to uid %d, not to you: refusing it", c.Socket, uid)
	}
	return f, nil
}

// socket makes a non-blocking, close-on-exec UNIX stream socket, the
// portable way (as net does where socket(2) takes no flags).
func socket() (int, error) {
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// connectFile connects f's socket to sa. A UNIX socket connects at once or
// fails at once (EAGAIN when the agent's backlog is full, which net.Dial
// reports as an error too); should a system answer EINPROGRESS, it waits
// until the socket is writable and reads the outcome, as net does.
func connectFile(f *os.File, sa unix.Sockaddr) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var cerr error
	started := false
	if err := rc.Write(func(fd uintptr) bool {
		if !started {
			started = true
			cerr = unix.Connect(int(fd), sa)
			return cerr != unix.EINPROGRESS && cerr != unix.EALREADY && cerr != unix.EINTR
		}
		n, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		switch {
		case err != nil:
			cerr = err
		case n != 0:
			cerr = syscall.Errno(n)
		default:
			cerr = nil
		}
		return true
	}); err != nil {
		return err
	}
	return cerr
}

func notRunning(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)
}
