//go:build unix

package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mayflyhq/mayfly/agent/client"
	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/backends/memory"
	"github.com/mayflyhq/mayfly/internal/auditlog"
	"github.com/mayflyhq/mayfly/tokensource"
)

const workURL = "https://git.work.example/org/repo.git"

// storm asks for a token from n callers at once and returns their answers.
func (e *env) storm(n int, url string) ([]wire.Response, []error) {
	resps := make([]wire.Response, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { resps[i], errs[i] = e.token(url) })
	}
	wg.Wait()
	return resps, errs
}

// sameToken runs a storm of n callers for workURL and fails unless every
// caller succeeded with one and the same token, which it returns.
func sameToken(t *testing.T, storm func(int, string) ([]wire.Response, []error), n int) string {
	t.Helper()
	resps, errs := storm(n, workURL)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
	}
	tok := resps[0].Token
	for i, r := range resps {
		if r.Token != tok {
			t.Fatalf("caller %d got token %q, caller 0 got %q", i, r.Token, tok)
		}
	}
	return tok
}

func TestTokenSingleFlight(t *testing.T) {
	e := newEnv(t, "")
	seeded := e.seed("work")
	// A slow provider keeps the refresh in flight while all callers arrive.
	e.idp.set(func(f *fakeIdP) { f.delay = 100 * time.Millisecond })

	// A fresh agent holds no access token: 50 callers, one refresh.
	first := sameToken(t, e.storm, 50)
	if n := e.idp.refreshCount(); n != 1 {
		t.Fatalf("%d refresh grants for 50 callers of a fresh agent, want 1", n)
	}
	rec, ok := e.stored("work")
	if !ok {
		t.Fatal("no session in the store after the refresh")
	}
	if rec.RefreshToken == seeded || !e.idp.accepts(rec.RefreshToken) {
		t.Fatalf("store holds refresh token %q; want the rotated one the provider accepts", rec.RefreshToken)
	}
	if e.idp.accepts(seeded) {
		t.Fatal("the provider still accepts the seeded refresh token: it did not rotate")
	}
	want := record{V: 1, Issuer: e.idp.URL(), ClientID: "mayfly-test", RefreshToken: rec.RefreshToken, Subject: "ada@example.com"}
	if diff := cmp.Diff(want, rec, cmpopts.IgnoreFields(record{}, "Saved")); diff != "" {
		t.Errorf("stored record (-want +got):\n%s", diff)
	}

	// The access token expires: 50 callers, one more refresh, one new token.
	e.clock.Advance(5 * time.Minute)
	second := sameToken(t, e.storm, 50)
	if second == first {
		t.Fatalf("callers got the expired token %q again", first)
	}
	if n := e.idp.refreshCount(); n != 2 {
		t.Fatalf("%d refresh grants after the token expired, want 2", n)
	}
	rec2, _ := e.stored("work")
	if rec2.RefreshToken == rec.RefreshToken || !e.idp.accepts(rec2.RefreshToken) {
		t.Fatalf("store holds refresh token %q after the second refresh; want the newly rotated one", rec2.RefreshToken)
	}
}

func TestTokenCached(t *testing.T) {
	e := newEnv(t, "")
	e.seed("work")
	before := e.clock.Now()
	got := e.mustToken(workURL)
	// The default margin is 60 s, a quarter of the 5-minute lifetime at most.
	wantUntil := before.Add(5*time.Minute - 60*time.Second)
	if got.Expiry.Before(wantUntil.Add(-5*time.Second)) || got.Expiry.After(wantUntil.Add(5*time.Second)) {
		t.Errorf("expiry %v, want about %v (expiry minus the margin)", got.Expiry, wantUntil)
	}
	if got.Profile != "work" || got.Username != "oauth2" || !strings.HasPrefix(got.Token, "at-") {
		t.Errorf("got %+v, want profile work, username oauth2 and an access token", got)
	}
	e.clock.Advance(3 * time.Minute) // still within the margin
	if again := e.mustToken(workURL); again.Token != got.Token {
		t.Errorf("second call got %q, want the cached %q", again.Token, got.Token)
	}
	if n := e.idp.refreshCount(); n != 1 {
		t.Errorf("%d refresh grants, want 1", n)
	}
	// Inside the margin the token is no longer handed out.
	e.clock.Advance(90 * time.Second)
	if again := e.mustToken(workURL); again.Token == got.Token {
		t.Errorf("got the old token %q within the refresh margin", got.Token)
	}
}

func TestTokenNoRotation(t *testing.T) {
	e := newEnv(t, "")
	seeded := e.seed("work")
	e.idp.set(func(f *fakeIdP) { f.noRotate = true })
	e.mustToken(workURL)
	e.clock.Advance(5 * time.Minute)
	e.mustToken(workURL)
	if n := e.idp.refreshCount(); n != 2 {
		t.Errorf("%d refresh grants, want 2", n)
	}
	if rec, _ := e.stored("work"); rec.RefreshToken != seeded {
		t.Errorf("store holds %q, want the unrotated %q", rec.RefreshToken, seeded)
	}
}

func TestTokenProfilesAreSeparate(t *testing.T) {
	e := newEnv(t, "")
	e.seed("work")
	e.seed("home")
	work := e.mustToken(workURL)
	home := e.mustToken("registry.home.example")
	if home.Profile != "home" || home.Username != "home-user" {
		t.Errorf("docker-style target got profile %q user %q, want home and home-user", home.Profile, home.Username)
	}
	if home.Token == work.Token {
		t.Error("two profiles share a token")
	}
	byName, err := e.do(wire.Request{Op: wire.OpToken, Profile: "home"})
	if err != nil || byName.Token != home.Token {
		t.Errorf("token by profile name: %+v, %v; want %q", byName, err, home.Token)
	}
	if n := e.idp.refreshCount(); n != 2 {
		t.Errorf("%d refresh grants, want 2", n)
	}
}

// The provider rotates the refresh token as it answers; the agent must have
// the new one in the store before any caller gets the access token that came
// with it, or an agent dying in between would keep a dead refresh token.
func TestRotatedTokenSavedBeforeUse(t *testing.T) {
	e := newEnv(t, "")
	e.seed("work")
	saving := make(chan string, 1)
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	e.store.hooks(nil, func(key string, v []byte) error {
		var rec record
		json.Unmarshal(v, &rec)
		saving <- rec.RefreshToken
		<-release
		return nil
	})

	got := make(chan wire.Response, 1)
	go func() {
		resp, err := e.token(workURL)
		if err != nil {
			t.Errorf("token: %v", err)
		}
		got <- resp
	}()
	var rt string
	select {
	case rt = <-saving:
	case <-time.After(10 * time.Second):
		t.Fatal("the rotated refresh token was never saved")
	}
	if !e.idp.accepts(rt) {
		t.Fatalf("agent saves %q, which is not the provider's current refresh token", rt)
	}
	select {
	case r := <-got:
		t.Fatalf("token %q handed out while the rotated refresh token was still being saved", r.Token)
	case <-time.After(100 * time.Millisecond):
	}
	unblock()
	select {
	case r := <-got:
		if r.Token == "" {
			t.Fatal("no token after the save")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no answer after the save")
	}
	if rec, _ := e.stored("work"); rec.RefreshToken != rt {
		t.Errorf("store holds %q, want %q", rec.RefreshToken, rt)
	}
}

func TestStoreWriteFailure(t *testing.T) {
	e := newEnv(t, "")
	seeded := e.seed("work")
	e.store.hooks(nil, func(string, []byte) error { return errors.New("disk on fire") })
	first := e.mustToken(workURL) // served from memory all the same
	if rec, _ := e.stored("work"); rec.RefreshToken != seeded {
		t.Errorf("store holds %q, want the old %q after a failed write", rec.RefreshToken, seeded)
	}
	ps := profileStatus(t, e.status(), "work")
	if !strings.Contains(ps.Problem, "store write failed") || !strings.Contains(ps.Problem, "disk on fire") {
		t.Errorf("status problem %q, want it to report the failed store write", ps.Problem)
	}
	// The rotated token lives on in memory: the next refresh uses it.
	e.clock.Advance(5 * time.Minute)
	if second := e.mustToken(workURL); second.Token == first.Token {
		t.Error("no refresh after expiry")
	}
}

func TestInvalidGrant(t *testing.T) {
	e := newEnv(t, "")
	e.seed("work")
	e.idp.set(func(f *fakeIdP) {
		f.fail = "invalid_grant"
		f.delay = 50 * time.Millisecond
	})
	_, errs := e.storm(10, workURL)
	if n := e.idp.refreshCount(); n != 1 {
		t.Fatalf("%d refresh grants, want 1", n)
	}
	// Every caller, not only the one whose refresh was refused, learns
	// that the session was revoked and what to do.
	checkRevoked := func(who string, err error) {
		t.Helper()
		we := wireError(t, err)
		if we.Code != wire.CodeRevoked {
			t.Errorf("%s: code %q, want %q", who, we.Code, wire.CodeRevoked)
		}
		for _, want := range []string{"revoked by the provider", "invalid_grant", "sign in again", "run `mayfly login --profile work`"} {
			if !strings.Contains(we.Message, want) {
				t.Errorf("%s: message %q does not say %q", who, we.Message, want)
			}
		}
	}
	for i, err := range errs {
		checkRevoked(fmt.Sprintf("caller %d", i), err)
	}
	if rec, ok := e.stored("work"); ok {
		t.Errorf("the dead session is still stored: %+v", rec)
	}
	// Later callers are told the same, without bothering the provider.
	e.idp.set(func(f *fakeIdP) { f.fail = "" })
	_, err := e.token(workURL)
	checkRevoked("a later caller", err)
	if n := e.idp.refreshCount(); n != 1 {
		t.Errorf("%d refresh grants after the session ended, want still 1", n)
	}
	ps := profileStatus(t, e.status(), "work")
	if ps.SignedIn || ps.RefreshToken || !strings.Contains(ps.Problem, "revoked by the provider") {
		t.Errorf("status after the revocation: %+v, want signed out with the revocation as the problem", ps)
	}
	alerts := e.events(auditlog.Alert)
	if len(alerts) != 1 || alerts[0].Kind != auditlog.KindSessionRevoked || alerts[0].Profile != "work" || !strings.Contains(alerts[0].Reason, "invalid_grant") {
		t.Errorf("audit alerts %+v, want one session_revoked for work naming invalid_grant", alerts)
	}
	// Signing out ends the revoked state: now the profile is plainly
	// signed out.
	if _, err := e.do(wire.Request{Op: wire.OpLogout, Profile: "work"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.token(workURL); wireError(t, err).Code != wire.CodeLoginRequired {
		t.Errorf("after logout: %v, want %q", err, wire.CodeLoginRequired)
	}
}

func TestProviderError(t *testing.T) {
	e := newEnv(t, "")
	seeded := e.seed("work")
	e.idp.set(func(f *fakeIdP) { f.fail = "500" })
	for range 2 { // a failure is not cached: each call tries again
		_, err := e.token(workURL)
		we := wireError(t, err)
		if we.Code != wire.CodeProvider || !strings.Contains(we.Message, "500") {
			t.Errorf("got %q %q, want code %q naming the 500", we.Code, we.Message, wire.CodeProvider)
		}
		if strings.Contains(we.Message, "on fire") {
			t.Errorf("message %q echoes the provider's response body", we.Message)
		}
	}
	if n := e.idp.refreshCount(); n != 2 {
		t.Errorf("%d refresh grants, want 2", n)
	}
	if rec, ok := e.stored("work"); !ok || rec.RefreshToken != seeded {
		t.Fatalf("session after a provider failure: %+v, %v; want it kept", rec, ok)
	}
	if ps := profileStatus(t, e.status(), "work"); !ps.SignedIn || !strings.Contains(ps.Problem, "500") {
		t.Errorf("status: %+v, want signed in with the 500 as the problem", ps)
	}
	e.idp.set(func(f *fakeIdP) { f.fail = "" })
	e.mustToken(workURL)
	if ps := profileStatus(t, e.status(), "work"); ps.Problem != "" {
		t.Errorf("problem %q still reported after a good refresh", ps.Problem)
	}
}

func TestProviderUnreachable(t *testing.T) {
	e := newEnv(t, "")
	e.seed("work")
	e.idp.srv.Close() // discovery fails
	_, err := e.token(workURL)
	if we := wireError(t, err); we.Code != wire.CodeProvider || !strings.Contains(we.Message, "discovery") {
		t.Errorf("got %q %q, want a provider error about discovery", we.Code, we.Message)
	}
	if _, ok := e.stored("work"); !ok {
		t.Error("session dropped because the provider was unreachable")
	}
}

func TestNotSignedIn(t *testing.T) {
	e := newEnv(t, "")
	for _, req := range []wire.Request{
		{Op: wire.OpToken, URL: workURL},
		{Op: wire.OpToken, Profile: "work"},
	} {
		_, err := e.do(req)
		we := wireError(t, err)
		if we.Code != wire.CodeLoginRequired || !strings.Contains(we.Message, "mayfly login --profile work") {
			t.Errorf("%+v: got %q %q, want %q with a hint to sign in", req, we.Code, we.Message, wire.CodeLoginRequired)
		}
	}
	if n := e.idp.refreshCount(); n != 0 {
		t.Errorf("%d refresh grants without a session", n)
	}
}

func TestUnusableStoredSession(t *testing.T) {
	e := newEnv(t, "")
	key := sessionKey(e.profile("work"))
	for name, v := range map[string]string{
		"garbage":        "{not json",
		"other issuer":   `{"v":1,"issuer":"https://evil.example","client_id":"mayfly-test","refresh_token":"rt"}`,
		"other client":   fmt.Sprintf(`{"v":1,"issuer":%q,"client_id":"someone-else","refresh_token":"rt"}`, e.idp.URL()),
		"no token field": fmt.Sprintf(`{"v":1,"issuer":%q,"client_id":"mayfly-test"}`, e.idp.URL()),
	} {
		t.Run(name, func(t *testing.T) {
			e.agent.mu.Lock()
			delete(e.agent.sessions, "work") // forget what the last subtest loaded
			e.agent.mu.Unlock()
			e.store.Store.Set(context.Background(), key, []byte(v))
			_, err := e.token(workURL)
			if we := wireError(t, err); we.Code != wire.CodeLoginRequired {
				t.Errorf("code %q, want %q", we.Code, wire.CodeLoginRequired)
			}
		})
	}
	if n := e.idp.refreshCount(); n != 0 {
		t.Errorf("%d refresh grants: an unusable session was sent to the provider", n)
	}
}

func TestNoProfile(t *testing.T) {
	e := newEnv(t, "")
	e.seed("work")
	for _, req := range []wire.Request{
		{Op: wire.OpToken, URL: "https://github.com/org/repo.git"},
		{Op: wire.OpToken, URL: "https://git.work.example.evil.com/"},
		{Op: wire.OpToken, URL: "https://user@git.work.example/"},
		{Op: wire.OpToken, Profile: "nope"},
		{Op: wire.OpToken},
	} {
		_, err := e.do(req)
		if we := wireError(t, err); we.Code != wire.CodeNoProfile {
			t.Errorf("%+v: code %q (%s), want %q", req, we.Code, we.Message, wire.CodeNoProfile)
		}
	}
	if n := e.idp.refreshCount(); n != 0 {
		t.Errorf("%d refresh grants for unmatched requests", n)
	}
}

func TestErase(t *testing.T) {
	e := newEnv(t, "")
	e.seed("work")
	erase := func(token string) {
		t.Helper()
		resp, err := e.do(wire.Request{Op: wire.OpErase, URL: workURL, Token: token})
		if err != nil || resp.Profile != "work" {
			t.Fatalf("erase: %+v, %v", resp, err)
		}
	}
	t1 := e.mustToken(workURL).Token

	erase("at-someone-elses")
	erase("")
	if got := e.mustToken(workURL).Token; got != t1 {
		t.Fatalf("erase of another token dropped ours: got %q, want %q", got, t1)
	}
	if n := e.idp.refreshCount(); n != 1 {
		t.Fatalf("%d refresh grants, want 1", n)
	}

	erase(t1)
	t2 := e.mustToken(workURL).Token
	if t2 == t1 {
		t.Fatal("the erased token was handed out again")
	}
	if n := e.idp.refreshCount(); n != 2 {
		t.Fatalf("%d refresh grants after erase, want 2", n)
	}

	// A stale 401 for t1 arriving late must not throw away t2.
	erase(t1)
	if got := e.mustToken(workURL).Token; got != t2 {
		t.Fatalf("a stale erase dropped the fresh token: got %q, want %q", got, t2)
	}
	// Erase keeps the session.
	if _, ok := e.stored("work"); !ok {
		t.Error("erase dropped the stored session")
	}

	// A target no profile serves is none of our business.
	resp, err := e.do(wire.Request{Op: wire.OpErase, URL: "https://github.com/", Token: t2})
	if err != nil || resp.Profile != "" {
		t.Errorf("erase for an unmatched URL: %+v, %v; want an empty answer", resp, err)
	}
}

func TestStatus(t *testing.T) {
	e := newEnv(t, "")
	e.seed("work")
	st := e.status()
	if st.PID != os.Getpid() || st.Config != e.cfgPath || st.Socket != e.sock || st.Version == "" || st.Started.IsZero() {
		t.Errorf("status header: %+v", st)
	}
	if st.Store.Name != "memory" || st.Store.Protection == "" {
		t.Errorf("store: %+v", st.Store)
	}
	if len(st.Profiles) != 2 || st.Profiles[0].Name != "home" || st.Profiles[1].Name != "work" {
		t.Fatalf("profiles %+v, want home and work in order", st.Profiles)
	}
	want := wire.ProfileStatus{
		Name: "work", Issuer: e.idp.URL(), ClientID: "mayfly-test", Flow: "device",
		Match: []string{"https://git.work.example/"}, SignedIn: true, Subject: "ada@example.com", RefreshToken: true,
	}
	if diff := cmp.Diff(want, st.Profiles[1]); diff != "" {
		t.Errorf("work before any token (-want +got):\n%s", diff)
	}
	if home := st.Profiles[0]; home.SignedIn || home.RefreshToken || home.Problem != "" {
		t.Errorf("home: %+v, want signed out without a problem", home)
	}

	tok := e.mustToken(workURL)
	ps := profileStatus(t, e.status(), "work")
	if ps.Refreshes != 1 || ps.LastRefresh.IsZero() || !ps.AccessExpiry.After(tok.Expiry) {
		t.Errorf("work after a refresh: %+v", ps)
	}
	if n := e.idp.refreshCount(); n != 1 {
		t.Errorf("status caused refreshes: %d grants, want 1", n)
	}
}

func TestStoreReadError(t *testing.T) {
	e := newEnv(t, "")
	e.seed("work")
	// A store that fails to read (rather than find nothing) is reported,
	// and not taken for a signed-out profile.
	e.store.hooks(func(string, []byte) error { return errors.New("keychain locked") }, nil)
	ps := profileStatus(t, e.status(), "work")
	if !strings.Contains(ps.Problem, "keychain locked") {
		t.Errorf("problem %q, want the store's error", ps.Problem)
	}
	_, err := e.token(workURL)
	if we := wireError(t, err); we.Code != wire.CodeProvider || !strings.Contains(we.Message, "keychain locked") {
		t.Errorf("token with a failing store: %q %q", we.Code, we.Message)
	}
	// Unlocked: the session is there after all.
	e.store.hooks(nil, nil)
	e.mustToken(workURL)
}

func TestLogout(t *testing.T) {
	t.Run("revoked", func(t *testing.T) {
		e := newEnv(t, "")
		e.seed("work")
		at := e.mustToken(workURL).Token
		rec, _ := e.stored("work")
		resp, err := e.do(wire.Request{Op: wire.OpLogout, Profile: "work"})
		if err != nil {
			t.Fatal(err)
		}
		want := []wire.LogoutResult{{Profile: "work", Outcome: "revoked at the provider and forgotten locally"}}
		if diff := cmp.Diff(want, resp.Results); diff != "" {
			t.Errorf("results (-want +got):\n%s", diff)
		}
		wantRevoked := []string{"refresh_token:" + rec.RefreshToken, "access_token:" + at}
		if diff := cmp.Diff(wantRevoked, e.idp.revocations()); diff != "" {
			t.Errorf("revocations (-want +got):\n%s", diff)
		}
		if _, ok := e.stored("work"); ok {
			t.Error("session still stored after logout")
		}
		_, err = e.token(workURL)
		if we := wireError(t, err); we.Code != wire.CodeLoginRequired {
			t.Errorf("token after logout: code %q, want %q", we.Code, wire.CodeLoginRequired)
		}
	})
	t.Run("no revocation endpoint", func(t *testing.T) {
		e := newEnv(t, "")
		e.idp.set(func(f *fakeIdP) { f.revocation = false })
		e.seed("work")
		resp, err := e.do(wire.Request{Op: wire.OpLogout, Profile: "work"})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Results) != 1 || !strings.Contains(resp.Results[0].Outcome, "forgotten locally") ||
			!strings.Contains(resp.Results[0].Outcome, "no revocation endpoint") {
			t.Errorf("results %+v, want forgotten locally and the missing endpoint reported", resp.Results)
		}
		if len(e.idp.revocations()) != 0 {
			t.Error("revocation requests without a revocation endpoint")
		}
		if _, ok := e.stored("work"); ok {
			t.Error("session still stored after logout")
		}
	})
	t.Run("provider unreachable", func(t *testing.T) {
		e := newEnv(t, "")
		e.seed("work")
		e.idp.srv.Close()
		resp, err := e.do(wire.Request{Op: wire.OpLogout, Profile: "work"})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Results) != 1 || !strings.Contains(resp.Results[0].Outcome, "not revoked") {
			t.Errorf("results %+v, want forgotten locally but not revoked", resp.Results)
		}
		if _, ok := e.stored("work"); ok {
			t.Error("session still stored after logout")
		}
	})
	t.Run("revocation fails", func(t *testing.T) {
		e := newEnv(t, "")
		e.idp.set(func(f *fakeIdP) { f.revokeFail = true })
		e.seed("work")
		resp, err := e.do(wire.Request{Op: wire.OpLogout, Profile: "work"})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Results) != 1 || !strings.Contains(resp.Results[0].Outcome, "forgotten locally; revocation failed") ||
			!strings.Contains(resp.Results[0].Outcome, "503") {
			t.Errorf("results %+v, want forgotten locally and the failed revocation reported", resp.Results)
		}
		if _, ok := e.stored("work"); ok {
			t.Error("session still stored after logout")
		}
	})
	t.Run("all and not signed in", func(t *testing.T) {
		e := newEnv(t, "")
		e.seed("work")
		resp, err := e.do(wire.Request{Op: wire.OpLogout, All: true})
		if err != nil {
			t.Fatal(err)
		}
		want := []wire.LogoutResult{
			{Profile: "home", Outcome: "not signed in"},
			{Profile: "work", Outcome: "revoked at the provider and forgotten locally"},
		}
		if diff := cmp.Diff(want, resp.Results); diff != "" {
			t.Errorf("results (-want +got):\n%s", diff)
		}
	})
	t.Run("errors", func(t *testing.T) {
		e := newEnv(t, "")
		for req, code := range map[wire.Request]string{
			{Op: wire.OpLogout}:                  wire.CodeBadRequest, // two profiles, none named
			{Op: wire.OpLogout, Profile: "nope"}: wire.CodeNoProfile,
		} {
			_, err := e.do(req)
			if we := wireError(t, err); we.Code != code {
				t.Errorf("%+v: code %q, want %q", req, we.Code, code)
			}
		}
	})
	t.Run("the only profile", func(t *testing.T) {
		e := newEnv(t, singleProfile(""))
		e.seed("work")
		resp, err := e.do(wire.Request{Op: wire.OpLogout})
		if err != nil || len(resp.Results) != 1 || resp.Results[0].Profile != "work" {
			t.Errorf("logout without a name: %+v, %v", resp, err)
		}
	})
}

// singleProfile is a config with the one profile work, plus extra lines in
// its table.
func singleProfile(extra string) string {
	return `
[agent]
idle_timeout = "1h"

[profiles.work]
issuer = "{{ISSUER}}"
client_id = "mayfly-test"
match = ["https://git.work.example/"]
` + extra + "\n"
}

func TestConfigReload(t *testing.T) {
	e := newEnv(t, "")
	e.seed("work")
	const otherURL = "https://git.other.example/x.git"
	tok := e.mustToken(workURL).Token
	if _, err := e.token(otherURL); wireError(t, err).Code != wire.CodeNoProfile {
		t.Fatalf("before the edit: %v, want %s", err, wire.CodeNoProfile)
	}

	e.writeConfig(strings.Replace(defaultConfig, `match = ["https://git.work.example/"]`,
		`match = ["https://git.work.example/", "https://git.other.example/"]`, 1))
	resp := e.mustToken(otherURL)
	if resp.Profile != "work" || resp.Token != tok {
		t.Errorf("after the edit: %+v; want work's cached token %q", resp, tok)
	}

	e.writeConfig("store = [not toml")
	for _, req := range []wire.Request{{Op: wire.OpToken, URL: workURL}, {Op: wire.OpStatus}, {Op: wire.OpLogout, All: true}, {Op: wire.OpLogin}} {
		_, err := e.do(req)
		if we := wireError(t, err); we.Code != wire.CodeConfig || !strings.Contains(we.Message, e.cfgPath) {
			t.Errorf("%s with a broken config: %q %q, want %q naming the file", req.Op, we.Code, we.Message, wire.CodeConfig)
		}
	}

	// Fixed again: the session survived in memory.
	e.writeConfig(defaultConfig)
	if got := e.mustToken(workURL).Token; got != tok {
		t.Errorf("after the fix: token %q, want the cached %q", got, tok)
	}
	if n := e.idp.refreshCount(); n != 1 {
		t.Errorf("%d refresh grants, want 1", n)
	}

	// A new client ID is a new session: the old refresh token is not sent
	// to a client it was not issued to.
	e.writeConfig(strings.Replace(defaultConfig, `client_id = "mayfly-test"`, `client_id = "mayfly-new"`, 1))
	_, err := e.token(workURL)
	if we := wireError(t, err); we.Code != wire.CodeLoginRequired {
		t.Errorf("after a client change: %q %q, want %q", we.Code, we.Message, wire.CodeLoginRequired)
	}
	if n := e.idp.refreshCount(); n != 1 {
		t.Errorf("%d refresh grants after a client change, want 1", n)
	}

	// The file removed: no profiles, which is not an error.
	os.Remove(e.cfgPath)
	if _, err := e.token(workURL); wireError(t, err).Code != wire.CodeNoProfile {
		t.Errorf("without a config file: %v, want %s", err, wire.CodeNoProfile)
	}
}

func TestIDToken(t *testing.T) {
	e := newEnv(t, singleProfile(`token = "id_token"`))
	e.seed("work")
	_, err := e.token(workURL)
	if we := wireError(t, err); we.Code != wire.CodeProvider || !strings.Contains(we.Message, "id_token") {
		t.Errorf("without an ID token from the provider: %q %q", we.Code, we.Message)
	}
	// That refresh rotated the refresh token although no token could be
	// handed out: the next one must use the new refresh token, not replay
	// the old one (which the provider would answer with invalid_grant).

	e.idp.set(func(f *fakeIdP) { f.idToken = true })
	resp := e.mustToken(workURL)
	claims, err := tokensource.ParseClaims(resp.Token)
	if err != nil {
		t.Fatalf("handed-out token %q is not the ID token: %v", resp.Token, err)
	}
	if claims.Subject != "user-1" {
		t.Errorf("subject %q", claims.Subject)
	}
	if want := claims.Expiry.Add(-60 * time.Second); !resp.Expiry.Equal(want) {
		t.Errorf("expiry %v, want the ID token's minus the margin, %v", resp.Expiry, want)
	}
	if ps := profileStatus(t, e.status(), "work"); ps.Subject != "ada@example.com" {
		t.Errorf("status subject %q, want the email claim", ps.Subject)
	}
}

func TestProtocolErrors(t *testing.T) {
	e := newEnv(t, "")
	raw := func(line string) wire.Response {
		t.Helper()
		conn, err := net.Dial("unix", e.sock)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
		var resp wire.Response
		if err := wire.NewReader(conn).Read(&resp); err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, tc := range []struct{ line, code, msg string }{
		{`{"v":2,"op":"token"}` + "\n", wire.CodeBadRequest, "protocol 1"},
		{`{"v":1,"op":"dance"}` + "\n", wire.CodeBadRequest, `unknown op "dance"`},
		{"not json\n", wire.CodeBadRequest, "bad request"},
		{`{"v":1,"op":"ping"}`, wire.CodeBadRequest, "truncated"}, // no newline, then EOF
		{`{"v":1,"op":"token","config":"/elsewhere.toml"}` + "\n", wire.CodeConfig, "/elsewhere.toml"},
	} {
		t.Run(tc.line, func(t *testing.T) {
			if tc.line[len(tc.line)-1] != '\n' {
				// Half-close so the agent sees EOF after the line.
				conn, err := net.Dial("unix", e.sock)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				conn.Write([]byte(tc.line))
				conn.(*net.UnixConn).CloseWrite()
				var resp wire.Response
				if err := wire.NewReader(conn).Read(&resp); err != nil {
					t.Fatal(err)
				}
				checkErr(t, resp, tc.code, tc.msg)
				return
			}
			checkErr(t, raw(tc.line), tc.code, tc.msg)
		})
	}
	// Ping and stop work whatever config the client resolved.
	if resp := raw(`{"v":1,"op":"ping","config":"/elsewhere.toml"}` + "\n"); resp.Error != nil {
		t.Errorf("ping: %v", resp.Error)
	}
}

func checkErr(t *testing.T, resp wire.Response, code, msg string) {
	t.Helper()
	if resp.Error == nil {
		t.Fatalf("got %+v, want error %s", resp, code)
	}
	if resp.Error.Code != code || !strings.Contains(resp.Error.Message, msg) {
		t.Errorf("got %q %q, want %q containing %q", resp.Error.Code, resp.Error.Message, code, msg)
	}
}

func TestOversizedRequest(t *testing.T) {
	e := newEnv(t, "")
	conn, err := net.Dial("unix", e.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		// The agent stops reading at the limit and hangs up, so this
		// write may fail: that is fine.
		conn.Write([]byte(`{"v":1,"op":"token","url":"` + strings.Repeat("x", wire.MaxLine) + "\"}\n"))
	}()
	var resp wire.Response
	if err := wire.NewReader(conn).Read(&resp); err != nil {
		t.Fatalf("no answer to an oversized request: %v", err)
	}
	checkErr(t, resp, wire.CodeBadRequest, "longer than")
	conn.Close()
	<-wrote
	if _, err := e.do(wire.Request{Op: wire.OpPing}); err != nil {
		t.Errorf("agent unwell after an oversized request: %v", err)
	}
}

func TestConfigMismatch(t *testing.T) {
	e := newEnv(t, "")
	c := &client.Client{Socket: e.sock, Config: "/somewhere/else.toml"}
	_, err := c.Do(context.Background(), wire.Request{Op: wire.OpStatus})
	if we := wireError(t, err); we.Code != wire.CodeConfig || !strings.Contains(we.Message, "mayfly agent stop") {
		t.Errorf("got %q %q", we.Code, we.Message)
	}
}

func TestRefusedWithoutPeerCredentials(t *testing.T) {
	e := newEnv(t, "")
	// A pipe has no peer credentials, unlike the UNIX socket the agent
	// listens on: the agent must refuse rather than serve an unknown caller.
	srv, cl := net.Pipe()
	defer cl.Close()
	served := make(chan struct{})
	go func() {
		defer close(served)
		defer srv.Close()
		e.agent.serveConn(context.Background(), func() {}, srv)
	}()
	var resp wire.Response
	if err := wire.NewReader(cl).Read(&resp); err != nil {
		t.Fatal(err)
	}
	checkErr(t, resp, wire.CodeRefused, "cannot identify the caller")
	<-served
}

func TestStop(t *testing.T) {
	e := newEnv(t, "")
	if !e.client.Running(context.Background()) {
		t.Fatal("agent not running")
	}
	if _, err := e.do(wire.Request{Op: wire.OpStop, Config: "/any/config.toml"}); err != nil {
		t.Fatal(err)
	}
	if !e.stopped(10 * time.Second) {
		t.Fatal("agent still running after stop")
	}
	if e.served != nil {
		t.Errorf("Serve: %v", e.served)
	}
	if e.client.Running(context.Background()) {
		t.Error("socket still answers after stop")
	}
	if _, err := os.Stat(e.sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file left behind: %v", err)
	}
}

func TestIdleTimeout(t *testing.T) {
	e := newEnv(t, `
[agent]
idle_timeout = "1m"
`)
	if _, err := e.do(wire.Request{Op: wire.OpPing}); err != nil {
		t.Fatal(err)
	}
	if e.stopped(100 * time.Millisecond) {
		t.Fatal("agent exited at once")
	}
	e.clock.Advance(61 * time.Second)
	if !e.stopped(5 * time.Second) {
		t.Fatal("agent still running a minute after the last request")
	}
	if e.served != nil {
		t.Errorf("Serve after the idle timeout: %v", e.served)
	}
}

// A status request reading the store while a token request refreshes must
// not put the rotated-out refresh token back into the session: the next
// refresh would replay it and the provider would end the session.
func TestStatusDuringFirstRefresh(t *testing.T) {
	e := newEnv(t, "")
	e.seed("work")
	var once sync.Once
	statusRead := make(chan struct{})
	release := make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	// The first read of work's session (status's) returns only after the
	// token request has refreshed and saved the rotated token.
	workKey := sessionKey(e.profile("work"))
	e.store.hooks(func(key string, _ []byte) error {
		if key != workKey {
			return nil
		}
		first := false
		once.Do(func() { first = true })
		if first {
			close(statusRead)
			<-release
		}
		return nil
	}, nil)
	statusDone := make(chan struct{})
	go func() {
		defer close(statusDone)
		e.do(wire.Request{Op: wire.OpStatus})
	}()
	<-statusRead
	e.mustToken(workURL)
	unblock()
	<-statusDone

	e.clock.Advance(5 * time.Minute)
	if _, err := e.token(workURL); err != nil {
		t.Fatalf("refresh after a concurrent status: %v", err)
	}
	if _, ok := e.stored("work"); !ok {
		t.Fatal("session lost after a concurrent status")
	}
}

func TestNewDefaults(t *testing.T) {
	a := New(Options{Store: memory.New()})
	if a.opt.HTTP == nil || a.opt.HTTP.Timeout != 30*time.Second {
		t.Errorf("default HTTP client %+v, want one with a 30 s timeout", a.opt.HTTP)
	}
	if a.log == nil || a.now == nil || a.started.IsZero() {
		t.Error("defaults missing")
	}
	if got := a.idleTimeout(); got != 30*time.Minute { // no config file: the default
		t.Errorf("idle timeout %v, want 30m", got)
	}
	a.cancel()
}
