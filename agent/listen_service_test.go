//go:build unix

package agent

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// Listen next to a socket a service manager holds: systemd binds
// mayfly-agent.socket and starts the agent only on a connection, so the
// socket answers while no agent holds the lock.

func TestListenGivesWayToLiveSocket(t *testing.T) {
	sock := filepath.Join(shortDir(t), "agent.sock")
	manager, err := net.Listen("unix", sock) // no lock taken: the manager's
	if err != nil {
		t.Fatal(err)
	}
	defer manager.Close()
	if _, _, err := Listen(sock); !errors.Is(err, ErrRunning) {
		t.Fatalf("Listen on a socket that answers: %v, want ErrRunning", err)
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("the manager's socket is gone: %v", err)
	}
	c.Close()
}

func TestReleaseKeepsReplacedSocket(t *testing.T) {
	sock := filepath.Join(shortDir(t), "agent.sock")
	ln, release, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// `systemctl --user start mayfly-agent.socket` while the agent runs:
	// systemd unlinks the path and binds its own socket there.
	if err := os.Remove(sock); err != nil {
		t.Fatal(err)
	}
	manager, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer manager.Close()
	manager.(*net.UnixListener).SetUnlinkOnClose(false)
	release()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("release removed the socket that replaced the agent's: %v", err)
	}
	c.Close()
}
