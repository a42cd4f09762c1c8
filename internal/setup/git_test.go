package setup

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestGitURLs(t *testing.T) {
	helpers, paths := GitURLs(testProfiles(t, twoProfiles))
	wantHelpers := []string{"https://git.corp.example", "https://registry.corp.example:5000", "https://*.corp.example", "https://code.corp.example/team-a", "http://127.0.0.1:8089"}
	if diff := cmp.Diff(wantHelpers, helpers); diff != "" {
		t.Errorf("helper URLs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"https://code.corp.example"}, paths); diff != "" {
		t.Errorf("useHttpPath URLs (-want +got):\n%s", diff)
	}
}

func TestGitHelper(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/local/bin/git-credential-mayfly": "/usr/local/bin/git-credential-mayfly",
		"/opt/my tools/git-credential-mayfly":  `!'/opt/my tools/git-credential-mayfly'`,
		"/opt/it's/git-credential-mayfly":      `!'/opt/it'\''s/git-credential-mayfly'`,
		"relative/git-credential-mayfly":       "!relative/git-credential-mayfly",
	} {
		if got := GitHelper(in); got != want {
			t.Errorf("GitHelper(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGitCommands(t *testing.T) {
	const h = "/bin/git-credential-mayfly"
	urls, paths := []string{"https://git.corp.example", "https://code.corp.example/team-a"}, []string{"https://code.corp.example"}
	// Nothing yet: reset and add for each URL, useHttpPath for the host.
	got := GitCommands(nil, h, urls, paths)
	want := [][]string{
		{"--replace-all", "credential.https://git.corp.example.helper", ""},
		{"--add", "credential.https://git.corp.example.helper", h},
		{"--replace-all", "credential.https://code.corp.example/team-a.helper", ""},
		{"--add", "credential.https://code.corp.example/team-a.helper", h},
		{"--replace-all", "credential.https://code.corp.example.useHttpPath", "true"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
	// Already done (as `git config --list` spells it): nothing.
	done := []GitEntry{
		{"credential.helper", "store"},
		{"credential.https://git.corp.example.helper", ""},
		{"credential.https://git.corp.example.helper", h},
		{"credential.https://code.corp.example/team-a.helper", ""},
		{"credential.https://code.corp.example/team-a.helper", h},
		{"credential.https://code.corp.example.usehttppath", "true"},
	}
	if got := GitCommands(done, h, urls, paths); len(got) != 0 {
		t.Errorf("already set up: %q", got)
	}
	// Another helper after ours, a missing reset, another case of the
	// URL (a different subsection): fixed.
	for _, bad := range [][]GitEntry{
		append(done[:3:3], GitEntry{"credential.https://git.corp.example.helper", "store"}),
		{{"credential.https://git.corp.example.helper", h}},
		{{"credential.https://GIT.corp.example.helper", ""}, {"credential.https://GIT.corp.example.helper", h}},
	} {
		if got := GitCommands(bad, h, urls[:1], nil); len(got) != 2 {
			t.Errorf("%q: %q", bad, got)
		}
	}
}

// TestGitCommandsOrder: a helper line after Mayfly's would run after it
// (and store its token), so the section moves to the end of the file,
// keeping its other keys.
func TestGitCommandsOrder(t *testing.T) {
	const h = "/bin/git-credential-mayfly"
	list := []GitEntry{
		{"credential.https://git.corp.example.username", "alice"},
		{"credential.https://git.corp.example.helper", ""},
		{"credential.https://git.corp.example.helper", h},
		{"credential.https://git.corp.example.usehttppath", "true"},
		{"credential.helper", "store"},
	}
	got := GitCommands(list, h, []string{"https://git.corp.example"}, nil)
	want := [][]string{
		{"--remove-section", "credential.https://git.corp.example"},
		{"--add", "credential.https://git.corp.example.username", "alice"},
		{"--add", "credential.https://git.corp.example.usehttppath", "true"},
		{"--add", "credential.https://git.corp.example.helper", ""},
		{"--add", "credential.https://git.corp.example.helper", h},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
	// Once moved (the list as git lists the result), nothing more to do.
	moved := []GitEntry{list[4], list[0], list[3], list[1], list[2]}
	if got := GitCommands(moved, h, []string{"https://git.corp.example"}, nil); len(got) != 0 {
		t.Errorf("after the move: %q", got)
	}
}

func TestParseGitList(t *testing.T) {
	got := ParseGitList([]byte("user.name\nA B\x00credential.https://h.helper\n\x00core.bare\x00"))
	want := []GitEntry{{"user.name", "A B"}, {"credential.https://h.helper", ""}, {"core.bare", ""}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestGitPlan runs the real git on a private copy: the new file has
// exactly the helpers, other settings are kept, and the second run
// changes nothing.
func TestGitPlan(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	e := testEnv(t)
	path := filepath.Join(e.Home, ".gitconfig")
	old := "# mine\n[user]\n\tname = A Person\n[credential \"http://127.0.0.1:8089\"]\n\tusername = me\n\thelper = \n\thelper = " + filepath.Join(e.BinDir, "git-credential-mayfly") + "\n[credential]\n\thelper = store\n[credential \"https://git.corp.example\"]\n\thelper = cache\n"
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	profiles := testProfiles(t, twoProfiles)
	p, err := Git(ctx, e, profiles)
	if err != nil {
		t.Fatal(err)
	}
	if p.Path != path || !p.Changed() {
		t.Fatalf("plan: path %s, changed %v", p.Path, p.Changed())
	}
	if !strings.Contains(strings.Join(p.Notes, "\n"), "credential.helper=store") {
		t.Errorf("notes: %q", p.Notes)
	}
	if b, _ := os.ReadFile(path); string(b) != old {
		t.Fatal("planning changed the file")
	}
	if !strings.HasPrefix(p.Diff(), "--- "+path) {
		t.Errorf("diff: %s", p.Diff())
	}
	backup, err := p.Apply(testNow)
	if err != nil || backup == "" {
		t.Fatalf("apply: %q, %v", backup, err)
	}
	assertMode(t, path, 0o644)
	assertContent(t, backup, old)
	cfg := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"config", "--file", path}, args...)...).Output()
		if err != nil {
			t.Fatalf("git config %q: %v", args, err)
		}
		return string(out)
	}
	helper := filepath.Join(e.BinDir, "git-credential-mayfly")
	if got := cfg("--get-all", "credential.https://git.corp.example.helper"); got != "\n"+helper+"\n" {
		t.Errorf("helpers for git.corp.example: %q", got)
	}
	if got := cfg("--get-all", "credential.http://127.0.0.1:8089.helper"); got != "\n"+helper+"\n" {
		t.Errorf("helpers for 127.0.0.1:8089: %q", got)
	}
	if got := cfg("--get", "credential.http://127.0.0.1:8089.username"); got != "me\n" {
		t.Errorf("username for 127.0.0.1:8089: %q", got)
	}
	if got := cfg("--get", "credential.https://code.corp.example.useHttpPath"); got != "true\n" {
		t.Errorf("useHttpPath: %q", got)
	}
	if got := cfg("--get", "user.name"); got != "A Person\n" {
		t.Errorf("user.name: %q", got)
	}
	if b, _ := os.ReadFile(path); !strings.HasPrefix(string(b), "# mine\n") {
		t.Errorf("comment lost:\n%s", b)
	}
	// git itself now resolves the helper list for a URL to ours alone.
	// git itself now resolves the helper list to ours alone: the last
	// helper it reads for each URL is ours, after store.
	for _, u := range []string{"https://git.corp.example/app.git", "http://127.0.0.1:8089/app.git"} {
		out, err := exec.Command("git", "config", "--file", path, "--get-urlmatch", "credential.helper", u).Output()
		if err != nil || strings.TrimSpace(string(out)) != helper {
			t.Errorf("urlmatch %s: %q, %v", u, out, err)
		}
	}

	p2, err := Git(ctx, e, profiles)
	if err != nil || p2.Changed() {
		t.Errorf("second run: changed %v, %v\n%s", p2 != nil && p2.Changed(), err, p2.Diff())
	}
}

func TestGitGlobalConfigPath(t *testing.T) {
	e := testEnv(t)
	env := map[string]string{}
	e.Getenv = func(k string) string { return env[k] }
	if got := GitGlobalConfigPath(e); got != filepath.Join(e.Home, ".gitconfig") {
		t.Errorf("nothing exists: %s", got)
	}
	xdg := filepath.Join(e.Home, ".config", "git", "config")
	os.MkdirAll(filepath.Dir(xdg), 0o700)
	os.WriteFile(xdg, nil, 0o600)
	if got := GitGlobalConfigPath(e); got != xdg {
		t.Errorf("only XDG: %s", got)
	}
	os.WriteFile(filepath.Join(e.Home, ".gitconfig"), nil, 0o600)
	if got := GitGlobalConfigPath(e); got != filepath.Join(e.Home, ".gitconfig") {
		t.Errorf("both: %s", got)
	}
	env["GIT_CONFIG_GLOBAL"] = "/x/y"
	if got := GitGlobalConfigPath(e); got != "/x/y" {
		t.Errorf("GIT_CONFIG_GLOBAL: %s", got)
	}
}
