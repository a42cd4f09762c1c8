//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mayflyhq/mayfly/backends/secretservice"
	"github.com/mayflyhq/mayfly/internal/testpeers"
)

// TestFirstPathSecretService runs the first path with the refresh token in
// a real gnome-keyring on a private D-Bus: sign in, clone, a refresh with
// rotation (forced by git rejecting the token), clone again; secret-tool
// sees Mayfly's item, and no token is on disk, in gnome-keyring's own
// files included.
func TestFirstPathSecretService(t *testing.T) {
	w := newWorld(t, worldOptions{})
	kdir := filepath.Join(w.dir, "keyring")
	if err := os.Mkdir(kdir, 0o700); err != nil {
		t.Fatal(err)
	}
	addr, stop, err := testpeers.StartSecretService(context.Background(), kdir)
	if errors.Is(err, exec.ErrNotFound) && !requirePeers() {
		t.Skipf("no gnome-keyring or dbus-daemon: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	w.env = append(w.env, "DBUS_SESSION_BUS_ADDRESS="+addr)
	w.writeConfig(`store = "secret-service"` + "\n" + mustRead(t, w.cfgPath))

	w.loginDevice()
	st := w.mustRun("mayfly", "status", "--json")
	if !strings.Contains(st.stdout, `"name": "secret-service"`) {
		t.Fatalf("the agent does not use the Secret Service:\n%s", st.stdout)
	}
	url := w.git.URL + "/app.git"
	w.mustRun("git", "clone", "-q", url, "first")
	access1, err := w.fill()
	if err != nil {
		t.Fatal(err)
	}
	ss := secretservice.New(secretservice.Options{Address: addr})
	refresh1 := ssRefreshToken(t, w, ss)

	before := w.dex.Grants("refresh_token")
	w.mustRunIn("url="+url+"\nusername=oauth2\npassword="+access1+"\n\n", "git", "credential", "reject")
	w.mustRun("git", "clone", "-q", url, "second")
	if n := w.dex.Grants("refresh_token") - before; n != 1 {
		t.Errorf("%d refresh grants after reject, want 1", n)
	}
	access2, err := w.fill()
	if err != nil {
		t.Fatal(err)
	}
	refresh2 := ssRefreshToken(t, w, ss)
	if refresh2 == refresh1 {
		t.Errorf("the rotated refresh token was not written to the Secret Service")
	}

	search := w.mustRun("secret-tool", "search", "--all", "application", "mayfly")
	if !strings.Contains(search.stdout+search.stderr, "mayfly-key = session/corp/") {
		t.Errorf("secret-tool search does not show Mayfly's item:\n%s%s", search.stdout, search.stderr)
	}
	noSecretsAnywhere(t, w, []string{access1, access2, refresh1, refresh2})
	if keys := sessionKeys(t, w); len(keys) != 0 {
		t.Errorf("the kernel keyring holds %d sessions although the store is the Secret Service", len(keys))
	}
	w.mustRun("mayfly", "logout")
	if keys, _ := ss.List(context.Background()); len(keys) != 0 {
		t.Errorf("logout left %v in the Secret Service", keys)
	}
}

func ssRefreshToken(t *testing.T, w *world, ss *secretservice.Store) string {
	t.Helper()
	ctx := context.Background()
	keys, err := ss.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "session/corp/") {
			continue
		}
		v, err := ss.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			Issuer       string `json:"issuer"`
			RefreshToken string `json:"refresh_token"`
		}
		if json.Unmarshal(v, &rec) == nil && rec.Issuer == w.dex.Issuer && rec.RefreshToken != "" {
			return rec.RefreshToken
		}
	}
	t.Fatalf("no session for %s in the Secret Service (keys %v)", w.dex.Issuer, keys)
	return ""
}

// TestStoreSelectionWithoutDBus: on a machine with no D-Bus session,
// doctor reports the Secret Service as unavailable with the reason and
// picks the kernel keyring; a profile that insists on the Secret Service
// cannot sign in, and is told why instead of falling back to a file.
func TestStoreSelectionWithoutDBus(t *testing.T) {
	w := newWorld(t, worldOptions{})
	r := w.run("", "mayfly", "doctor", "--json")
	var doc struct {
		Stores []struct {
			Name      string `json:"name"`
			Available bool   `json:"available"`
			Reason    string `json:"reason"`
		} `json:"stores"`
		Chosen string `json:"chosen"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("mayfly doctor --json: %v\n%s%s", err, r.stdout, r.stderr)
	}
	if doc.Chosen != "kernel-keyring" {
		t.Errorf("doctor picks %q, want kernel-keyring", doc.Chosen)
	}
	found := false
	for _, s := range doc.Stores {
		if s.Name == "secret-service" {
			found = true
			if s.Available || !strings.Contains(s.Reason, "DBUS_SESSION_BUS_ADDRESS") {
				t.Errorf("secret-service: available %v, reason %q", s.Available, s.Reason)
			}
		}
	}
	if !found {
		t.Errorf("doctor does not list the Secret Service: %s", r.stdout)
	}
	human := w.run("", "mayfly", "doctor")
	if !strings.Contains(human.stdout, "kernel-keyring") || !strings.Contains(human.stdout, "secret-service") {
		t.Errorf("mayfly doctor:\n%s", human.stdout)
	}

	w.writeConfig(`store = "secret-service"` + "\n" + mustRead(t, w.cfgPath))
	w.stopAgent()
	login := w.run("", "mayfly", "login", "--no-browser")
	if login.code == 0 || !strings.Contains(login.stderr, "secret-service") || !strings.Contains(login.stderr, "D-Bus") {
		t.Errorf("login with an unusable store: exit %d, stderr %q", login.code, login.stderr)
	}
	if strings.Contains(login.stderr, "To sign in") {
		t.Errorf("login started a sign-in although the token could not be kept")
	}
	if d := w.run("", "mayfly", "doctor"); d.code == 0 {
		t.Errorf("doctor exits 0 with an unusable configured store:\n%s", d.stdout)
	}
}

func requirePeers() bool { return os.Getenv("MAYFLY_REQUIRE_PEERS") == "1" }
