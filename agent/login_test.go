//go:build unix

package agent

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/agent/wire"
)

// login runs a sign-in and returns its events; onEvent, if set, sees each
// event as it arrives.
func (e *env) login(req wire.Request, onEvent func(wire.Response)) ([]wire.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req.Op = wire.OpLogin
	var events []wire.Response
	err := e.client.Stream(ctx, req, func(r wire.Response) error {
		events = append(events, r)
		if onEvent != nil {
			onEvent(r)
		}
		return nil
	})
	return events, err
}

func TestLoginDevice(t *testing.T) {
	e := newEnv(t, singleProfile(""))
	e.idp.set(func(f *fakeIdP) { f.idToken = true })
	events, err := e.login(wire.Request{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 {
		t.Fatalf("events %+v, want device then done", events)
	}
	dev, done := events[0], events[1]
	if dev.Event != wire.EventDevice || dev.UserCode != "ABCD-EFGH" || dev.VerificationURI != e.idp.URL()+"/verify" ||
		dev.VerificationURIComplete == "" || dev.CodeExpiry.IsZero() || dev.Profile != "work" {
		t.Errorf("device event %+v", dev)
	}
	if done.Event != wire.EventDone || done.Profile != "work" || done.Subject != "ada@example.com" || done.Note != "" || done.Expiry.IsZero() {
		t.Errorf("done event %+v", done)
	}
	rec, ok := e.stored("work")
	if !ok || !e.idp.accepts(rec.RefreshToken) || rec.Subject != "ada@example.com" {
		t.Fatalf("stored session %+v, %v; want the new refresh token and subject", rec, ok)
	}
	// The sign-in's access token is served without a refresh.
	e.mustToken(workURL)
	if n := e.idp.refreshCount(); n != 0 {
		t.Errorf("%d refresh grants right after a sign-in, want 0", n)
	}
}

func TestLoginBrowser(t *testing.T) {
	e := newEnv(t, singleProfile(""))
	browsed := make(chan error, 1)
	events, err := e.login(wire.Request{Profile: "work", Flow: "browser"}, func(r wire.Response) {
		if r.Event != wire.EventBrowser {
			return
		}
		// The user's browser: the provider approves and redirects to
		// the agent's loopback listener.
		go func() {
			resp, err := e.idp.srv.Client().Get(r.AuthURL)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Signed in") {
					err = fmt.Errorf("%s: %s", resp.Status, body)
				}
			}
			browsed <- err
		}()
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-browsed; err != nil {
		t.Fatalf("browser: %v", err)
	}
	if len(events) != 2 || events[0].Event != wire.EventBrowser || !strings.HasPrefix(events[0].AuthURL, e.idp.URL()+"/authorize?") ||
		events[1].Event != wire.EventDone {
		t.Fatalf("events %+v, want browser then done", events)
	}
	if _, ok := e.stored("work"); !ok {
		t.Fatal("no session stored after the sign-in")
	}
}

func TestLoginWithoutRefreshToken(t *testing.T) {
	e := newEnv(t, singleProfile(""))
	e.seed("work") // an older session, replaced by the sign-in
	e.idp.set(func(f *fakeIdP) { f.noRefresh = true })
	events, err := e.login(wire.Request{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if done := events[len(events)-1]; !strings.Contains(done.Note, "no refresh token") {
		t.Errorf("note %q, want a warning that the provider issued no refresh token", done.Note)
	}
	if _, ok := e.stored("work"); ok {
		t.Error("the older session is still stored")
	}
	at := e.mustToken(workURL).Token // the access token serves until it expires
	e.clock.Advance(5 * time.Minute)
	_, err = e.token(workURL)
	if we := wireError(t, err); we.Code != wire.CodeLoginRequired {
		t.Errorf("after %q expired: code %q, want %q", at, we.Code, wire.CodeLoginRequired)
	}
}

func TestLoginErrors(t *testing.T) {
	e := newEnv(t, "")
	for _, tc := range []struct {
		req  wire.Request
		code string
	}{
		{wire.Request{}, wire.CodeBadRequest}, // two profiles, none named
		{wire.Request{Profile: "nope"}, wire.CodeNoProfile},
		// A consumer's URL picks among several profiles (kubectl-mayfly
		// signing in for a cluster); one no profile serves is refused.
		{wire.Request{URL: "https://elsewhere.example/"}, wire.CodeNoProfile},
		{wire.Request{Profile: "work", Flow: "carrier-pigeon"}, wire.CodeBadRequest},
	} {
		_, err := e.login(tc.req, nil)
		if we := wireError(t, err); we.Code != tc.code {
			t.Errorf("%+v: code %q (%s), want %q", tc.req, we.Code, we.Message, tc.code)
		}
	}

	// The URL picked work: the flow is what it then refuses.
	_, err := e.login(wire.Request{URL: workURL, Flow: "carrier-pigeon"}, nil)
	if we := wireError(t, err); !strings.Contains(we.Message, "unknown flow") {
		t.Errorf("login by URL: %s", we.Message)
	}

	empty := newEnv(t, "# nothing yet\n")
	_, err = empty.login(wire.Request{}, nil)
	if we := wireError(t, err); we.Code != wire.CodeNoProfile {
		t.Errorf("without profiles: code %q, want %q", we.Code, wire.CodeNoProfile)
	}

	gone := newEnv(t, singleProfile(""))
	gone.idp.srv.Close()
	_, err = gone.login(wire.Request{}, nil)
	if we := wireError(t, err); we.Code != wire.CodeProvider {
		t.Errorf("provider down: code %q, want %q", we.Code, wire.CodeProvider)
	}
}

// Closing the connection cancels a sign-in that waits for the user.
func TestLoginCancelled(t *testing.T) {
	e := newEnv(t, singleProfile(""))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := e.client.Stream(ctx, wire.Request{Op: wire.OpLogin, Flow: "browser"}, func(r wire.Response) error {
		cancel() // the user pressed Ctrl-C instead of opening the URL
		return nil
	})
	if err == nil {
		t.Fatal("a cancelled sign-in succeeded")
	}
	// The agent notices and frees the sign-in: it no longer counts as one
	// in progress, so the idle timer may stop the agent again.
	deadline := time.Now().Add(5 * time.Second)
	for {
		e.agent.mu.Lock()
		n := e.agent.logins
		e.agent.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sign-ins still in progress after the client left", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
