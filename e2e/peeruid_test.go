//go:build linux

package e2e

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const nobody = "65534"

// TestOtherUserRefused: the agent checks every connection's peer uid. Even
// with the socket's permissions opened up by mistake, a process of another
// user (nobody, through setpriv) is refused and the refusal is logged; with
// the permissions Mayfly sets, it cannot even connect.
func TestOtherUserRefused(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a process as nobody")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("no setpriv (util-linux)")
	}
	w := newWorld(t, worldOptions{})
	// A socket folder nobody can reach, so only the socket's own mode and
	// the agent's uid check stand in the way.
	if err := os.Chmod(w.dir, 0o711); err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(w.dir, "pub")
	if err := os.Mkdir(pub, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(pub, "agent.sock")
	w.env = append(w.env, "MAYFLY_AGENT_SOCKET="+sock)
	w.mustRun("mayfly", "status") // starts the agent
	st, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want 0600", st.Mode().Perm())
	}

	// The test binary, re-executed as nobody, dials the socket.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	probe := filepath.Join(pub, "probe")
	copyFile(t, self, probe, 0o755)
	dial := func() string {
		t.Helper()
		c := exec.Command("setpriv", "--reuid="+nobody, "--regid="+nobody, "--clear-groups", "--", probe)
		c.Env = []string{"MAYFLY_E2E_DIAL=" + sock, "PATH=/usr/bin:/bin"}
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("probe as nobody: %v\n%s", err, out)
		}
		return string(out)
	}

	if out := dial(); !strings.Contains(out, "permission denied") {
		t.Errorf("nobody on a 0600 socket: %s", out)
	}

	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	out := dial()
	if !strings.Contains(out, `"code":"refused"`) || strings.Contains(out, `"token"`) {
		t.Errorf("nobody on a 0666 socket got: %s", out)
	}
	logged := false
	for range 50 {
		b, _ := os.ReadFile(filepath.Join(w.dir, "state", "mayfly", "agent.log"))
		if logged = strings.Contains(string(b), "refused connection from another user") && strings.Contains(string(b), "uid="+nobody); logged {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !logged {
		t.Errorf("the agent log does not record the refusal")
	}
	// The agent still serves its own user.
	w.mustRun("mayfly", "status")
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
