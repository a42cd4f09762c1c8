package setup

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBazelScopes(t *testing.T) {
	scopes, notes := BazelScopes(testProfiles(t, twoProfiles))
	want := []string{"git.corp.example", "registry.corp.example", "*.corp.example", "code.corp.example", "127.0.0.1"}
	if diff := cmp.Diff(want, scopes); diff != "" {
		t.Errorf("scopes (-want +got):\n%s", diff)
	}
	if len(notes) != 3 {
		t.Errorf("notes: %q", notes)
	}
}

func TestBlock(t *testing.T) {
	lines := []string{"build --credential_helper=a.example=/b/mayfly-credential"}
	block := blockBegin + "\n" + lines[0] + "\n" + blockEnd + "\n"
	for _, tc := range []struct{ old, want string }{
		{"", block},
		{"build -c opt\n", "build -c opt\n\n" + block},
		{"build -c opt", "build -c opt\n\n" + block},
		{"build -c opt\n\n", "build -c opt\n\n" + block},
		// An old block is replaced in place; what follows is kept.
		{"a\n" + blockBegin + "\nbuild --credential_helper=old=/x\n" + blockEnd + "\nb\n", "a\n" + block + "b\n"},
		{"a\n" + blockBegin + "\n" + blockEnd, "a\n" + block},
	} {
		got := Block([]byte(tc.old), lines)
		if string(got) != tc.want {
			t.Errorf("Block(%q) = %q, want %q", tc.old, got, tc.want)
		}
		if again := Block(got, lines); string(again) != string(got) {
			t.Errorf("Block twice on %q: %q", tc.old, again)
		}
	}
}

func TestBazelPlan(t *testing.T) {
	e := testEnv(t)
	path := filepath.Join(e.Home, ".bazelrc")
	os.WriteFile(path, []byte("# mine\nbuild --jobs=4\n"), 0o644)
	p, err := Bazel(context.Background(), e, testProfiles(t, twoProfiles))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(e.BinDir, "mayfly-credential")
	want := "# mine\nbuild --jobs=4\n\n" + blockBegin + "\n" +
		"build --credential_helper=git.corp.example=" + bin + "\n" +
		"build --credential_helper=registry.corp.example=" + bin + "\n" +
		"build --credential_helper=*.corp.example=" + bin + "\n" +
		"build --credential_helper=code.corp.example=" + bin + "\n" +
		"build --credential_helper=127.0.0.1=" + bin + "\n" +
		blockEnd + "\n"
	if diff := cmp.Diff(want, string(p.New)); diff != "" {
		t.Errorf(".bazelrc (-want +got):\n%s", diff)
	}
	if _, err := p.Apply(testNow); err != nil {
		t.Fatal(err)
	}
	assertMode(t, path, 0o644)
	if p2, err := Bazel(context.Background(), e, testProfiles(t, twoProfiles)); err != nil || p2.Changed() {
		t.Errorf("second run: %v", err)
	}
	// --file writes another file.
	e.File = filepath.Join(e.Home, "ws", ".bazelrc")
	p3, err := Bazel(context.Background(), e, testProfiles(t, twoProfiles))
	if err != nil || p3.Path != e.File || !strings.HasPrefix(p3.Diff(), "--- /dev/null\n") {
		t.Errorf("--file: %v %s", err, p3.Path)
	}
}
