package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/internal/auditlog"
)

// TestLoginCtrlC: Ctrl-C while `mayfly login` waits for the device code to
// be approved ends it within seconds, with exit 130, one "cancelled" line
// on stderr and nothing on stdout; the agent abandons the flow (the failed
// sign-in is in the audit log, and approving the code afterwards signs
// nobody in), and `mayfly status` shows no session.
func TestLoginCtrlC(t *testing.T) {
	w := newWorld(t, worldOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := w.cmd(ctx, "mayfly", "login", "--no-browser")
	var stdout bytes.Buffer
	c.Stdout = &stdout
	stderr, err := c.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	var shown strings.Builder
	code := ""
	sc := bufio.NewScanner(stderr)
	for code == "" && sc.Scan() {
		shown.WriteString(sc.Text() + "\n")
		if m := userCodeRE.FindStringSubmatch(sc.Text()); m != nil {
			code = m[1]
		}
	}
	if code == "" {
		c.Process.Kill()
		c.Wait()
		t.Fatalf("no user code shown:\n%s", shown.String())
	}
	// The rest of stderr, until the process ends.
	rest := make(chan string, 1)
	go func() {
		var b strings.Builder
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
		}
		rest <- b.String()
	}()
	// Let the agent start polling, then press Ctrl-C.
	time.Sleep(500 * time.Millisecond)
	sent := time.Now()
	if err := c.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()
	select {
	case err = <-exited:
	case <-time.After(5 * time.Second):
		c.Process.Kill()
		t.Fatalf("mayfly login still running 5s after SIGINT:\n%s", shown.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Errorf("mayfly login after SIGINT: %v, want exit 130", err)
	}
	t.Logf("exited %v after SIGINT", time.Since(sent).Round(time.Millisecond))
	tail := <-rest
	if !strings.Contains(tail, "cancelled") || strings.Count(strings.TrimSpace(tail), "\n") > 1 {
		t.Errorf("stderr after the code: %q, want one line saying cancelled", tail)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout: %q", stdout.String())
	}
	if st := w.status(); st.SignedIn {
		t.Fatalf("signed in after a cancelled sign-in: %+v", st)
	}

	// The agent noticed the client leave and stopped polling: the failed
	// sign-in is in the audit log.
	deadline := time.Now().Add(5 * time.Second)
	for !w.loginFailedLogged() {
		if time.Now().After(deadline) {
			t.Fatalf("no failed login in the audit log:\n%s", w.run("", "mayfly", "log", "--json").stdout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Approving the abandoned code now signs nobody in, even after a
	// poll interval or two.
	if err := w.dex.ApproveDevice(ctx, code); err != nil {
		t.Logf("approving the abandoned code: %v", err)
	}
	time.Sleep(6 * time.Second)
	if st := w.status(); st.SignedIn {
		t.Errorf("the abandoned device flow signed in: %+v", st)
	}
}

// loginFailedLogged reports whether the audit log has a login event with
// an error.
func (w *world) loginFailedLogged() bool {
	r := w.run("", "mayfly", "log", "--json")
	for line := range strings.Lines(r.stdout) {
		var e auditlog.Event
		if json.Unmarshal([]byte(line), &e) == nil && e.Event == auditlog.Login && e.Error != "" {
			return true
		}
	}
	return false
}
