package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps the helper small and quick to start: git runs it on every
// fetch, so it talks to the agent and nothing else. HTTP, OAuth, TOML and
// Kubernetes belong in the agent.
func TestDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"net/http", "crypto/tls", "golang.org/x/oauth2", "github.com/BurntSushi/toml", "k8s.io/"} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") || (strings.HasSuffix(banned, "/") && strings.HasPrefix(dep, banned)) {
				t.Errorf("git-credential-mayfly links %s", dep)
			}
		}
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"--profile"}, 2},
		{[]string{"--nope", "get"}, 2},
		{[]string{"capability"}, 0},
		{[]string{"future-action"}, 0},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, strings.NewReader(""), &stdout, &stderr)
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d (stderr %q)", tc.args, code, tc.code, stderr.String())
		}
		if code != 0 && (stdout.Len() != 0 || stderr.Len() == 0) {
			t.Errorf("%q: stdout %q stderr %q", tc.args, stdout.String(), stderr.String())
		}
	}
}

// TestHelp: --help prints the usage and the wiring on stdout and exits 0,
// without reaching the agent (none listens, autostart is off).
func TestHelp(t *testing.T) {
	t.Setenv("MAYFLY_AGENT_SOCKET", t.TempDir()+"/none.sock")
	t.Setenv("MAYFLY_NO_AUTOSTART", "1")
	for _, args := range [][]string{{"--help"}, {"-h"}, {"--profile", "corp", "--help"}} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
		if code != 0 || stderr.Len() != 0 {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr.String())
		}
		for _, want := range []string{"usage: git-credential-mayfly ", "credential.https://git.corp.example.helper mayfly"} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("%q: stdout lacks %q:\n%s", args, want, stdout.String())
			}
		}
	}
}
