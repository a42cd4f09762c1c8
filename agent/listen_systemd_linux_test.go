package agent

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/backends/memory"
	"github.com/mayflyhq/mayfly/internal/peercred"
)

// passFDs copies the listeners' descriptors to consecutive numbers from a
// free one upwards, without close-on-exec, as a service manager leaves
// them, and returns the first. The copies are closed at the end of the
// test if nothing took them.
func passFDs(t *testing.T, lns ...*net.UnixListener) int {
	t.Helper()
	first := 0
	for try := 400; try < 2000 && first == 0; try += 50 {
		free := true
		for i := range lns {
			if _, err := unix.FcntlInt(uintptr(try+i), unix.F_GETFD, 0); err == nil {
				free = false
			}
		}
		if free {
			first = try
		}
	}
	if first == 0 {
		t.Fatal("no free descriptor numbers")
	}
	for i, ln := range lns {
		f, err := ln.File()
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Dup2(int(f.Fd()), first+i); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return first
}

func unixListen(t *testing.T, path string) *net.UnixListener {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.(*net.UnixListener)
}

func cloexec(t *testing.T, fd int) bool {
	t.Helper()
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil {
		t.Fatalf("descriptor %d: %v", fd, err)
	}
	return fl&unix.FD_CLOEXEC != 0
}

func TestTakeListenFDs(t *testing.T) {
	dir := shortDir(t)
	other := unixListen(t, filepath.Join(dir, "other.sock"))
	sock := filepath.Join(dir, "agent.sock")
	mine := unixListen(t, sock)
	first := passFDs(t, other, mine)
	if cloexec(t, first) || cloexec(t, first+1) {
		t.Fatal("the passed descriptors are close-on-exec already")
	}
	t.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	t.Setenv("LISTEN_FDS", "2")
	t.Setenv("LISTEN_FDNAMES", "other:mayfly-agent.socket")
	files, err := takeListenFDs(os.Getpid(), first)
	if err != nil || len(files) != 2 {
		t.Fatalf("takeListenFDs = %d files, %v", len(files), err)
	}
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		if v, ok := os.LookupEnv(k); ok {
			t.Errorf("%s=%s left in the environment", k, v)
		}
	}
	if !cloexec(t, first) || !cloexec(t, first+1) {
		t.Error("the passed descriptors are not close-on-exec")
	}
	// A child of the agent inherits neither the variables nor the sockets.
	out, err := exec.Command("sh", "-c", `env; echo fds: $(ls /proc/$$/fd)`).Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "LISTEN_") {
		t.Errorf("a child's environment has LISTEN_*:\n%s", out)
	}
	_, fds, _ := strings.Cut(string(out), "fds:")
	for _, fd := range strings.Fields(fds) {
		if fd == strconv.Itoa(first) || fd == strconv.Itoa(first+1) {
			t.Errorf("a child inherited descriptor %s (its descriptors: %s)", fd, fds)
		}
	}
	if !strings.Contains(files[1].Name(), `"mayfly-agent.socket"`) {
		t.Errorf("descriptor name %q, want it from LISTEN_FDNAMES", files[1].Name())
	}

	ln, err := pickListener(files, sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if ln.Addr().String() != sock {
		t.Errorf("picked the listener on %s, want %s", ln.Addr(), sock)
	}
	for _, fd := range []int{first, first + 1} {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			t.Errorf("descriptor %d still open after pickListener", fd)
		}
	}
	// The passed socket works, with the peer's credentials as on the
	// agent's own.
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	defer s.Close()
	if cred, err := peercred.Get(s); err != nil || cred.PID != os.Getpid() || !cred.SameUser() {
		t.Errorf("peer of a connection on the passed socket: %+v, %v", cred, err)
	}
}

func TestTakeListenFDsNotOurs(t *testing.T) {
	ln := unixListen(t, filepath.Join(shortDir(t), "agent.sock"))
	first := passFDs(t, ln)
	t.Cleanup(func() { unix.Close(first) })
	for _, pid := range []string{strconv.Itoa(os.Getppid()), "", "x"} {
		t.Setenv("LISTEN_PID", pid)
		t.Setenv("LISTEN_FDS", "1")
		files, err := takeListenFDs(os.Getpid(), first)
		if err != nil || files != nil {
			t.Errorf("LISTEN_PID=%q: %d files, %v; want none, no error", pid, len(files), err)
		}
		if _, ok := os.LookupEnv("LISTEN_FDS"); ok {
			t.Errorf("LISTEN_PID=%q: LISTEN_FDS left in the environment", pid)
		}
		if cloexec(t, first) {
			t.Errorf("LISTEN_PID=%q: another process's descriptor was touched", pid)
		}
	}
}

func TestTakeListenFDsBad(t *testing.T) {
	for _, n := range []string{"x", "-1", "100000", "1"} {
		t.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
		t.Setenv("LISTEN_FDS", n)
		// 1: the count is fine, but nothing is open there.
		if files, err := takeListenFDs(os.Getpid(), 1900); err == nil {
			t.Errorf("LISTEN_FDS=%s: %d files, no error", n, len(files))
		}
	}
	t.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	t.Setenv("LISTEN_FDS", "0")
	if files, err := takeListenFDs(os.Getpid(), 1900); err != nil || len(files) != 0 {
		t.Errorf("LISTEN_FDS=0: %d files, %v", len(files), err)
	}
}

func TestPickListenerRefuses(t *testing.T) {
	dir := shortDir(t)
	wrong := unixListen(t, filepath.Join(dir, "elsewhere.sock"))
	dgram, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "dgram.sock"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer dgram.Close()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	var files []*os.File
	for _, c := range []interface{ File() (*os.File, error) }{wrong, dgram, tcp.(*net.TCPListener)} {
		f, err := c.File()
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	want := filepath.Join(dir, "agent.sock")
	_, err = pickListener(files, want)
	if err == nil {
		t.Fatal("pickListener found a listener on a path nothing listens on")
	}
	for _, s := range []string{want, "elsewhere.sock", "not a stream socket", "not a UNIX socket", "ListenStream="} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
}

// TestListenSocketActivated: Listen takes the passed socket, the agent
// serves on it, and release leaves it to the manager.
func TestListenSocketActivated(t *testing.T) {
	dir := shortDir(t)
	sock := filepath.Join(dir, "agent.sock")
	manager := unixListen(t, sock)
	manager.SetUnlinkOnClose(false)
	f, err := manager.File()
	if err != nil {
		t.Fatal(err)
	}
	activation.mu.Lock()
	activation.files = []*os.File{f}
	activation.mu.Unlock()

	ln, release, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	a := New(Options{ConfigPath: filepath.Join(dir, "config.toml"), Socket: sock, Store: memory.New()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	var resp wire.Response
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := wire.Write(conn, wire.Request{V: wire.Version, Op: wire.OpPing}); err != nil {
		t.Fatal(err)
	}
	if err := wire.NewReader(conn).Read(&resp); err != nil || resp.Error != nil {
		t.Errorf("ping on the passed socket: %+v, %v", resp.Error, err)
	}
	conn.Close()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	release()
	// The manager's socket stays, and still takes connections for the
	// next agent it starts.
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("after the agent's release: %v", err)
	}
	c.Close()
	// A second Listen in the same process is not activated again.
	if _, _, err := Listen(sock); err == nil {
		t.Error("a second Listen took the manager's socket")
	}
}
