package peercred

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
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
	if runtime.GOOS != "linux" {
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
	if got, err := Exe(os.Getpid()); err != nil || got != self {
		t.Errorf("Exe(self) = %q, %v; want %q", got, err, self)
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
