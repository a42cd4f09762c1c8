package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestDeps keeps the helper small and quick to start: git runs it on every
// fetch, so it talks to the agent and nothing else. HTTP, OAuth, TOML and
// Kubernetes belong in the agent; os/signal costs every start
// (bench/README.md, "Where the time goes").
func TestDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"net/http", "crypto/tls", "golang.org/x/oauth2", "github.com/BurntSushi/toml", "k8s.io/", "os/signal"} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") || (strings.HasSuffix(banned, "/") && strings.HasPrefix(dep, banned)) {
				t.Errorf("git-credential-mayfly links %s", dep)
			}
		}
	}
}

// TestHotPathCode keeps in the binary none of the code the hot path was
// freed of (bench/README.md, "Where the time goes"): encoding/json's
// reflection (the agent's answer is read by client.Ask) and, on UNIX, the
// net package (the client dials with system calls). The package is linked,
// for wire's other messages, but none of its decoding or encoding code.
func TestHotPathCode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the helper")
	}
	bin := filepath.Join(t.TempDir(), "helper")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Skipf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "tool", "nm", bin).Output()
	if err != nil {
		t.Skipf("go tool nm: %v", err)
	}
	banned := []string{"encoding/json.Unmarshal", "encoding/json.Marshal", "encoding/json.(*decodeState)", "encoding/json.(*encodeState)"}
	if runtime.GOOS != "windows" { // where go-winio's pipes are net.Conns
		banned = append(banned, "net.(*Dialer)", "net.(*conn)")
	}
	for _, b := range banned {
		for line := range strings.Lines(string(out)) {
			if f := strings.Fields(line); len(f) >= 3 && strings.HasPrefix(f[len(f)-1], b) {
				t.Errorf("git-credential-mayfly links %s", f[len(f)-1])
				break
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
