package e2e

import (
	"bufio"
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
)

var authURLRE = regexp.MustCompile(`^\s+(http://\S+/auth\?\S+)\s*$`)

// TestBrowserFlow signs in with the authorization code grant and PKCE on a
// loopback redirect, the person's side played over HTTP against Dex's real
// login form, then clones with the token.
func TestBrowserFlow(t *testing.T) {
	w := newWorld(t, worldOptions{flow: "browser"})
	w.loginBrowserWith(func(ctx context.Context, u string) error {
		for _, want := range []string{"code_challenge_method=S256", "code_challenge=", "state=", "redirect_uri=http%3A%2F%2F127.0.0.1%3A"} {
			if !strings.Contains(u, want) {
				t.Errorf("authorization URL lacks %s: %s", want, u)
			}
		}
		return w.dex.BrowserSignIn(ctx, u)
	})
	if n := w.dex.Grants("authorization_code"); n != 1 {
		t.Errorf("Dex saw %d authorization_code grants, want 1", n)
	}
	if st := w.status(); !st.SignedIn || !st.RefreshToken {
		t.Fatalf("after browser login: %+v", st)
	}
	w.mustRun("git", "clone", "-q", w.git.URL+"/app.git", "app")

	// git hands the token back with "reject" when a server refuses it: the
	// agent drops it, and the next fill gets a refreshed one.
	tok, err := w.fill()
	if err != nil {
		t.Fatal(err)
	}
	before := w.dex.Grants("refresh_token")
	w.mustRunIn("url="+w.git.URL+"/app.git\nusername=someone-else\npassword=not-the-token\n\n", "git", "credential", "reject")
	if again, err := w.fill(); err != nil || again != tok {
		t.Errorf("rejecting another credential dropped the agent's token (%v)", err)
	}
	w.mustRunIn("url="+w.git.URL+"/app.git\nusername=oauth2\npassword="+tok+"\n\n", "git", "credential", "reject")
	fresh, err := w.fill()
	if err != nil {
		t.Fatal(err)
	}
	if fresh == tok {
		t.Errorf("git credential reject did not drop the token")
	}
	if n := w.dex.Grants("refresh_token") - before; n != 1 {
		t.Errorf("after reject: %d refresh grants, want 1", n)
	}
}

// loginBrowserWith runs `mayfly login --no-browser` (plus args) with the
// browser flow and has signIn play the person at the authorization URL it
// shows; signIn may also check the URL.
func (w *world) loginBrowserWith(signIn func(ctx context.Context, authURL string) error, args ...string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := w.cmd(ctx, "mayfly", append([]string{"login", "--no-browser"}, args...)...)
	var stdout bytes.Buffer
	c.Stdout = &stdout
	stderr, err := c.StderrPipe()
	if err != nil {
		w.t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		w.t.Fatal(err)
	}
	var shown strings.Builder
	signedIn := make(chan error, 1)
	urls := 0
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		shown.WriteString(sc.Text() + "\n")
		if m := authURLRE.FindStringSubmatch(sc.Text()); m != nil {
			urls++
			go func() { signedIn <- signIn(ctx, m[1]) }()
		}
	}
	if err := c.Wait(); err != nil {
		w.t.Fatalf("mayfly login: %v\n%s", err, shown.String())
	}
	if urls != 1 {
		w.t.Fatalf("mayfly login showed %d authorization URLs:\n%s", urls, shown.String())
	}
	if err := <-signedIn; err != nil {
		w.t.Fatal(err)
	}
	if stdout.Len() != 0 {
		w.t.Errorf("mayfly login wrote to stdout: %q", stdout.String())
	}
}
