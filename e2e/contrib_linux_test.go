//go:build linux

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestSystemdAnalyzeVerify has systemd check the units as a user manager
// would load them, with the service's ExecStart (%h/.local/bin/mayfly)
// leading to the built binary. systemd-analyze reports unknown keys and
// bad values as warnings with exit status 0, so any output fails the test.
func TestSystemdAnalyzeVerify(t *testing.T) {
	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("no systemd-analyze")
	}
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	for _, d := range []string{filepath.Join(home, ".local", "bin"), filepath.Join(dir, "run"), filepath.Join(dir, "units")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(binDir, "mayfly"), filepath.Join(home, ".local", "bin", "mayfly")); err != nil {
		t.Fatal(err)
	}
	var units []string
	for _, u := range []string{"mayfly-agent.socket", "mayfly-agent.service"} {
		b, err := os.ReadFile(filepath.Join("..", "contrib", "systemd", u))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "units", u)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		units = append(units, p)
	}
	cmd := exec.Command(tool, append([]string{"verify", "--user"}, units...)...)
	cmd.Env = append(filteredEnviron(), "HOME="+home, "XDG_RUNTIME_DIR="+filepath.Join(dir, "run"), "PATH="+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("systemd-analyze verify --user: %v\n%s", err, out)
	}
}
