//go:build linux

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/backends/keyring"
)

// TestFirstPath is the main job: sign in with the device flow at a real
// provider, clone with real git, let the token expire, and have 50 parallel
// git processes (then 50 more, with the agent restarted under them) cause
// exactly one refresh each time, with rotation. No token ever reaches a
// file, a log, or any process's argv or environment.
func TestFirstPath(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a token to expire")
	}
	w := newWorld(t, worldOptions{ttl: time.Minute})
	url := w.git.URL + "/app.git"

	// Before signing in, git gets a clear pointer to what to do.
	r := w.run("", "git", "clone", "-q", url, "before")
	if r.code == 0 {
		t.Fatal("clone before signing in succeeded")
	}
	if !strings.Contains(r.stderr, "mayfly login --profile corp") {
		t.Errorf("clone before signing in: stderr does not say how to sign in:\n%s", r.stderr)
	}

	w.loginDevice()
	st := w.status()
	if !st.SignedIn || !st.RefreshToken || st.Subject == "" {
		t.Fatalf("after login: %+v", st)
	}
	if n := w.dex.Grants("urn:ietf:params:oauth:grant-type:device_code"); n < 1 {
		t.Fatalf("Dex saw %d device_code grants", n)
	}

	w.mustRun("git", "clone", "-q", url, "first")
	if b, err := os.ReadFile(filepath.Join(w.work, "first", "README.md")); err != nil || string(b) != "# app\n" {
		t.Fatalf("first clone: README.md = %q, %v", b, err)
	}
	f, err := w.fillFields()
	if err != nil {
		t.Fatal(err)
	}
	access1 := f["password"]
	if f["username"] != "oauth2" || access1 == "" {
		t.Fatalf("git credential fill: username %q, password set %v", f["username"], access1 != "")
	}
	// git must stop using the token before it expires: the expiry the
	// helper gives is brought forward by the margin (a quarter of Dex's
	// one minute here). git 2.39 drops password_expiry_utc from `git
	// credential fill` (it arrived in 2.41), so ask the helper directly.
	st = w.status()
	r = w.mustRunIn("protocol=http\nhost="+strings.TrimPrefix(w.git.URL, "http://")+"\n\n", "git-credential-mayfly", "get")
	fields := map[string]string{}
	for line := range strings.Lines(r.stdout) {
		if k, v, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "="); ok {
			fields[k] = v
		}
	}
	if fields["password"] != access1 {
		t.Errorf("the helper and git credential fill gave different tokens")
	}
	exp, err := strconv.ParseInt(fields["password_expiry_utc"], 10, 64)
	if err != nil {
		t.Fatalf("password_expiry_utc %q: %v", fields["password_expiry_utc"], err)
	}
	if ahead := st.AccessExpiry.Sub(time.Unix(exp, 0)); ahead < 10*time.Second || ahead > 20*time.Second {
		t.Errorf("password_expiry_utc is %s before the token's expiry, want about 15s", ahead)
	}
	refresh1 := refreshToken(t, w)
	secrets := []string{access1, refresh1}

	// Let the access token expire (Dex issues it for a minute), then ask
	// from 50 git processes at once: one refresh at the provider, rotated.
	st = w.status()
	if st.AccessExpiry.IsZero() || time.Until(st.AccessExpiry) > 2*time.Minute {
		t.Fatalf("access expiry %v", st.AccessExpiry)
	}
	t.Logf("waiting %s for the access token to expire", time.Until(st.AccessExpiry).Round(time.Second))
	time.Sleep(time.Until(st.AccessExpiry) + time.Second)

	before, rotBefore := w.dex.Grants("refresh_token"), w.dex.Rotations()
	access2 := fillMany(t, w, 50)
	if got := w.dex.Grants("refresh_token") - before; got != 1 {
		t.Errorf("50 concurrent fills on an expired token: %d refresh requests at the provider, want 1", got)
	}
	if w.dex.Rotations()-rotBefore < 1 {
		t.Errorf("the provider did not rotate the refresh token")
	}
	if access2 == access1 {
		t.Errorf("the expired access token was handed out again")
	}
	refresh2 := refreshToken(t, w)
	if refresh2 == refresh1 {
		t.Errorf("the rotated refresh token was not saved to the store")
	}
	secrets = append(secrets, access2, refresh2)
	w.mustRun("git", "clone", "-q", url, "second")
	if st := w.status(); st.Refreshes < 1 || st.LastRefresh.IsZero() {
		t.Errorf("status after refresh: %+v", st)
	}

	// Stop the agent and ask from 50 processes again: they race to start
	// it, one wins, it restores the session from the keyring and refreshes
	// once for all of them.
	w.mustRun("mayfly", "agent", "stop")
	before = w.dex.Grants("refresh_token")
	access3 := fillMany(t, w, 50)
	if got := w.dex.Grants("refresh_token") - before; got != 1 {
		t.Errorf("50 concurrent fills with no agent running: %d refresh requests, want 1", got)
	}
	refresh3 := refreshToken(t, w)
	secrets = append(secrets, access3, refresh3)
	w.mustRun("git", "clone", "-q", url, "third")
	accepted, _ := w.git.Stats()
	if accepted < 3 {
		t.Errorf("git server accepted %d authenticated requests", accepted)
	}

	noSecretsAnywhere(t, w, secrets)

	// Sign out: the session leaves the store, and git is back to "sign in".
	w.mustRun("mayfly", "logout")
	if st := w.status(); st.SignedIn {
		t.Errorf("still signed in after logout: %+v", st)
	}
	if k := sessionKeys(t, w); len(k) != 0 {
		t.Errorf("logout left %v in the keyring", k)
	}
	if r := w.run("", "git", "clone", "-q", url, "after"); r.code == 0 {
		t.Errorf("clone after logout succeeded")
	}
}

// fillMany runs n `git credential fill` at once and returns the one token
// they all got.
func fillMany(t *testing.T, w *world, n int) string {
	t.Helper()
	tokens := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { tokens[i], errs[i] = w.fill() })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("fill %d: %v", i, errs[i])
		}
		if tokens[i] != tokens[0] {
			t.Fatalf("fill %d got another token than fill 0", i)
		}
	}
	return tokens[0]
}

// sessionKeys lists this world's session entries in the kernel keyring
// (other tests' Dex instances have other issuers).
func sessionKeys(t *testing.T, w *world) map[string]string {
	t.Helper()
	ctx := context.Background()
	s := keyring.New("mayfly:")
	keys, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range keys {
		if !strings.HasPrefix(k, "session/") {
			continue
		}
		v, err := s.Get(ctx, k)
		if err != nil {
			continue
		}
		var rec struct {
			Issuer       string `json:"issuer"`
			RefreshToken string `json:"refresh_token"`
		}
		if json.Unmarshal(v, &rec) == nil && rec.Issuer == w.dex.Issuer {
			out[k] = rec.RefreshToken
		}
	}
	return out
}

func refreshToken(t *testing.T, w *world) string {
	t.Helper()
	keys := sessionKeys(t, w)
	if len(keys) != 1 {
		t.Fatalf("keyring holds %d sessions for this provider, want 1", len(keys))
	}
	for _, rt := range keys {
		if rt == "" {
			t.Fatal("empty refresh token in the store")
		}
		return rt
	}
	return ""
}

// noSecretsAnywhere greps every file of the world (HOME, XDG folders,
// TMPDIR, the agent's and Dex's logs, the repositories), the source tree,
// and every process's argv and environment for the tokens.
func noSecretsAnywhere(t *testing.T, w *world, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if len(s) < 16 {
			t.Fatalf("implausible secret %q", s)
		}
	}
	// A canary proves the grep can find what it looks for.
	canary := filepath.Join(w.dir, "tmp", "canary")
	if err := os.WriteFile(canary, []byte("x"+secrets[len(secrets)-1]+"x"), 0o600); err != nil {
		t.Fatal(err)
	}
	canaryFound := false
	check := func(where string, b []byte) {
		for i, s := range secrets {
			if !bytes.Contains(b, []byte(s)) {
				continue
			}
			if where == canary {
				canaryFound = true
				continue
			}
			t.Errorf("secret #%d found in %s", i, where)
		}
	}
	files := 0
	walk := func(root string, skip ...string) {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() {
				for _, s := range skip {
					if d.Name() == s {
						return filepath.SkipDir
					}
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			files++
			check(p, b)
			return nil
		})
	}
	walk(w.dir)
	os.Remove(canary)
	if !canaryFound {
		t.Fatal("the secret grep missed the canary")
	}
	if files < 5 || !fileExists(filepath.Join(w.dir, "state", "mayfly", "agent.log")) || (w.dex != nil && !fileExists(w.dex.LogPath)) {
		t.Errorf("secret grep saw only %d files; the agent or Dex log is missing", files)
	}
	if root, err := filepath.Abs(".."); err == nil {
		walk(root, ".git", ".cache", "bin")
	}
	check("the git server's log", []byte(strings.Join(w.git.Log(), "\n")))

	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		for _, f := range []string{"cmdline", "environ"} {
			if b, err := os.ReadFile(filepath.Join(p, f)); err == nil {
				check(p+"/"+f, b)
			}
		}
	}
}
