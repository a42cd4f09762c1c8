package peercred

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestParseStatPPID(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
		bad  bool
	}{
		{in: "42 (git) S 41 42 41 0 -1", want: 41},
		{in: "42 (a) b) (c) R 7 1 1", want: 7},
		{in: "1 (systemd) S 0 1 1", want: 0},
		{in: "42 (git", bad: true},
		{in: "42 (git) S", bad: true},
		{in: "42 (git) S x", bad: true},
		{in: "", bad: true},
	} {
		got, err := parseStatPPID([]byte(tt.in))
		if tt.bad != (err != nil) || got != tt.want {
			t.Errorf("parseStatPPID(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

func TestExeAndParent(t *testing.T) {
	switch runtime.GOOS {
	case "linux", "darwin", "windows":
	default:
		if _, err := Exe(os.Getpid()); !errors.Is(err, ErrUnsupported) {
			t.Errorf("Exe on %s = %v, want ErrUnsupported", runtime.GOOS, err)
		}
		return
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	self, _ = filepath.EvalSymlinks(self)
	got, err := Exe(os.Getpid())
	if err != nil {
		t.Fatalf("Exe(self): %v", err)
	}
	if runtime.GOOS == "windows" {
		// The same file, though perhaps not the same spelling (8.3 names
		// in the runner's temporary folder).
		st1, err1 := os.Stat(got)
		st2, err2 := os.Stat(self)
		if err1 != nil || err2 != nil || !os.SameFile(st1, st2) || !filepath.IsAbs(got) {
			t.Errorf("Exe(self) = %q, not the test binary %q (%v, %v)", got, self, err1, err2)
		}
	} else if got != self {
		t.Errorf("Exe(self) = %q, want %q", got, self)
	}
	if got, err := Parent(os.Getpid()); err != nil || got != os.Getppid() {
		t.Errorf("Parent(self) = %d, %v; want %d", got, err, os.Getppid())
	}
	for _, pid := range []int{0, -1, 1 << 30} {
		if _, err := Exe(pid); err == nil {
			t.Errorf("Exe(%d) succeeded", pid)
		}
		if _, err := Parent(pid); err == nil {
			t.Errorf("Parent(%d) succeeded", pid)
		}
	}
}

// TestExeChild names a process other than this one: a child started from a
// copy of this test binary under another name, as the agent names a helper
// on its socket, and this process as the child's parent.
func TestExeChild(t *testing.T) {
	switch runtime.GOOS {
	case "linux", "darwin", "windows":
	default:
		t.Skip("no executable lookup here")
	}
	if os.Getenv("MAYFLY_PEERCRED_CHILD") == "1" {
		// The child: wait to be looked at, then go.
		io.Copy(io.Discard, os.Stdin)
		return
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	copyName := filepath.Join(t.TempDir(), "mayfly-peercred-child"+filepath.Ext(self))
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copyName, b, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(copyName, "-test.run=^TestExeChild$")
	cmd.Env = append(os.Environ(), "MAYFLY_PEERCRED_CHILD=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	got, err := Exe(cmd.Process.Pid)
	if err != nil {
		t.Fatalf("Exe(child): %v", err)
	}
	st1, err1 := os.Stat(got)
	st2, err2 := os.Stat(copyName)
	if err1 != nil || err2 != nil || !os.SameFile(st1, st2) {
		t.Errorf("Exe(child) = %q, want the copy %q (%v, %v)", got, copyName, err1, err2)
	}
	if !strings.EqualFold(filepath.Base(got), filepath.Base(copyName)) {
		t.Errorf("Exe(child) = %q, want a path ending in %q", got, filepath.Base(copyName))
	}
	if ppid, err := Parent(cmd.Process.Pid); err != nil || ppid != os.Getpid() {
		t.Errorf("Parent(child) = %d, %v; want this process, %d", ppid, err, os.Getpid())
	}
}
