//go:build unix

package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/internal/auditlog"
	"github.com/mayflyhq/mayfly/internal/peercred"
)

// selfExe is this test binary as the kernel names it, which is what the
// agent sees as the peer of the test's client.
func selfExe(t *testing.T) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the agent reads peer executables on Linux only")
	}
	exe, err := peercred.Exe(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

func TestAuditTokenIssued(t *testing.T) {
	exe := selfExe(t)
	e := newEnv(t, "")
	e.seed("work")
	tok := e.mustToken(workURL)
	e.mustToken(workURL) // cached: a second issue, no second refresh

	refreshes := e.events(auditlog.Refresh)
	if len(refreshes) != 1 || refreshes[0].Rotated == nil || !*refreshes[0].Rotated || refreshes[0].Profile != "work" ||
		refreshes[0].TokenSHA256 != auditlog.TokenHash(tok.Token) {
		t.Errorf("refresh events %+v, want one rotated refresh of work naming the new token's hash", refreshes)
	}
	issued := e.events(auditlog.TokenIssued)
	if len(issued) != 2 {
		t.Fatalf("%d token_issued events, want 2", len(issued))
	}
	got := issued[0]
	want := auditlog.Event{
		Event: auditlog.TokenIssued, Profile: "work", Consumer: "test",
		Peer:        &auditlog.Peer{PID: os.Getpid(), UID: os.Getuid(), Exe: exe},
		TokenSHA256: auditlog.TokenHash(tok.Token),
		Scopes:      []string{"openid", "offline_access"},
		Expiry:      tok.Expiry.UTC(),
	}
	got.Time = time.Time{}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("token_issued (-want +got):\n%s", diff)
	}
}

func TestAuditTrail(t *testing.T) {
	e := newEnv(t, singleProfile(""))
	if _, err := e.login(wire.Request{}, nil); err != nil {
		t.Fatal(err)
	}
	const secret = "s3cret-registry-password"
	for _, req := range []wire.Request{
		{Op: wire.OpStaticSet, Namespace: "docker", Name: "r.example", Username: "u", Secret: secret},
		{Op: wire.OpStaticGet, Namespace: "docker", Name: "r.example"},
		{Op: wire.OpStaticErase, Namespace: "docker", Name: "r.example"},
		{Op: wire.OpLogout, Profile: "work"},
	} {
		if _, err := e.do(req); err != nil {
			t.Fatalf("%s: %v", req.Op, err)
		}
	}
	var kinds []string
	for _, ev := range e.events("") {
		kinds = append(kinds, ev.Event)
		if ev.Peer == nil || ev.Peer.PID != os.Getpid() {
			t.Errorf("%s: peer %+v, want this process", ev.Event, ev.Peer)
		}
	}
	want := []string{auditlog.Login, auditlog.StaticStored, auditlog.StaticIssued, auditlog.StaticErased, auditlog.Logout}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	b, err := os.ReadFile(e.audit)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), secret) || !strings.Contains(string(b), auditlog.TokenHash(secret)) {
		t.Errorf("the audit log holds the static secret, or not its hash:\n%s", b)
	}
	if st, err := os.Stat(e.audit); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
}

func TestAllowExec(t *testing.T) {
	exe := selfExe(t)
	e := newEnv(t, singleProfile(`allow_exec = ["/nonexistent/*"]`))
	e.seed("work")

	// Refused before any refresh, with the program and the profile named.
	_, err := e.token(workURL)
	we := wireError(t, err)
	if we.Code != wire.CodeRefused {
		t.Fatalf("code %q, want %q (%s)", we.Code, wire.CodeRefused, we.Message)
	}
	for _, want := range []string{"profile work", exe, fmt.Sprintf("pid %d", os.Getpid()), "allow_exec", e.cfgPath} {
		if !strings.Contains(we.Message, want) {
			t.Errorf("refusal %q does not name %q", we.Message, want)
		}
	}
	if n := e.idp.refreshCount(); n != 0 {
		t.Errorf("a refused caller caused %d refreshes", n)
	}
	refused := e.events(auditlog.Refused)
	if len(refused) != 1 || refused[0].Profile != "work" || refused[0].Peer == nil || refused[0].Peer.Exe != exe ||
		len(refused[0].Peer.Ancestors) == 0 || !strings.Contains(refused[0].Reason, exe) {
		t.Errorf("refused events %+v, want one for work naming the caller and its ancestors", refused)
	}
	if len(e.events(auditlog.TokenIssued)) != 0 {
		t.Error("a refused caller has a token_issued event")
	}

	link := filepath.Join(t.TempDir(), "link-to-test")
	if err := os.Symlink(exe, link); err != nil {
		t.Fatal(err)
	}
	allowed := []struct{ name, entry string }{
		{"exact path", exe},
		{"pattern", filepath.Dir(exe) + "/*"},
		{"symbolic link to it", link},
	}
	// The test binary's parent (go test, or a shell) stands in for git
	// above git-credential-mayfly.
	if parent, err := peercred.Exe(os.Getppid()); err == nil && parent != exe && !strings.HasPrefix(parent, filepath.Dir(exe)+"/") {
		allowed = append(allowed, struct{ name, entry string }{"parent process", parent})
	}
	for _, tt := range allowed {
		t.Run(tt.name, func(t *testing.T) {
			e.writeConfig(singleProfile(fmt.Sprintf("allow_exec = [\"/nonexistent/x\", %q]", tt.entry)))
			if _, err := e.token(workURL); err != nil {
				t.Fatalf("allow_exec = [%q]: %v", tt.entry, err)
			}
			issued := e.events(auditlog.TokenIssued)
			if last := issued[len(issued)-1]; last.Peer == nil || last.Peer.Allowed != tt.entry {
				t.Errorf("token_issued peer %+v, want allowed by %q", last.Peer, tt.entry)
			}
		})
	}
}

func TestMatchExec(t *testing.T) {
	allow := []string{"/usr/bin/git", "/usr/lib/git-core/git-remote-http*", "/opt/[ab]/tool"}
	for exe, want := range map[string]string{
		"/usr/bin/git":                          "/usr/bin/git",
		"/usr/lib/git-core/git-remote-https":    "/usr/lib/git-core/git-remote-http*",
		"/usr/lib/git-core/sub/git-remote-http": "",
		"/opt/a/tool":                           "/opt/[ab]/tool",
		"/opt/c/tool":                           "",
		"/usr/bin/git (deleted)":                "",
		"":                                      "",
	} {
		if got := matchExec(allow, exe); got != want {
			t.Errorf("matchExec(%q) = %q, want %q", exe, got, want)
		}
	}
}

func TestCheckExecUnknownCaller(t *testing.T) {
	// Where the OS gives no pid, a profile with allow_exec refuses: it
	// cannot tell whom it would serve.
	if _, _, err := checkExec(caller{}, []string{"/usr/bin/git"}); err == nil || !strings.Contains(err.Error(), "cannot tell") {
		t.Errorf("checkExec with no pid: %v", err)
	}
}

func TestIssuanceRateAlert(t *testing.T) {
	e := newEnv(t, strings.Replace(defaultConfig, `idle_timeout = "1h"`, "idle_timeout = \"1h\"\nalert_rate = 5", 1))
	e.seed("work")
	e.seed("home")
	burst := func(n int, url, consumer string) {
		t.Helper()
		for range n {
			if _, err := e.do(wire.Request{Op: wire.OpToken, URL: url, Consumer: consumer}); err != nil {
				t.Fatal(err)
			}
		}
	}
	alerts := func() []auditlog.Event {
		var out []auditlog.Event
		for _, ev := range e.events(auditlog.Alert) {
			if ev.Kind == auditlog.KindIssuanceRate {
				ev.Time = time.Time{}
				out = append(out, ev)
			}
		}
		return out
	}
	burst(5, workURL, "git")
	if a := alerts(); len(a) != 0 {
		t.Fatalf("alerts at the threshold: %+v", a)
	}
	burst(20, workURL, "git")                // over: one alert for the minute
	burst(5, workURL, "docker")              // another consumer: its own count
	burst(5, "registry.home.example", "git") // another profile: its own count
	want := []auditlog.Event{{Event: auditlog.Alert, Kind: auditlog.KindIssuanceRate, Profile: "work", Consumer: "git",
		Count: 6, Threshold: 5, Reason: "more than 5 tokens within a minute"}}
	if diff := cmp.Diff(want, alerts()); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
	// A minute on, the burst goes on: a second alert, no more.
	e.clock.Advance(61 * time.Second)
	burst(12, workURL, "git")
	if a := alerts(); len(a) != 2 {
		t.Errorf("%d alerts after a second minute over the rate, want 2", len(a))
	}
	// alert_rate = 0 turns it off.
	e.writeConfig(strings.Replace(defaultConfig, `idle_timeout = "1h"`, "idle_timeout = \"1h\"\nalert_rate = 0", 1))
	e.clock.Advance(61 * time.Second)
	burst(12, workURL, "git")
	if a := alerts(); len(a) != 2 {
		t.Errorf("%d alerts with alert_rate = 0, want still 2", len(a))
	}
}

// TestLogoutAllStale: logout --all also signs out of sessions the current
// configuration no longer reaches (a profile removed, or one whose scopes
// changed, which changes its store key), revoking them at their provider,
// and keeps the static credentials.
func TestLogoutAllStale(t *testing.T) {
	e := newEnv(t, "")
	oldWork, oldHome := e.seed("work"), e.seed("home")
	if _, err := e.do(wire.Request{Op: wire.OpStaticSet, Namespace: "docker", Name: "r.example", Username: "u", Secret: "pw"}); err != nil {
		t.Fatal(err)
	}
	// home goes away; work asks for another scope.
	e.writeConfig(singleProfile(`scopes = ["openid", "offline_access", "extra"]`))
	newWork := e.seed("work")

	resp, err := e.do(wire.Request{Op: wire.OpLogout, All: true})
	if err != nil {
		t.Fatal(err)
	}
	const revoked = "revoked at the provider and forgotten locally"
	want := []wire.LogoutResult{
		{Profile: "work", Outcome: revoked},
		{Profile: "home (no longer configured)", Outcome: revoked},
		{Profile: "work (before its issuer, client or scopes changed)", Outcome: revoked},
	}
	if diff := cmp.Diff(want, resp.Results); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	for _, rt := range []string{oldWork, oldHome, newWork} {
		if e.idp.accepts(rt) {
			t.Errorf("refresh token %d still valid at the provider", slices.Index([]string{oldWork, oldHome, newWork}, rt))
		}
	}
	keys, err := e.store.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"static/docker/r.example"}, keys); diff != "" {
		t.Errorf("store keys after logout --all (-want +got):\n%s", diff)
	}
	if n := len(e.events(auditlog.Logout)); n != 3 {
		t.Errorf("%d logout events, want 3", n)
	}
}
