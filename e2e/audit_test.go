//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/backends/keyring"
	"github.com/mayflyhq/mayfly/internal/auditlog"
)

func (w *world) auditPath() string { return filepath.Join(w.dir, "state", "mayfly", "audit.log") }

// auditEvents returns the audit log's events.
func (w *world) auditEvents() []auditlog.Event {
	w.t.Helper()
	var out []auditlog.Event
	skipped, err := auditlog.Read(w.auditPath(), func(e auditlog.Event, _ []byte) error {
		out = append(out, e)
		return nil
	})
	if err != nil || skipped != 0 {
		w.t.Fatalf("reading the audit log: %d lines skipped, %v", skipped, err)
	}
	return out
}

func eventsOf(events []auditlog.Event, kind string) []auditlog.Event {
	var out []auditlog.Event
	for _, e := range events {
		if e.Event == kind {
			out = append(out, e)
		}
	}
	return out
}

// TestAuditLog: after a sign-in and a clone through real git, the audit log
// (0600) has the sign-in and a token_issued line per token handed to git,
// naming the helper's pid and executable and the token's hash, never the
// token; `mayfly log` shows it. The agent's memory is locked, or its log
// says why not.
func TestAuditLog(t *testing.T) {
	w := newWorld(t, worldOptions{})
	w.loginDevice()
	w.mustRun("git", "clone", "-q", w.git.URL+"/app.git", "first")
	access, err := w.fill()
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{access, refreshToken(t, w)}

	events := w.auditEvents()
	logins := eventsOf(events, auditlog.Login)
	if len(logins) != 1 || logins[0].Profile != "corp" || logins[0].Flow != "device" || logins[0].Error != "" ||
		logins[0].Peer == nil || logins[0].Peer.Exe != filepath.Join(binDir, "mayfly") {
		t.Errorf("login events %+v, want one device sign-in to corp by %s", logins, filepath.Join(binDir, "mayfly"))
	}
	issued := eventsOf(events, auditlog.TokenIssued)
	if len(issued) < 2 {
		t.Fatalf("%d token_issued events after a clone and a fill, want at least 2:\n%+v", len(issued), events)
	}
	helper := filepath.Join(binDir, "git-credential-mayfly")
	for i, e := range issued {
		if e.Profile != "corp" || e.Consumer != "git" || e.Peer == nil || e.Peer.Exe != helper || e.Peer.PID <= 1 ||
			e.Peer.UID != os.Getuid() || len(e.TokenSHA256) != 16 || e.Expiry.IsZero() || len(e.Scopes) == 0 {
			t.Errorf("token_issued #%d: %+v (peer %+v), want corp, git, the helper's pid and path, a hash, expiry and scopes", i, e, e.Peer)
		}
	}
	if last := issued[len(issued)-1]; last.TokenSHA256 != auditlog.TokenHash(access) {
		t.Errorf("the last token_issued names hash %s, not that of the token git got", last.TokenSHA256)
	}
	raw, err := os.ReadFile(w.auditPath())
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range secrets {
		if strings.Contains(string(raw), s) {
			t.Errorf("secret #%d is in the audit log", i)
		}
	}
	for p, want := range map[string]os.FileMode{w.auditPath(): 0o600, filepath.Dir(w.auditPath()): 0o700} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: %v, %v; want mode %v", p, st.Mode().Perm(), err, want)
		}
	}

	// mayfly log --json prints the file's lines as they are.
	r := w.mustRun("mayfly", "log", "--json")
	fileLines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	outLines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(outLines) < len(fileLines) || strings.Join(outLines[:len(fileLines)], "\n") != strings.Join(fileLines, "\n") {
		t.Errorf("mayfly log --json:\n%s\nwant the file's lines:\n%s", r.stdout, raw)
	}
	for _, l := range outLines {
		if !json.Valid([]byte(l)) {
			t.Errorf("mayfly log --json printed a line that is not JSON: %q", l)
		}
	}
	r = w.mustRun("mayfly", "log", "--since", "1h", "--profile", "corp")
	if !strings.Contains(r.stdout, "token_issued") || !strings.Contains(r.stdout, "exe="+helper) || !strings.Contains(r.stdout, "login") {
		t.Errorf("mayfly log:\n%s", r.stdout)
	}

	// Memory hygiene: the agent's pages are locked, or its log says why not.
	pid := w.agentPID()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	agentLog := mustRead(t, filepath.Join(w.dir, "state", "mayfly", "agent.log"))
	if locked := vmLck(string(status)); locked == 0 && !strings.Contains(agentLog, "memory not locked") {
		t.Errorf("agent %d: VmLck 0 and no warning in its log:\n%s", pid, agentLog)
	} else {
		t.Logf("agent VmLck %d kB", locked)
	}
}

func vmLck(status string) int {
	for line := range strings.Lines(status) {
		if rest, ok := strings.CutPrefix(line, "VmLck:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n
		}
	}
	return 0
}

// TestAllowExec: a profile's allow_exec is checked against the helper and
// the processes above it. A list naming no program of the chain refuses
// `git credential fill` with a message naming the program and the profile,
// recorded in the audit log; git's own executables let it through.
func TestAllowExec(t *testing.T) {
	w := newWorld(t, worldOptions{})
	w.loginDevice()
	base := mustRead(t, w.cfgPath)
	url := w.git.URL + "/app.git"

	w.writeConfig(base + `allow_exec = ["/nonexistent/*"]` + "\n")
	_, err := w.fillFields()
	helper := filepath.Join(binDir, "git-credential-mayfly")
	if err == nil {
		t.Fatal("git credential fill succeeded with allow_exec = [\"/nonexistent/*\"]")
	}
	for _, want := range []string{"refused", "profile corp", helper, "allow_exec", w.cfgPath} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal on git's stderr does not name %q: %v", want, err)
		}
	}
	refused := eventsOf(w.auditEvents(), auditlog.Refused)
	if len(refused) != 1 || refused[0].Profile != "corp" || refused[0].Peer == nil || refused[0].Peer.Exe != helper ||
		len(refused[0].Peer.Ancestors) == 0 {
		t.Fatalf("refused events %+v, want one naming the helper and its ancestors", refused)
	}
	gitExe, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	if gitExe, err = filepath.EvalSymlinks(gitExe); err != nil {
		t.Fatal(err)
	}
	// git runs its helpers with its exec path first on PATH.
	execPath := strings.TrimSpace(w.mustRun("git", "--exec-path").stdout)
	if gitSub, err := filepath.EvalSymlinks(filepath.Join(execPath, "git")); err == nil && refused[0].Peer.Ancestors[0] != gitSub {
		t.Errorf("the helper's parent is %q, want git (%s)", refused[0].Peer.Ancestors[0], gitSub)
	}
	t.Logf("refused: %s", refused[0].Reason)

	// git's transport helper (the process that asks for credentials
	// during a clone) is allowed; `git credential fill` does not run it,
	// so fill is still refused: the rule looks at the real chain.
	remote := filepath.Join(execPath, "git-remote-http")
	w.writeConfig(base + fmt.Sprintf("allow_exec = [%q]\n", remote))
	w.mustRun("git", "clone", "-q", url, "via-remote-http")
	if _, err := w.fillFields(); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("git credential fill with only git-remote-http allowed: %v, want refused", err)
	}
	issued := eventsOf(w.auditEvents(), auditlog.TokenIssued)
	if len(issued) == 0 || issued[len(issued)-1].Peer.Allowed != remote {
		t.Errorf("token_issued events %+v, want the last allowed by %s", issued, remote)
	}

	// The git the user runs, as PATH finds it: for a clone it is five
	// levels above the helper.
	w.writeConfig(base + fmt.Sprintf("allow_exec = [%q]\n", gitExe))
	if _, err := w.fill(); err != nil {
		t.Errorf("git credential fill with %s allowed: %v", gitExe, err)
	}
	w.mustRun("git", "clone", "-q", url, "via-git")
}

// TestReplayedRefreshToken: an old refresh token comes back after the
// provider rotated it, as a stolen copy would. The provider refuses it; the
// agent drops the session, writes a session_revoked alert to the audit log,
// and every helper call after says on stderr that the session was revoked
// and to sign in again.
func TestReplayedRefreshToken(t *testing.T) {
	w := newWorld(t, worldOptions{})
	w.loginDevice()
	old := refreshToken(t, w)
	// A new agent holds no access token: its first call refreshes, and
	// Dex rotates the refresh token.
	w.stopAgent()
	if _, err := w.fill(); err != nil {
		t.Fatal(err)
	}
	if refreshToken(t, w) == old {
		t.Fatal("the provider did not rotate the refresh token")
	}
	// Past Dex's reuse interval (2 s), put the old token back, as if the
	// session had been copied from the store before the rotation.
	time.Sleep(2500 * time.Millisecond)
	w.stopAgent()
	ctx := context.Background()
	kr := keyring.New("mayfly:")
	for key := range sessionKeys(t, w) {
		b, err := kr.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		var rec map[string]any
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatal(err)
		}
		rec["refresh_token"] = old
		if b, err = json.Marshal(rec); err != nil {
			t.Fatal(err)
		}
		if err := kr.Set(ctx, key, b); err != nil {
			t.Fatal(err)
		}
	}

	for i := range 2 {
		_, err := w.fillFields()
		if err == nil {
			t.Fatalf("fill %d with a replayed refresh token succeeded", i)
		}
		for _, want := range []string{"revoked by the provider", "sign in again", "mayfly login --profile corp"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("fill %d: git's stderr does not say %q: %v", i, want, err)
			}
		}
	}
	alerts := eventsOf(w.auditEvents(), auditlog.Alert)
	if len(alerts) != 1 || alerts[0].Kind != auditlog.KindSessionRevoked || alerts[0].Profile != "corp" {
		t.Errorf("alerts %+v, want one session_revoked for corp", alerts)
	}
	if k := sessionKeys(t, w); len(k) != 0 {
		t.Errorf("the revoked session is still in the keyring: %v", k)
	}
	if st := w.status(); st.SignedIn || !strings.Contains(st.Problem, "revoked") {
		t.Errorf("status after the revocation: %+v", st)
	}
	r := w.mustRun("mayfly", "log", "--json")
	if !strings.Contains(r.stdout, `"event":"alert","kind":"session_revoked"`) {
		t.Errorf("mayfly log --json has no session_revoked alert:\n%s", r.stdout)
	}
}
