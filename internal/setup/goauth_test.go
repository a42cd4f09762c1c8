package setup

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestGoAuth(t *testing.T) {
	const ours = "/opt/mayfly/mayfly-credential goauth"
	for _, tc := range []struct{ current, want string }{
		{"", ours + "; netrc"},
		{"netrc", ours + "; netrc"},
		{"off", ours},
		{"git /src/ws", ours + "; git /src/ws"},
		{"netrc;/other/helper --x ; git /w", ours + "; netrc; /other/helper --x; git /w"},
		{ours + "; netrc", ours + "; netrc"},
		// An older installation's entry is replaced, not kept.
		{"/old/place/mayfly-credential goauth; netrc", ours + "; netrc"},
	} {
		if got := GoAuth(tc.current, ours); got != tc.want {
			t.Errorf("GoAuth(%q) = %q, want %q", tc.current, got, tc.want)
		}
		if again := GoAuth(tc.want, ours); again != tc.want {
			t.Errorf("GoAuth not idempotent on %q: %q", tc.want, again)
		}
	}
	if _, err := GoAuthCommand("/opt/my tools/mayfly-credential"); err == nil {
		t.Error("a path with a space accepted")
	}
}

// TestGoPlan runs the real `go env -w` on a private copy of an env file.
func TestGoPlan(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go")
	}
	e := testEnv(t)
	e.File = filepath.Join(e.Home, "goenv")
	os.WriteFile(e.File, []byte("GOPROXY=https://goproxy.corp.example,direct\n"), 0o644)
	ctx := context.Background()
	p, err := Go(ctx, e, nil)
	if err != nil {
		t.Fatal(err)
	}
	// go env -w keeps the file sorted.
	want := "GOAUTH=" + filepath.Join(e.BinDir, "mayfly-credential") + " goauth; netrc\nGOPROXY=https://goproxy.corp.example,direct\n"
	if string(p.New) != want {
		t.Errorf("env file %q, want %q", p.New, want)
	}
	if _, err := p.Apply(testNow); err != nil {
		t.Fatal(err)
	}
	assertMode(t, e.File, 0o644)
	p2, err := Go(ctx, e, nil)
	if err != nil || p2.Changed() {
		t.Errorf("second run: %v\n%s", err, p2.Diff())
	}
	// The go command reads the value back.
	cmd := exec.Command("go", "env", "GOAUTH")
	cmd.Env = append(os.Environ(), "GOENV="+e.File, "GOAUTH=")
	out, err := cmd.Output()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "mayfly-credential goauth; netrc") {
		t.Errorf("go env GOAUTH: %q, %v", out, err)
	}
}
