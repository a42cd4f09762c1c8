package agent

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestHarden runs Harden in a child process: it changes the whole process,
// which the other tests should not run under.
func TestHarden(t *testing.T) {
	if os.Getenv("MAYFLY_TEST_HARDEN") == "1" {
		if err := Harden(); err != nil {
			t.Fatal(err)
		}
		if d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); err != nil || d != 0 {
			t.Errorf("dumpable = %d, %v; want 0", d, err)
		}
		var rl unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_CORE, &rl); err != nil || rl.Cur != 0 || rl.Max != 0 {
			t.Errorf("core limit %+v, %v; want 0", rl, err)
		}
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestHarden$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "MAYFLY_TEST_HARDEN=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestHarden") {
		t.Fatalf("hardened child: %v\n%s", err, out)
	}
}
