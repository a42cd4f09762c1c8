//go:build linux

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/backends"
	"github.com/mayflyhq/mayfly/backends/keyring"
	"github.com/mayflyhq/mayfly/internal/auditlog"
	"github.com/mayflyhq/mayfly/internal/testpeers"
)

// The agent under load and under attack (issue 6), against panva's
// oidc-provider, which rotates the refresh token at every refresh and, when
// a rotated one comes back, revokes the whole grant: one refresh too many,
// or one rotated token lost, and the person must sign in again. The
// profile uses no DPoP, so its refresh tokens are plain bearer tokens that
// anyone holding a copy can replay.
//
// The counts are the acceptance's (`make stress`); MAYFLY_STRESS_ROTATIONS
// and MAYFLY_TORTURE_ROTATIONS lower them.

// opWorld is a world whose provider is oidc-provider, whose sessions live
// in the kernel keyring, and whose one profile serves the git server (for
// git and the JSON helper) and a registry host name (for the docker
// helper).
type opWorld struct {
	*world
	op       *testpeers.OIDCProvider
	registry string // a bare host the profile matches, for docker-credential-mayfly
	kr       *keyring.Store
	key      string // the session's store key, once a sign-in wrote it
}

// newOPWorld starts oidc-provider issuing access tokens for atTTL and a git
// server that introspects them, and writes the profile with refresh_margin.
func newOPWorld(t *testing.T, atTTL time.Duration, margin string) *opWorld {
	t.Helper()
	if err := keyring.Available(); err != nil {
		t.Skipf("kernel keyring: %v", err)
	}
	w := &opWorld{world: newBareWorld(t), registry: "registry.stress.example", kr: keyring.New("mayfly:")}
	if err := os.MkdirAll(filepath.Join(w.dir, "op"), 0o700); err != nil {
		t.Fatal(err)
	}
	w.op = startOIDCProvider(t, testpeers.OIDCProviderOptions{WorkDir: filepath.Join(w.dir, "op"), ATTTL: atTTL})
	w.issuer, w.approve = w.op.Issuer, w.op.ApproveDevice
	w.git = testpeers.StartGitServerWith(introspector{w.op}, filepath.Join(w.dir, "repos"))
	t.Cleanup(w.git.Close)
	if err := w.git.CreateRepo("app", "# app\n"); err != nil {
		t.Fatal(err)
	}
	// store: the kernel keyring, named, so that "auto" never picks another
	// store on a machine that has one, and the test can read the entry.
	w.writeConfig(fmt.Sprintf(`store = "kernel-keyring"

[agent]
idle_timeout = "10m"

[profiles.corp]
issuer = %q
client_id = %q
scopes = ["openid", "offline_access", "email"]
match = [%q, %q]
refresh_margin = %q
`, w.op.Issuer, testpeers.OIDCProviderClientID, w.git.URL+"/", w.registry, margin))
	w.mustRun("git", "config", "--global", "credential."+w.git.URL+".helper", "mayfly")
	// The kernel keyring outlives the test: drop this world's session
	// (after the agent stopped: cleanups run last-in first-out).
	t.Cleanup(func() {
		if w.key != "" {
			w.kr.Delete(context.Background(), w.key)
		}
	})
	t.Cleanup(w.stopAgent)
	return w
}

// login signs in with the device flow and remembers the session's store
// key.
func (w *opWorld) login() {
	w.t.Helper()
	w.loginDevice()
	if w.key != "" {
		return
	}
	ctx := context.Background()
	keys, err := w.kr.List(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "session/corp/") {
			continue
		}
		b, err := w.kr.Get(ctx, k)
		if err != nil {
			continue
		}
		var rec struct {
			Issuer string `json:"issuer"`
		}
		if json.Unmarshal(b, &rec) == nil && rec.Issuer == w.issuer {
			w.key = k
			return
		}
	}
	w.t.Fatalf("no session for %s in the kernel keyring after sign-in", w.issuer)
}

// stored reads the session's store entry: its refresh token, or found
// false if there is none. An entry that is not a whole record of this
// provider's session (a torn write) is an error.
func (w *opWorld) stored() (rt string, found bool, err error) {
	b, err := w.kr.Get(context.Background(), w.key)
	if errors.Is(err, backends.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	var rec struct {
		V            int    `json:"v"`
		Issuer       string `json:"issuer"`
		ClientID     string `json:"client_id"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return "", true, fmt.Errorf("the stored session does not parse (%d bytes): %w", len(b), err)
	}
	if rec.V != 1 || rec.Issuer != w.issuer || rec.ClientID != testpeers.OIDCProviderClientID || len(rec.RefreshToken) < 16 {
		return "", true, fmt.Errorf("the stored session is incomplete: v %d, issuer %q, client %q, refresh token of %d bytes",
			rec.V, rec.Issuer, rec.ClientID, len(rec.RefreshToken))
	}
	return rec.RefreshToken, true, nil
}

func (w *opWorld) stats() testpeers.OIDCStats {
	w.t.Helper()
	s, err := w.op.Stats(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

// The helper calls the tests spread their load over: git through real git,
// the git helper alone, the docker helper, the JSON (Bazel) helper.
const (
	callGitFill = iota
	callGitHelper
	callDocker
	callJSON
	callKinds
)

var callNames = [callKinds]string{"git credential fill", "git-credential-mayfly get", "docker-credential-mayfly get", "mayfly-credential get"}

// call is one helper run: what it printed, how it ended, the token it
// gave, and why it counts as failed ("" if it does not).
type call struct {
	kind           int
	token          string
	code           int
	stdout, stderr string
	took           time.Duration
	failed         string
}

// helperCall runs one helper of the given kind as its consumer would, and
// decides whether it succeeded: exit 0, nothing on stderr, stdout in the
// protocol's shape with a token in it.
func (w *opWorld) helperCall(ctx context.Context, kind int) call {
	host := strings.TrimPrefix(w.git.URL, "http://")
	var c *exec.Cmd
	var stdin string
	switch kind {
	case callGitFill:
		c, stdin = w.cmd(ctx, "git", "credential", "fill"), "url="+w.git.URL+"/app.git\n\n"
	case callGitHelper:
		c, stdin = w.cmd(ctx, "git-credential-mayfly", "get"), "protocol=http\nhost="+host+"\n\n"
	case callDocker:
		c, stdin = w.cmd(ctx, "docker-credential-mayfly", "get"), w.registry+"\n"
	case callJSON:
		c, stdin = w.cmd(ctx, "mayfly-credential", "get"), fmt.Sprintf(`{"uri":%q}`, w.git.URL+"/app.git")
	}
	var so, se bytes.Buffer
	c.Stdin, c.Stdout, c.Stderr = strings.NewReader(stdin), &so, &se
	start := time.Now()
	err := c.Run()
	r := call{kind: kind, stdout: so.String(), stderr: se.String(), took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		// The docker protocol puts its error text on stdout.
		r.failed = fmt.Sprintf("exit %d: %s", r.code, strings.TrimSpace(se.String()+so.String()))
		return r
	case err != nil:
		r.code = -1
		r.failed = err.Error()
		return r
	}
	switch kind {
	case callGitFill, callGitHelper:
		for line := range strings.Lines(so.String()) {
			if v, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "password="); ok {
				r.token = v
			}
		}
	case callDocker:
		var creds struct{ ServerURL, Username, Secret string }
		if err := json.Unmarshal(so.Bytes(), &creds); err == nil && creds.ServerURL == w.registry {
			r.token = creds.Secret
		}
	case callJSON:
		var out struct {
			Headers map[string][]string `json:"headers"`
		}
		if err := json.Unmarshal(so.Bytes(), &out); err == nil && len(out.Headers["Authorization"]) == 1 {
			r.token, _ = strings.CutPrefix(out.Headers["Authorization"][0], "Bearer ")
		}
	}
	switch {
	case len(r.token) < 16:
		r.failed = fmt.Sprintf("exit 0 without a token: stdout %d bytes", so.Len())
	case r.stderr != "":
		r.failed = "exit 0 with stderr: " + strings.TrimSpace(r.stderr)
	}
	return r
}

// envCount reads a positive count from the environment, else def.
func envCount(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive whole number", name, s)
	}
	return n
}

// TestStressConcurrentRotations: 1,000 helper calls, 50 at a time, spread
// over git, the git helper, the docker helper and the JSON helper, each
// burst starting the moment the access token has expired, so that every
// burst forces a rotation: no call fails, the provider never revokes the
// grant, and it sees exactly one refresh per rotation (each rotation is a
// new access token that the calls got).
func TestStressConcurrentRotations(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for tokens to expire")
	}
	const perWindow = 50 // calls at once: process start-up on two busy cores is the bottleneck
	rotations := envCount(t, "MAYFLY_STRESS_ROTATIONS", 20)
	// Five-second tokens, served until a second before they expire
	// (min(refresh_margin, lifetime/4)): a burst has four seconds to
	// finish on one token.
	w := newOPWorld(t, 5*time.Second, "1s")
	w.login()
	start := time.Now()
	before := w.stats()

	seen := map[string]int{} // token -> calls that got it
	var failed []call
	var took []time.Duration
	busy := 0 // bursts that outlasted their token (more than one new token)
	for win := range rotations {
		// Wait for the access token the agent holds to expire.
		if exp := w.status().AccessExpiry; !exp.IsZero() {
			time.Sleep(time.Until(exp) + 100*time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		calls := make([]call, perWindow)
		var wg sync.WaitGroup
		for i := range perWindow {
			wg.Go(func() { calls[i] = w.helperCall(ctx, (win*perWindow+i)%callKinds) })
		}
		wg.Wait()
		cancel()
		fresh := map[string]bool{}
		failedBefore := len(failed)
		for _, c := range calls {
			took = append(took, c.took)
			if c.failed != "" {
				failed = append(failed, c)
				continue
			}
			if seen[c.token] == 0 {
				fresh[c.token] = true
			}
			seen[c.token]++
		}
		if len(fresh) > 1 {
			busy++
		}
		if len(fresh) == 0 && len(failed) == failedBefore {
			t.Errorf("burst %d: every call got a token from before the burst", win)
		}
	}
	after := w.stats()
	wall := time.Since(start)

	refreshReqs := after.TokenRequests["refresh_token"] - before.TokenRequests["refresh_token"]
	refreshed := after.Refreshes - before.Refreshes
	revoked := after.GrantsRevoked - before.GrantsRevoked
	calls := rotations * perWindow
	slices.Sort(took)
	t.Logf("stress: %d calls (%d per burst, %d bursts), %d failed; %d rotations (new access tokens), %d refresh requests (%d answered 200), %d grants revoked; %d bursts outlasted their token; call time median %s, p99 %s, max %s; wall %s",
		calls, perWindow, rotations, len(failed), len(seen), refreshReqs, refreshed, revoked, busy,
		took[len(took)/2].Round(time.Millisecond), took[len(took)*99/100].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond),
		wall.Round(time.Second))
	for i, c := range failed {
		if i == 10 {
			t.Errorf("... and %d more failed calls", len(failed)-10)
			break
		}
		t.Errorf("%s failed: %s", callNames[c.kind], c.failed)
	}
	if len(failed) > 0 {
		// When the agent refreshed, and how it went: the audit log.
		var prev time.Time
		for _, e := range eventsOf(w.auditEvents(), auditlog.Refresh) {
			t.Logf("refresh at %s (%s after the one before): error %q", e.Time.Format("15:04:05.000"), e.Time.Sub(prev).Round(time.Millisecond), e.Error)
			prev = e.Time
		}
	}
	if revoked != 0 {
		t.Errorf("the provider revoked %d grants", revoked)
	}
	// Every token a call got after the first expiry came from one refresh,
	// and every refresh gave the calls a token.
	if refreshReqs != len(seen) || refreshed != refreshReqs {
		t.Errorf("%d refresh requests (%d answered 200) for %d rotations, want exactly one each", refreshReqs, refreshed, len(seen))
	}
	if len(seen) < rotations {
		t.Errorf("%d rotations, want at least %d", len(seen), rotations)
	}
	if !maps.Equal(after.TokenErrors, before.TokenErrors) {
		t.Errorf("token errors at the provider: %v (before: %v)", after.TokenErrors, before.TokenErrors)
	}
	// The tokens are real: git fetches through the helper from the git
	// server, which asks the provider about the token (introspection).
	w.mustRun("git", "ls-remote", "-q", w.git.URL+"/app.git")
	rt, _, err := w.stored()
	if err != nil {
		t.Fatal(err)
	}
	noSecretsAnywhere(t, w.world, append(slices.Collect(maps.Keys(seen)), rt))
}

func (w *opWorld) introspectActive(tok string) bool {
	w.t.Helper()
	m, err := w.op.Introspect(context.Background(), tok)
	if err != nil {
		w.t.Fatal(err)
	}
	active, _ := m["active"].(bool)
	return active
}
