package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mayflyhq/mayfly/internal/testpeers"
)

// TestBadConfigRefused: a bad configuration is refused at load time, by the
// CLI and by the git helper alike, with the file, the key and the reason on
// one line, and git gets nothing on stdout.
func TestBadConfigRefused(t *testing.T) {
	w := newWorld(t, worldOptions{})
	good := func(extra string) string {
		return fmt.Sprintf(`[profiles.corp]
issuer = %q
client_id = %q
match = [%q]
%s`, w.dex.Issuer, testpeers.ClientID, w.git.URL+"/", extra)
	}
	cases := []struct {
		name, config string
		want         []string // in the message, besides the file name
	}{
		{"unknown key", good(`isuer = "https://login.example"` + "\n"), []string{"profiles.corp.isuer", "unknown key"}},
		{"client secret", good(`client_secret = "hunter2"` + "\n"), []string{"profiles.corp.client_secret", "public client"}},
		{"http issuer on a public address", `[profiles.corp]
issuer = "http://203.0.113.7/dex"
client_id = "mayfly"
match = ["https://git.corp.example/"]
`, []string{"profiles.corp.issuer", "loopback"}},
		{"no match", fmt.Sprintf(`[profiles.corp]
issuer = %q
client_id = "mayfly"
`, w.dex.Issuer), []string{"profiles.corp.match"}},
		{"bad flow", good(`flow = "implicit"` + "\n"), []string{"profiles.corp.flow", "implicit"}},
		{"bad match URL", fmt.Sprintf(`[profiles.corp]
issuer = %q
client_id = "mayfly"
match = ["https://git.corp.example/?x=1"]
`, w.dex.Issuer), []string{"profiles.corp.match"}},
		{"syntax", "[profiles.corp\n", []string{"TOML"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w.t = t
			w.stopAgent() // a fresh agent per case, whatever its reload timing
			w.writeConfig(tc.config)
			check := func(who string, r result) {
				t.Helper()
				if r.code != 1 {
					t.Errorf("%s: exit %d, want 1", who, r.code)
				}
				if r.stdout != "" {
					t.Errorf("%s wrote to stdout: %q", who, r.stdout)
				}
				msg := strings.TrimSuffix(r.stderr, "\n")
				if strings.Contains(msg, "\n") || msg == "" {
					t.Errorf("%s: want one line on stderr, got %q", who, r.stderr)
				}
				for _, want := range append([]string{w.cfgPath}, tc.want...) {
					if !strings.Contains(msg, want) {
						t.Errorf("%s: message does not name %q: %s", who, want, msg)
					}
				}
				if strings.Contains(msg, "hunter2") {
					t.Errorf("%s: the secret from the file is in the message: %s", who, msg)
				}
			}
			check("mayfly status", w.run("", "mayfly", "status"))
			check("git-credential-mayfly get", w.run("protocol=http\nhost="+strings.TrimPrefix(w.git.URL, "http://")+"\npath=app.git\n\n", "git-credential-mayfly", "get"))
		})
	}
	w.t = t
}
