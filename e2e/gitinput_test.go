//go:build linux

package e2e

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMalformedGitInput feeds git-credential-mayfly what git never sends.
// Each gets one line on stderr, nothing on stdout (git would use it), exit
// 1, no panic, and neither starts the agent nor writes to the store.
func TestMalformedGitInput(t *testing.T) {
	w := newWorld(t, worldOptions{})
	host := strings.TrimPrefix(w.git.URL, "http://")
	keysBefore := sessionKeys(t, w)
	sock := filepath.Join(w.dir, "run", "mayfly", "agent.sock")

	bad := map[string]string{
		"garbage":           "this is not a credential\n\n",
		"binary":            "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe",
		"NUL in a value":    "protocol=https\nhost=git.corp\x00.example\n\n",
		"1 MiB line":        "protocol=https\nhost=" + strings.Repeat("a", 1<<20) + "\n\n",
		"no protocol":       "host=" + host + "\n\n",
		"no host":           "protocol=http\npath=app.git\n\n",
		"empty":             "",
		"only a blank line": "\n",
		"key without value": "protocol\nhost=" + host + "\n\n",
	}
	for name, in := range bad {
		for _, action := range []string{"get", "store", "erase"} {
			r := w.run(in, "git-credential-mayfly", action)
			if r.code != 1 {
				t.Errorf("%s, %s: exit %d, want 1", name, action, r.code)
			}
			if r.stdout != "" {
				t.Errorf("%s, %s: stdout %q, want nothing", name, action, r.stdout)
			}
			msg := strings.TrimSuffix(r.stderr, "\n")
			if msg == "" || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "mayfly: ") {
				t.Errorf("%s, %s: want one \"mayfly: \" line on stderr, got %q", name, action, r.stderr)
			}
			if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine") {
				t.Errorf("%s, %s: %s", name, action, r.stderr)
			}
			if len(msg) > 300 {
				t.Errorf("%s, %s: a %d-byte error line", name, action, len(msg))
			}
		}
	}
	if _, err := os.Stat(sock); err == nil {
		t.Errorf("malformed input started the agent")
	}
	if after := sessionKeys(t, w); !maps.Equal(keysBefore, after) {
		t.Errorf("malformed input changed the store: %v -> %v", keysBefore, after)
	}

	// What gitcredentials(7) allows is not malformed: git reads until a
	// blank line or EOF and ignores attributes it does not know, and so do
	// we. For a host no profile serves the answer is empty (git then tries
	// its next helper) and the agent holds no session for it.
	for name, in := range map[string]string{
		"EOF without blank line": "protocol=https\nhost=elsewhere.example\n",
		"unknown attributes":     "protocol=https\nhost=elsewhere.example\nx-future=1\nwwwauth[]=Bearer realm=\"x\"\n\n",
		// Git refuses only newlines and NULs in values (CVE-2020-5260).
		"control characters": "protocol=https\nhost=git\x1b[31m.example\n\n",
	} {
		r := w.run(in, "git-credential-mayfly", "get")
		if r.code != 0 || r.stdout != "" || r.stderr != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want a silent empty answer", name, r.code, r.stdout, r.stderr)
		}
	}
	// An action git does not know yet is ignored silently (gitcredentials(7)).
	if r := w.run("protocol=https\nhost=x\n\n", "git-credential-mayfly", "frobnicate"); r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("unknown action: %+v", r)
	}
}
