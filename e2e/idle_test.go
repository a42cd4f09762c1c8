//go:build linux

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/agent/wire"
)

// TestIdleExit: an agent started on demand exits after its idle timeout,
// removing its socket; the session stays in the store, and the next helper
// call starts a new agent that serves it without signing in again.
func TestIdleExit(t *testing.T) {
	w := newWorld(t, worldOptions{})
	w.loginDevice()
	w.writeConfig(strings.Replace(mustRead(t, w.cfgPath), `idle_timeout = "10m"`, `idle_timeout = "2s"`, 1))
	w.stopAgent() // the new timeout applies to the next agent
	if _, err := w.fill(); err != nil {
		t.Fatal(err)
	}
	pid := w.agentPID()
	sock := filepath.Join(w.dir, "run", "mayfly", "agent.sock")
	deadline := time.Now().Add(30 * time.Second)
	for alive(pid) || socketExists(sock) {
		if time.Now().After(deadline) {
			t.Fatalf("agent %d still running (or its socket left) 30s after a 2s idle timeout", pid)
		}
		time.Sleep(100 * time.Millisecond)
	}
	before := w.dex.Grants("refresh_token")
	if _, err := w.fill(); err != nil {
		t.Fatalf("after the agent exited: %v", err)
	}
	if w.dex.Grants("refresh_token")-before != 1 {
		t.Errorf("the restarted agent did not restore the session from the store with one refresh")
	}
	if pid2 := w.agentPID(); pid2 == pid {
		t.Errorf("same agent pid after idle exit")
	}
}

func (w *world) agentPID() int {
	w.t.Helper()
	r := w.mustRun("mayfly", "status", "--json")
	var st wire.Status
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || st.PID == 0 {
		w.t.Fatalf("no agent pid in %s (%v)", r.stdout, err)
	}
	return st.PID
}

// alive reports whether pid runs. A zombie has exited: this machine's init
// may not reap orphans.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && len(b) > i+2 {
		return b[i+2] != 'Z' && b[i+2] != 'X'
	}
	return true
}

func socketExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
