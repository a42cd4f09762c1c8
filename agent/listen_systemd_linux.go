package agent

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Socket activation as systemd does it (sd_listen_fds(3), "File
// Descriptor Passing"), read without libsystemd: the manager binds the
// socket (contrib/systemd/mayfly-agent.socket), starts the agent on the first
// connection with the listening socket as file descriptor 3, and says so
// in LISTEN_PID (the agent's pid, so that a process the agent starts does
// not take the variables for its own), LISTEN_FDS (how many descriptors,
// from 3 on) and LISTEN_FDNAMES (their names, ':'-separated).
//
// The descriptors are taken when the package is initialized, before main
// runs, as sd_listen_fds(1) would be called first thing: from then on they
// are close-on-exec and LISTEN_* are out of the environment, so no process
// the agent starts inherits a socket or variables meant for the agent.
// Listen picks the descriptor bound to the agent's socket path.
//
// The kernel keeps LISTEN_* in /proc/PID/environ, which shows the
// environment the process was started with, not the one it has now.

// listenFDsStart is SD_LISTEN_FDS_START.
const listenFDsStart = 3

var activation struct {
	mu    sync.Mutex
	files []*os.File // not yet taken by Listen
	err   error
}

func init() {
	activation.files, activation.err = takeListenFDs(os.Getpid(), listenFDsStart)
}

// takeListenFDs returns the descriptors passed to process pid from first
// on, marked close-on-exec, and removes LISTEN_* from the environment
// whether or not they were meant for pid.
func takeListenFDs(pid, first int) ([]*os.File, error) {
	pidS, nS, namesS := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES")
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(k)
	}
	if pidS == "" && nS == "" {
		return nil, nil
	}
	if p, err := strconv.Atoi(pidS); err != nil || p != pid {
		return nil, nil // a parent's, passed on by mistake: not ours to touch
	}
	n, err := strconv.Atoi(nS)
	if err != nil || n < 0 || n > 1024 {
		return nil, fmt.Errorf("agent: socket activation: LISTEN_FDS=%q is not a count of descriptors", nS)
	}
	var names []string
	if namesS != "" {
		names = strings.Split(namesS, ":")
	}
	files := make([]*os.File, 0, n)
	for i := range n {
		fd := first + i
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, fmt.Errorf("agent: socket activation: LISTEN_FDS=%d but descriptor %d: %w", n, fd, err)
		}
		unix.CloseOnExec(fd)
		name := "fd " + strconv.Itoa(fd)
		if i < len(names) && names[i] != "" {
			name = strconv.Quote(names[i]) + " (" + name + ")"
		}
		files = append(files, os.NewFile(uintptr(fd), name))
	}
	return files, nil
}

// passedListener returns the listener the service manager passed for path,
// nil if the agent was not socket-activated, or an error if it was but no
// socket it passed is a UNIX stream socket listening on path: helpers
// would then knock on a door nobody opens.
func passedListener(path string) (net.Listener, error) {
	activation.mu.Lock()
	files, err := activation.files, activation.err
	activation.files, activation.err = nil, nil
	activation.mu.Unlock()
	if err != nil || len(files) == 0 {
		return nil, err
	}
	return pickListener(files, path)
}

// pickListener keeps the listener among files that is bound to path and
// closes the rest (the manager keeps its own copies).
func pickListener(files []*os.File, path string) (net.Listener, error) {
	var found net.Listener
	var seen []string
	for _, f := range files {
		ln, what := unixListener(f)
		f.Close() // a listener has its own duplicate
		if ln == nil {
			seen = append(seen, f.Name()+" ("+what+")")
			continue
		}
		addr := ln.Addr().String()
		if found == nil && samePath(addr, path) {
			ln.SetUnlinkOnClose(false) // the manager's socket, not ours to remove
			found = ln
			continue
		}
		ln.Close()
		seen = append(seen, f.Name()+" on "+addr)
	}
	if found == nil {
		return nil, fmt.Errorf("agent: socket activation: the service manager passed %s, none listening on %s, where helpers connect: make ListenStream= in the socket unit that path (%%t/mayfly/agent.sock for the default), or set MAYFLY_AGENT_SOCKET for the agent and the helpers alike",
			strings.Join(seen, ", "), path)
	}
	return found, nil
}

// unixListener turns f into a listener if it is a listening UNIX stream
// socket, or says what it is instead.
func unixListener(f *os.File) (*net.UnixListener, string) {
	what := "not a socket"
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, what
	}
	rc.Control(func(fd uintptr) {
		switch d, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN); {
		case err != nil:
		case d != unix.AF_UNIX:
			what = "not a UNIX socket"
		default:
			if t, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE); err != nil || t != unix.SOCK_STREAM {
				what = "not a stream socket: use ListenStream="
			} else if a, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || a == 0 {
				what = "not listening: use Accept=no"
			} else {
				what = ""
			}
		}
	})
	if what != "" {
		return nil, what
	}
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, err.Error()
	}
	ul, ok := ln.(*net.UnixListener)
	if !ok {
		ln.Close()
		return nil, "not a UNIX socket"
	}
	return ul, ""
}

// samePath reports whether the socket bound at addr is the file at path.
func samePath(addr, path string) bool {
	if addr == path {
		return true
	}
	a, err1 := os.Stat(addr)
	p, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, p)
}
