package setup

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mayflyhq/mayfly/internal/config"
)

// testProfiles parses a configuration with profiles for tests.
func testProfiles(t *testing.T, body string) []*config.Profile {
	t.Helper()
	cfg, err := config.Parse("test.toml", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := Select(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

const twoProfiles = `
[profiles.corp]
issuer = "https://login.corp.example"
client_id = "mayfly"
match = ["https://git.corp.example/", "registry.corp.example:5000", "*.corp.example", "https://code.corp.example/team-a/"]

[profiles.local]
issuer = "http://127.0.0.1:5556/dex"
client_id = "dev"
match = ["http://127.0.0.1:8089/"]
`

// testEnv is a HOME and a folder of fake Mayfly binaries.
func testEnv(t *testing.T) Env {
	t.Helper()
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	bin := filepath.Join(dir, "bin")
	for _, d := range []string{home, bin} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range []string{"mayfly", "git-credential-mayfly", "docker-credential-mayfly", "kubectl-mayfly", "mayfly-credential", "cargo-credential-mayfly"} {
		if err := os.WriteFile(filepath.Join(bin, exeName(b)), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"HOME": home}
	return Env{Home: home, BinDir: bin, Getenv: func(k string) string { return env[k] }, Run: runCommand}
}

func TestTargets(t *testing.T) {
	got := targets(testProfiles(t, twoProfiles))
	want := []target{
		{profile: "corp", scheme: "https", host: "git.corp.example"},
		{profile: "corp", host: "registry.corp.example", port: "5000"},
		{profile: "corp", host: "*.corp.example", wildcard: true},
		{profile: "corp", scheme: "https", host: "code.corp.example", path: "/team-a"},
		{profile: "local", scheme: "http", host: "127.0.0.1", port: "8089"},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(target{})); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
	v6 := targets(testProfiles(t, `[profiles.x]
issuer = "https://i.example"
client_id = "c"
match = ["[::1]:5000/team/"]`))
	if len(v6) != 1 || v6[0].host != "[::1]" || v6[0].port != "5000" || v6[0].path != "/team" {
		t.Errorf("IPv6 target: %+v", v6)
	}
}

func TestPlanApply(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	// A new file is created 0600, with its folder 0700.
	p, err := readPlan("test", filepath.Join(dir, "sub", "new.json"))
	if err != nil {
		t.Fatal(err)
	}
	p.New = []byte("{}\n")
	if backup, err := p.Apply(now); err != nil || backup != "" {
		t.Fatalf("Apply new: %q, %v", backup, err)
	}
	assertMode(t, filepath.Join(dir, "sub", "new.json"), 0o600)
	assertMode(t, filepath.Join(dir, "sub"), 0o700|os.ModeDir)

	// An existing file keeps its mode and gets a backup of its old content.
	path := filepath.Join(dir, "old.conf")
	os.WriteFile(path, []byte("old\n"), 0o640)
	os.Chmod(path, 0o640)
	p, err = readPlan("test", path)
	if err != nil {
		t.Fatal(err)
	}
	if p.Changed() {
		t.Fatal("a plan just read is changed")
	}
	if backup, err := p.Apply(now); err != nil || backup != "" {
		t.Fatalf("Apply unchanged: %q, %v", backup, err)
	}
	p.New = []byte("new\n")
	backup, err := p.Apply(now)
	if err != nil {
		t.Fatal(err)
	}
	if want := path + ".mayfly-backup-20260102T030405Z"; backup != want {
		t.Errorf("backup %q, want %q", backup, want)
	}
	assertContent(t, backup, "old\n")
	assertContent(t, path, "new\n")
	assertMode(t, path, 0o640)
	assertMode(t, backup, 0o640)
	// A second change in the same second gets its own backup.
	p, _ = readPlan("test", path)
	p.New = []byte("newer\n")
	backup2, err := p.Apply(now)
	if err != nil || backup2 == backup {
		t.Fatalf("second backup %q (first %q): %v", backup2, backup, err)
	}
	assertContent(t, backup, "old\n")
	assertContent(t, backup2, "new\n")
	// No temporary file is left behind.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".mayfly-") && !strings.Contains(e.Name(), "backup") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode() & (os.ModePerm | os.ModeDir); got != want {
		t.Errorf("%s: mode %v, want %v", path, got, want)
	}
}

func assertContent(t *testing.T, path, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Errorf("%s: %q, want %q", path, b, want)
	}
}

func TestUnifiedDiff(t *testing.T) {
	got := UnifiedDiff("a", "b", "1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nfive\n6\n7\n8\n9\nten\n")
	want := `--- a
+++ b
@@ -2,8 +2,9 @@
 2
 3
 4
-5
+five
 6
 7
 8
 9
+ten
`
	if got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
	if d := UnifiedDiff("a", "b", "x\n", "x\n"); d != "" {
		t.Errorf("equal: %q", d)
	}
	if d := UnifiedDiff("/dev/null", "b", "", "x\n"); !strings.Contains(d, "@@ -0,0 +1 @@\n+x\n") {
		t.Errorf("new file: %q", d)
	}
	if d := UnifiedDiff("a", "b", "x", "y"); !strings.Contains(d, "-x\n\\ No newline at end of file\n+y\n\\ No newline at end of file\n") {
		t.Errorf("no newline: %q", d)
	}
}

// TestUnifiedDiffPatch checks random diffs with patch(1): applying the
// diff to the old text must give the new one.
func TestUnifiedDiffPatch(t *testing.T) {
	if _, err := exec.LookPath("patch"); err != nil {
		t.Skip("no patch")
	}
	r := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	for i := range 60 {
		var a []string
		for range r.IntN(30) {
			a = append(a, string(rune('a'+r.IntN(5)))+"\n")
		}
		b := append([]string(nil), a...)
		for range r.IntN(6) + 1 {
			switch k := r.IntN(3); {
			case k == 0 && len(b) > 0:
				j := r.IntN(len(b))
				b = append(b[:j], b[j+1:]...)
			case k == 1 && len(b) > 0:
				b[r.IntN(len(b))] = "changed\n"
			default:
				j := r.IntN(len(b) + 1)
				b = append(b[:j], append([]string{"new\n"}, b[j:]...)...)
			}
		}
		as, bs := strings.Join(a, ""), strings.Join(b, "")
		d := UnifiedDiff("old", "new", as, bs)
		if as == bs {
			continue
		}
		f := filepath.Join(dir, "f")
		os.WriteFile(f, []byte(as), 0o600)
		cmd := exec.Command("patch", "-s", f)
		cmd.Stdin = strings.NewReader(d)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("case %d: patch: %v %s\nold %q\nnew %q\ndiff:\n%s", i, err, out, as, bs, d)
		}
		if got, _ := os.ReadFile(f); string(got) != bs {
			t.Fatalf("case %d: patched %q, want %q\ndiff:\n%s", i, got, bs, d)
		}
	}
}

func TestMakeUnknown(t *testing.T) {
	if _, err := Make(context.Background(), "svn", testEnv(t), nil); err == nil {
		t.Error("unknown consumer accepted")
	}
}

func TestSelect(t *testing.T) {
	cfg, _ := config.Parse("c.toml", []byte(twoProfiles))
	if ps, err := Select(cfg, "local"); err != nil || len(ps) != 1 || ps[0].Name != "local" {
		t.Errorf("Select local: %v, %v", ps, err)
	}
	if _, err := Select(cfg, "nope"); err == nil || !strings.Contains(err.Error(), "corp, local") {
		t.Errorf("Select nope: %v", err)
	}
	empty, _ := config.Parse("e.toml", nil)
	if _, err := Select(empty, ""); err == nil {
		t.Error("Select with no profiles: no error")
	}
}

var testNow = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
