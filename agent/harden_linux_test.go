package agent

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestHarden runs Harden in child processes: it changes the whole process,
// which the other tests should not run under. Each child checks the process
// is not dumpable and has no core size, then that its memory is locked or
// Harden said why not, then that the Go allocator still works after Harden
// by allocating and collecting 128 MiB (MCL_FUTURE under a finite
// RLIMIT_MEMLOCK would abort it here).
func TestHarden(t *testing.T) {
	if mode := os.Getenv("MAYFLY_TEST_HARDEN"); mode != "" {
		hardenChild(t, mode)
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, mode string, wrap ...string) string {
		t.Helper()
		args := append(wrap, exe, "-test.run=^TestHarden$", "-test.count=1", "-test.v")
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "MAYFLY_TEST_HARDEN="+mode)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestHarden") {
			t.Fatalf("hardened child (%s): %v\n%s", mode, err, out)
		}
		t.Logf("%s", out)
		return string(out)
	}
	t.Run("as started", func(t *testing.T) {
		out := run(t, "any")
		if canLock() && !strings.Contains(out, "memory locked") {
			t.Errorf("with CAP_IPC_LOCK the memory was not locked")
		}
	})
	// The usual desktop case: no CAP_IPC_LOCK and the 8 MiB default limit.
	// setpriv drops the capability from a root test run.
	t.Run("8 MiB limit, no CAP_IPC_LOCK", func(t *testing.T) {
		var wrap []string
		if canLock() {
			setpriv, err := exec.LookPath("setpriv")
			if err != nil {
				t.Skip("needs setpriv (util-linux) to drop CAP_IPC_LOCK")
			}
			wrap = []string{setpriv, "--inh-caps=-ipc_lock", "--bounding-set=-ipc_lock", "--"}
		}
		run(t, "8mib", wrap...)
	})
}

func hardenChild(t *testing.T, mode string) {
	if mode == "8mib" {
		lim := unix.Rlimit{Cur: 8 << 20, Max: 8 << 20}
		if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
			t.Fatal(err)
		}
		if canLock() {
			t.Fatal("still has CAP_IPC_LOCK")
		}
	}
	herr := Harden()
	t.Logf("Harden: %v", herr)
	if d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); err != nil || d != 0 {
		t.Errorf("dumpable = %d, %v; want 0", d, err)
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &rl); err != nil || rl.Cur != 0 || rl.Max != 0 {
		t.Errorf("core limit %+v, %v; want 0", rl, err)
	}
	locked, err := statusKB("VmLck:")
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case herr == nil && locked == 0:
		t.Errorf("Harden succeeded but VmLck is 0")
	case herr == nil:
		t.Logf("memory locked: VmLck %s", size(locked))
	case !strings.Contains(herr.Error(), "memory"):
		t.Errorf("Harden: %v, which is not about locking memory", herr)
	}
	if mode == "8mib" {
		if herr == nil || !strings.Contains(herr.Error(), "memory not locked: RLIMIT_MEMLOCK is 8 MiB") ||
			!strings.Contains(herr.Error(), "CAP_IPC_LOCK") {
			t.Errorf("Harden under an 8 MiB limit = %v, want it to say memory is not locked and how to allow it", herr)
		}
	}
	// The allocator still works.
	var keep [][]byte
	for range 128 {
		b := make([]byte, 1<<20)
		for i := range b {
			b[i] = 1
		}
		keep = append(keep, b)
	}
	runtime.KeepAlive(keep) // all 128 MiB stay allocated until here
	runtime.GC()
	if after, err := statusKB("VmLck:"); err == nil && herr == nil && after < locked {
		t.Errorf("VmLck fell from %d to %d", locked, after)
	}
}
