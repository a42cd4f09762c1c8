package setup

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestClaudeSettings(t *testing.T) {
	old := `{
  "model": "opus",
  "permissions": {"allow": ["Bash(git diff:*)"], "deny": []},
  "env": {"ANTHROPIC_API_KEY": "placeholder", "FOO": "1"},
  "apiKeyHelper": "~/bin/get-key.sh"
}
`
	cmd := ClaudeCommand("/opt/mayfly/mayfly", "anthropic")
	got, notes, err := ClaudeSettings([]byte(old), cmd)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "model": "opus",
  "permissions": {
    "allow": [
      "Bash(git diff:*)"
    ],
    "deny": []
  },
  "env": {
    "ANTHROPIC_API_KEY": "placeholder",
    "FOO": "1"
  },
  "apiKeyHelper": "/opt/mayfly/mayfly token --profile anthropic"
}
`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}
	if len(notes) != 2 || !strings.Contains(notes[0], "get-key.sh") || !strings.Contains(notes[1], "env.ANTHROPIC_API_KEY") {
		t.Errorf("notes: %q", notes)
	}
	if again, _, _ := ClaudeSettings(got, cmd); string(again) != string(got) {
		t.Errorf("second run changed the file:\n%s", again)
	}
	if got := ClaudeCommand("/Applications/My Tools/mayfly", "a"); got != "'/Applications/My Tools/mayfly' token --profile a" {
		t.Errorf("quoted: %s", got)
	}
}

func TestClaudePlan(t *testing.T) {
	e := testEnv(t)
	ctx := context.Background()
	if _, err := Claude(ctx, e, testProfiles(t, twoProfiles)); err == nil || !strings.Contains(err.Error(), "--profile") {
		t.Errorf("two profiles: %v", err)
	}
	ps := testProfiles(t, twoProfiles)[:1]
	p, err := Claude(ctx, e, ps)
	if err != nil {
		t.Fatal(err)
	}
	if p.Path != filepath.Join(e.Home, ".claude", "settings.json") || p.Exists {
		t.Errorf("path %s", p.Path)
	}
	if _, err := p.Apply(testNow); err != nil {
		t.Fatal(err)
	}
	assertMode(t, p.Path, 0o600)
	b, _ := os.ReadFile(p.Path)
	if want := "{\n  \"apiKeyHelper\": \"" + filepath.Join(e.BinDir, "mayfly") + " token --profile corp\"\n}\n"; string(b) != want {
		t.Errorf("settings %q, want %q", b, want)
	}
	if p2, err := Claude(ctx, e, ps); err != nil || p2.Changed() {
		t.Errorf("second run: %v", err)
	}
}
