//go:build !windows

package paths

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/mayflyhq/mayfly/internal/envknob"
)

func TestSocket(t *testing.T) {
	t.Setenv(envknob.AgentSocket, "")
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
	if got, err := Socket(); err != nil || got != "/run/user/1000/mayfly/agent.sock" {
		t.Errorf("Socket() under XDG_RUNTIME_DIR = %q, %v", got, err)
	}
	t.Setenv("XDG_RUNTIME_DIR", "relative/is/ignored")
	want := filepath.Join(os.TempDir(), "mayfly-"+strconv.Itoa(os.Getuid()), "agent.sock")
	if got, err := Socket(); err != nil || got != want {
		t.Errorf("Socket() without XDG_RUNTIME_DIR = %q, %v; want %q", got, err, want)
	}
	t.Setenv(envknob.AgentSocket, "agent.sock")
	wd, _ := os.Getwd()
	if got, err := Socket(); err != nil || got != filepath.Join(wd, "agent.sock") {
		t.Errorf("Socket() with a relative %s = %q, %v", envknob.AgentSocket, got, err)
	}
}
