//go:build unix

package agent

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mayflyhq/mayfly/agent/wire"
)

// shortDir returns a fresh 0700 folder whose path leaves room for a socket
// name: t.TempDir's paths can exceed the 104–108 bytes a socket path may have.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mf")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestListen(t *testing.T) {
	sock := filepath.Join(shortDir(t), "run", "agent.sock") // run/ does not exist yet
	ln, release, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a 0600 socket", st.Mode())
	}
	if dst, err := os.Stat(filepath.Dir(sock)); err != nil || dst.Mode().Perm() != 0o700 {
		t.Errorf("socket folder: %v, %v; want it created 0700", dst.Mode(), err)
	}

	// A second agent on the same socket gives way, and leaves the first's
	// socket alone.
	if _, _, err := Listen(sock); !errors.Is(err, ErrRunning) {
		t.Errorf("second Listen: %v, want ErrRunning", err)
	}
	accepted := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
		}
		accepted <- err
	}()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("first agent's socket gone after the second tried: %v", err)
	}
	c.Close()
	if err := <-accepted; err != nil {
		t.Fatal(err)
	}

	release()
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left after release: %v", err)
	}
	ln2, release2, err := Listen(sock)
	if err != nil {
		t.Fatalf("Listen after release: %v", err)
	}
	ln2.Close()
	release2()
}

func TestListenSecondAgent(t *testing.T) {
	e := newEnv(t, "")
	if _, _, err := Listen(e.sock); !errors.Is(err, ErrRunning) {
		t.Fatalf("Listen next to a running agent: %v, want ErrRunning", err)
	}
	if _, err := e.do(wire.Request{Op: wire.OpPing}); err != nil {
		t.Errorf("the running agent stopped answering: %v", err)
	}
}

func TestListenStaleSocket(t *testing.T) {
	sock := filepath.Join(shortDir(t), "agent.sock")
	// A dead agent's socket file: bound, never unlinked.
	old, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	old.(*net.UnixListener).SetUnlinkOnClose(false)
	old.Close()
	ln, release, err := Listen(sock)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer release()
	if ln.Addr().String() != sock {
		t.Errorf("listening on %s", ln.Addr())
	}
}

func TestListenRefusesUnsafeFolder(t *testing.T) {
	for _, mode := range []os.FileMode{0o777, 0o733, 0o770, 0o1777} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := shortDir(t)
			if err := os.Chmod(dir, mode); err != nil {
				t.Fatal(err)
			}
			_, _, err := Listen(filepath.Join(dir, "agent.sock"))
			if err == nil || !strings.Contains(err.Error(), "writable by others") {
				t.Fatalf("Listen in a %v folder: %v, want a refusal", mode, err)
			}
			if _, err := os.Stat(filepath.Join(dir, "agent.sock")); !errors.Is(err, os.ErrNotExist) {
				t.Error("a socket was created in the unsafe folder")
			}
		})
	}
	for _, mode := range []os.FileMode{0o700, 0o750, 0o755} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := shortDir(t)
			if err := os.Chmod(dir, mode); err != nil {
				t.Fatal(err)
			}
			ln, release, err := Listen(filepath.Join(dir, "agent.sock"))
			if err != nil {
				t.Fatalf("Listen in a %v folder: %v", mode, err)
			}
			ln.Close()
			release()
		})
	}
}

func TestListenRefusesForeignFolder(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give a folder to another user")
	}
	dir := shortDir(t)
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	_, _, err := Listen(filepath.Join(dir, "agent.sock"))
	if err == nil || !strings.Contains(err.Error(), "belongs to uid 65534") {
		t.Fatalf("Listen in another user's folder: %v, want a refusal", err)
	}
}
