package agent

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/internal/auditlog"
	"github.com/mayflyhq/mayfly/internal/peercred"
)

// These allow_exec tests run on every OS (policy_test.go's are UNIX-only):
// the peer's executable comes from /proc on Linux, proc_info on macOS and
// the pipe client's process on Windows, and CI runs this file on all three.

// peerExe is this test process's executable as the agent sees it on its
// socket, or a skip where the OS cannot tell.
func peerExe(t *testing.T) string {
	t.Helper()
	exe, err := peercred.Exe(os.Getpid())
	if errors.Is(err, peercred.ErrUnsupported) {
		t.Skipf("no peer executables on %s", runtime.GOOS)
	}
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

func TestMatchExecWindows(t *testing.T) {
	allow := []string{`C:/Program Files/Git/mingw64/libexec/git-core/*`, `C:\Program Files\Docker\Docker\resources\bin\docker.exe`, `C:/Tools/kubectl.exe`}
	for exe, want := range map[string]string{
		`C:\Program Files\Git\mingw64\libexec\git-core\git-remote-https.exe`: allow[0],
		`c:\program files\git\MINGW64\libexec\git-core\git.exe`:              allow[0],
		`C:\Program Files\Git\mingw64\libexec\git-core\sub\git.exe`:          "",
		`C:\Program Files\Docker\Docker\resources\bin\docker.exe`:            allow[1],
		`C:\PROGRAM FILES\DOCKER\DOCKER\RESOURCES\BIN\DOCKER.EXE`:            allow[1],
		`C:\Tools\kubectl.exe`:     allow[2],
		`D:\Tools\kubectl.exe`:     "",
		`C:\Tools\kubectl.exe.bak`: "",
		``:                         "",
	} {
		if got := matchExecOn("windows", allow, exe); got != want {
			t.Errorf("matchExecOn(windows, %q) = %q, want %q", exe, got, want)
		}
	}
	// Elsewhere a backslash escapes and case counts.
	if got := matchExecOn("linux", []string{`/usr/bin/git`}, `/USR/BIN/GIT`); got != "" {
		t.Errorf("case-insensitive match on linux: %q", got)
	}
	if got := matchExecOn("linux", []string{`/opt/a\*b`}, `/opt/a*b`); got != `/opt/a\*b` {
		t.Errorf("escaped pattern on linux: %q", got)
	}
}

// TestCheckExecAncestors walks this process's real parent chain: the test
// binary itself, then its parent (go test, a shell, or the CI runner).
func TestCheckExecAncestors(t *testing.T) {
	exe := peerExe(t)
	c := caller{Cred: peercred.Self(), exe: exe}
	if m, anc, err := checkExec(c, []string{exe}); err != nil || m != exe || len(anc) != 0 {
		t.Errorf("checkExec(self) = %q, %q, %v; want a match on the caller itself", m, anc, err)
	}
	_, anc, err := checkExec(c, []string{"/nonexistent/x"})
	if !errors.Is(err, errNoMatch) || len(anc) == 0 {
		t.Fatalf("checkExec(nothing allowed) = %q, %v; want errNoMatch after looking at the ancestors", anc, err)
	}
	parent, err := peercred.Exe(os.Getppid())
	if err != nil {
		t.Skipf("parent's executable: %v", err)
	}
	if anc[0] != parent {
		t.Errorf("first ancestor %q, want the parent %q", anc[0], parent)
	}
	if strings.EqualFold(parent, exe) {
		return
	}
	if m, anc, err := checkExec(c, []string{"/nonexistent/x", parent}); err != nil || m != parent || len(anc) != 1 {
		t.Errorf("checkExec(parent allowed) = %q, %q, %v; want a match one level up", m, anc, err)
	}
}

// TestAllowExecOverSocket: the agent names the program on its socket (or
// pipe) in a refusal, which proves it read the peer's executable there,
// and hands the token to an allowed one.
func TestAllowExecOverSocket(t *testing.T) {
	exe := peerExe(t)
	const url = "https://git.work.example/org/app.git"
	withAllow := func(entries ...string) string {
		q := make([]string, len(entries))
		for i, e := range entries {
			q[i] = fmt.Sprintf("%q", e)
		}
		return strings.Replace(defaultConfig, `match = ["https://git.work.example/"]`,
			`match = ["https://git.work.example/"]`+"\nallow_exec = ["+strings.Join(q, ", ")+"]", 1)
	}
	e := newEnv(t, withAllow("/nonexistent/*"))
	e.seed("work")
	_, err := e.token(url)
	we := wireError(t, err)
	if we.Code != wire.CodeRefused {
		t.Fatalf("code %q, want %q (%s)", we.Code, wire.CodeRefused, we.Message)
	}
	for _, want := range []string{"profile work", exe, fmt.Sprintf("pid %d", os.Getpid())} {
		if !strings.Contains(we.Message, want) {
			t.Errorf("refusal %q does not name %q", we.Message, want)
		}
	}
	if n := e.idp.refreshCount(); n != 0 {
		t.Errorf("a refused caller caused %d refreshes", n)
	}
	if runtime.GOOS == "windows" {
		// internal/config takes only slash-rooted entries so far, so a
		// Windows path cannot be configured; TestCheckExecAncestors and
		// TestMatchExecWindows cover the match.
		return
	}
	e.writeConfig(withAllow("/nonexistent/x", exe))
	if _, err := e.token(url); err != nil {
		t.Fatalf("allow_exec = [%q]: %v", exe, err)
	}
	issued := e.events(auditlog.TokenIssued)
	if len(issued) != 1 || issued[0].Peer == nil || issued[0].Peer.Exe != exe || issued[0].Peer.Allowed != exe {
		t.Errorf("token_issued %+v, want one naming %s, allowed by itself", issued, exe)
	}
}
