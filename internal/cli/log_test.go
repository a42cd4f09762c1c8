package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/internal/auditlog"
)

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.Local)
	for in, want := range map[string]time.Time{
		"90m":                       now.Add(-90 * time.Minute),
		"2h":                        now.Add(-2 * time.Hour),
		"7d":                        now.AddDate(0, 0, -7),
		"0s":                        now,
		"2026-03-01":                time.Date(2026, 3, 1, 0, 0, 0, 0, time.Local),
		"2026-03-01 08:30":          time.Date(2026, 3, 1, 8, 30, 0, 0, time.Local),
		"2026-03-01T08:30:05":       time.Date(2026, 3, 1, 8, 30, 5, 0, time.Local),
		"2026-03-01T08:30:05Z":      time.Date(2026, 3, 1, 8, 30, 5, 0, time.UTC),
		"2026-03-01T08:30:05+02:00": time.Date(2026, 3, 1, 6, 30, 5, 0, time.UTC),
	} {
		got, err := parseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "-5m", "d", "2026-13-01"} {
		if _, err := parseSince(bad, now); err == nil {
			t.Errorf("parseSince(%q) succeeded", bad)
		}
	}
}

func TestLogCommand(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	path := filepath.Join(state, "mayfly", "audit.log")
	w, err := auditlog.Open(path, auditlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-3 * time.Hour)
	rotated := true
	for _, e := range []auditlog.Event{
		{Time: old, Event: auditlog.Login, Profile: "work", Flow: "device", Subject: "ada@example.com"},
		{Event: auditlog.TokenIssued, Profile: "work", Consumer: "git", TokenSHA256: "0123456789abcdef",
			Peer: &auditlog.Peer{PID: 42, UID: 1000, Exe: "/usr/bin/git-credential-mayfly", Ancestors: []string{"/usr/bin/git"}, Allowed: "/usr/bin/git"}},
		{Event: auditlog.Refresh, Profile: "home", Rotated: &rotated},
		{Event: auditlog.Refused, Profile: "work", Reason: "profile work does not hand tokens to /tmp/x (pid 9)"},
	} {
		if err := w.Log(e); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()

	run := func(args ...string) (string, string, int) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), append([]string{"log"}, args...), &stdout, &stderr)
		return stdout.String(), stderr.String(), code
	}
	out, errOut, code := run()
	if code != 0 || errOut != "" || strings.Count(out, "\n") != 4 {
		t.Fatalf("mayfly log: exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
	for _, want := range []string{"login ", "device", "token_issued", "consumer=git", "pid=42", "exe=/usr/bin/git-credential-mayfly",
		`via=/usr/bin/git`, "allowed=/usr/bin/git", "sha256=0123456789abcdef", "rotated=true", `reason="profile work does not hand`} {
		if !strings.Contains(out, want) {
			t.Errorf("mayfly log output lacks %q:\n%s", want, out)
		}
	}

	out, _, code = run("--since", "1h", "--profile", "work", "--json")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], `{"time":`) || !strings.Contains(lines[0], `"event":"token_issued"`) ||
		!strings.Contains(lines[1], `"event":"refused"`) {
		t.Errorf("mayfly log --since 1h --profile work --json: exit %d\n%s", code, out)
	}

	if _, errOut, code := run("--since", "someday"); code != 2 || !strings.Contains(errOut, "--since") {
		t.Errorf("bad --since: exit %d, stderr %q", code, errOut)
	}

	t.Setenv("XDG_STATE_HOME", t.TempDir())
	if out, errOut, code := run(); code != 0 || out != "" || !strings.Contains(errOut, "no audit log yet") {
		t.Errorf("no log: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
