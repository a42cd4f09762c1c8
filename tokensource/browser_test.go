package tokensource_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/mayflyhq/mayfly/tokensource"
)

// browser plays the user's browser: it follows the provider's redirect to
// the loopback callback and reads the page it lands on. Like a real browser
// it keeps connections alive between requests.
type browser struct{ hc *http.Client }

func newBrowser(t *testing.T) *browser {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	// The timeout turns a callback that never answers into a failure
	// rather than a hung test.
	return &browser{&http.Client{Transport: tr, Timeout: 5 * time.Second}}
}

type landing struct {
	status int
	body   string
	url    *url.URL
	header http.Header
}

func (b *browser) open(t *testing.T, rawURL string) landing {
	t.Helper()
	resp, err := b.hc.Get(rawURL)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return landing{resp.StatusCode, string(body), resp.Request.URL, resp.Header}
}

type outcome struct {
	tok *oauth2.Token
	err error
}

// wait runs Wait in the background, since the callback page only answers
// once Wait has exchanged the code.
func wait(ctx context.Context, b *tokensource.BrowserLogin) <-chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		tok, err := b.Wait(ctx)
		ch <- outcome{tok, err}
	}()
	return ch
}

func startBrowser(t *testing.T, c *tokensource.Client) *tokensource.BrowserLogin {
	t.Helper()
	b, err := c.StartBrowser(t.Context())
	if err != nil {
		t.Fatalf("StartBrowser: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// callbackURL is the redirect URI with query q, as a provider would send.
func callbackURL(t *testing.T, b *tokensource.BrowserLogin, q url.Values) string {
	t.Helper()
	au, err := url.Parse(b.AuthURL())
	if err != nil {
		t.Fatal(err)
	}
	return au.Query().Get("redirect_uri") + "?" + q.Encode()
}

func stateOf(t *testing.T, b *tokensource.BrowserLogin) string {
	t.Helper()
	au, err := url.Parse(b.AuthURL())
	if err != nil {
		t.Fatal(err)
	}
	return au.Query().Get("state")
}

func TestBrowserSignIn(t *testing.T) {
	f := newFake(t)
	c := f.client(t)
	b := startBrowser(t, c)

	au, err := url.Parse(b.AuthURL())
	if err != nil {
		t.Fatalf("AuthURL %q: %v", b.AuthURL(), err)
	}
	q := au.Query()
	if got := au.Scheme + "://" + au.Host + au.Path; got != f.base+"/authorize" {
		t.Errorf("AuthURL goes to %q", got)
	}
	b64 := regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`) // 32 random bytes, or a SHA-256
	for k, want := range map[string]*regexp.Regexp{
		"response_type":         regexp.MustCompile(`^code$`),
		"client_id":             regexp.MustCompile(`^` + clientID + `$`),
		"scope":                 regexp.MustCompile(`^openid offline_access$`),
		"redirect_uri":          regexp.MustCompile(`^http://127\.0\.0\.1:[0-9]+/callback$`), // RFC 8252 §7.3
		"state":                 b64,
		"code_challenge":        b64,
		"code_challenge_method": regexp.MustCompile(`^S256$`),
	} {
		if got := q.Get(k); !want.MatchString(got) {
			t.Errorf("AuthURL %s = %q, want it to match %s", k, got, want)
		}
	}

	done := wait(t.Context(), b)
	br := newBrowser(t)
	page := br.open(t, b.AuthURL())
	o := <-done

	if o.err != nil {
		t.Fatalf("Wait: %v", o.err)
	}
	if !o.tok.Valid() || o.tok.RefreshToken == "" {
		t.Errorf("Wait = %+v, want a valid token with a refresh token", o.tok)
	}
	if _, _, err := c.IDToken(o.tok); err != nil {
		t.Errorf("IDToken: %v", err)
	}
	if page.url.Path != "/callback" || page.status != http.StatusOK || !strings.Contains(page.body, "Signed in.") {
		t.Errorf("the browser landed on %s with %d %q, want the callback saying it is signed in", page.url, page.status, page.body)
	}
	if got := page.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("callback page Cache-Control = %q", got)
	}

	// The exchange: RFC 6749 §4.1.3 plus the RFC 7636 §4.5 verifier, which
	// the fake checked against the challenge.
	if len(f.forms) != 1 {
		t.Fatalf("%d token requests, want 1", len(f.forms))
	}
	form := f.forms[0]
	if form.Get("grant_type") != "authorization_code" || form.Get("redirect_uri") != q.Get("redirect_uri") {
		t.Errorf("exchange form = %v", form)
	}
	if v := form.Get("code_verifier"); !regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`).MatchString(v) { // RFC 7636 §4.1
		t.Errorf("code_verifier = %q", v)
	}

	// A reload of the callback tab (the browser keeps the connection
	// alive) must get a page at once, not hang.
	again := br.open(t, page.url.String())
	if again.status != http.StatusConflict {
		t.Errorf("reloading the callback gave %d %q, want 409", again.status, again.body)
	}
	if len(f.forms) != 1 {
		t.Errorf("reloading the callback exchanged the code again")
	}
	// And the listener is gone.
	if _, err := newBrowser(t).hc.Get(page.url.String()); err == nil {
		t.Errorf("the loopback listener still accepts connections after Wait")
	}
}

func TestBrowserOutcomes(t *testing.T) {
	for _, tt := range []struct {
		name         string
		edit         func(f *fakeIdP)   // before discovery
		authResponse func(q url.Values) // tampers with the redirect to the callback
		authURL      func(q url.Values) // tampers with the authorization request
		wantErr      string             // "" for success
		wantPage     string             // on the callback page
		wantExchange bool               // whether the code reached the token endpoint
		check        func(t *testing.T, err error)
	}{
		{
			name:         "no iss, none promised",
			authResponse: func(q url.Values) { q.Del("iss") },
			wantPage:     "Signed in.",
			wantExchange: true,
		},
		{
			name:         "iss promised and right",
			edit:         func(f *fakeIdP) { f.doc["authorization_response_iss_parameter_supported"] = true },
			wantPage:     "Signed in.",
			wantExchange: true,
		},
		{
			name:         "iss of another issuer",
			authResponse: func(q url.Values) { q.Set("iss", "https://evil.example") },
			wantErr:      `the authorization response came from issuer "https://evil.example", not "http://127.0.0.1:`,
			wantPage:     "Sign-in failed: the authorization response came from issuer &#34;https://evil.example&#34;",
		},
		{
			name:         "iss empty",
			authResponse: func(q url.Values) { q.Set("iss", "") },
			wantErr:      `the authorization response came from issuer "", not`,
			wantPage:     "Sign-in failed",
		},
		{
			name:         "iss promised but missing",
			edit:         func(f *fakeIdP) { f.doc["authorization_response_iss_parameter_supported"] = true },
			authResponse: func(q url.Values) { q.Del("iss") },
			wantErr:      `the authorization response came from issuer "", not`,
			wantPage:     "Sign-in failed",
		},
		{
			name: "access_denied",
			authResponse: func(q url.Values) {
				q.Del("code")
				q.Set("error", "access_denied")
				q.Set("error_description", "The user said <b>no</b>\r\nTwice.")
			},
			wantErr:  "the provider refused the sign-in: access_denied The user said <b>no</b>  Twice.",
			wantPage: "Sign-in failed: the provider refused the sign-in: access_denied The user said &lt;b&gt;no&lt;/b&gt;",
		},
		{
			name:         "no code",
			authResponse: func(q url.Values) { q.Del("code") },
			wantErr:      "the authorization response has no code",
			wantPage:     "Sign-in failed: the authorization response has no code",
		},
		{
			// Someone who swaps in their own challenge cannot redeem our
			// code without their verifier, and we cannot either: the fake
			// checks S256(code_verifier) against the challenge it saw.
			name:         "PKCE verifier does not match the challenge",
			authURL:      func(q url.Values) { q.Set("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM") },
			wantErr:      "code_verifier does not match code_challenge",
			wantPage:     "Sign-in failed: code exchange: ",
			wantExchange: true,
		},
		{
			name:         "token endpoint fails",
			edit:         func(f *fakeIdP) { f.fail["/token"] = reply{status: http.StatusInternalServerError} },
			wantErr:      "code exchange: token endpoint answered 500 Internal Server Error",
			wantPage:     "Sign-in failed: code exchange: token endpoint answered 500 Internal Server Error",
			wantExchange: true,
			check: func(t *testing.T, err error) {
				if errors.Is(err, tokensource.ErrSessionEnded) {
					t.Errorf("Wait = %v, which is not the end of a session", err)
				}
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			if tt.edit != nil {
				tt.edit(f)
			}
			f.authResponse = tt.authResponse
			b := startBrowser(t, f.client(t))
			authURL := b.AuthURL()
			if tt.authURL != nil {
				u, _ := url.Parse(authURL)
				q := u.Query()
				tt.authURL(q)
				u.RawQuery = q.Encode()
				authURL = u.String()
			}

			done := wait(t.Context(), b)
			page := newBrowser(t).open(t, authURL)
			o := <-done

			if tt.wantErr == "" {
				if o.err != nil || !o.tok.Valid() {
					t.Errorf("Wait = %+v, %v; want a token", o.tok, o.err)
				}
			} else {
				if o.err == nil || !strings.Contains(o.err.Error(), tt.wantErr) {
					t.Errorf("Wait = %v, want an error containing %q", o.err, tt.wantErr)
				}
				if o.tok != nil {
					t.Errorf("Wait returned %+v along with its error", o.tok)
				}
			}
			wantStatus := http.StatusOK
			if tt.wantErr != "" {
				wantStatus = http.StatusBadRequest
			}
			if page.url.Path != "/callback" || page.status != wantStatus || !strings.Contains(page.body, tt.wantPage) {
				t.Errorf("the browser landed on %s with %d %q, want %d with %q", page.url, page.status, page.body, wantStatus, tt.wantPage)
			}
			f.mu.Lock()
			exchanged := len(f.forms) > 0
			f.mu.Unlock()
			if exchanged != tt.wantExchange {
				t.Errorf("code sent to the token endpoint: %v, want %v", exchanged, tt.wantExchange)
			}
			if tt.check != nil {
				tt.check(t, o.err)
			}
		})
	}
}

// TestBrowserStateMismatch: a redirect that does not carry our state is
// someone else's (RFC 6749 §10.12). It is refused, and the flow keeps
// waiting for ours.
func TestBrowserStateMismatch(t *testing.T) {
	f := newFake(t)
	b := startBrowser(t, f.client(t))
	done := wait(t.Context(), b)
	br := newBrowser(t)

	for _, q := range []url.Values{
		{"code": {"attacker-code"}, "state": {"forged"}, "iss": {f.issuer}},
		{"code": {"attacker-code"}, "iss": {f.issuer}},
		{"code": {"attacker-code"}, "state": {stateOf(t, b) + "x"}},
		{"error": {"access_denied"}, "state": {"forged"}},
	} {
		page := br.open(t, callbackURL(t, b, q))
		if page.status != http.StatusBadRequest || !strings.Contains(page.body, "not the one Mayfly is waiting for") {
			t.Errorf("callback with %v: %d %q, want it refused", q, page.status, page.body)
		}
	}
	select {
	case o := <-done:
		t.Fatalf("Wait returned %+v, %v after forged redirects", o.tok, o.err)
	default:
	}

	page := br.open(t, b.AuthURL())
	o := <-done
	if o.err != nil || page.status != http.StatusOK {
		t.Fatalf("after forged redirects, the real one: Wait = %v, page %d %q", o.err, page.status, page.body)
	}
	if len(f.forms) != 1 || f.forms[0].Get("code") == "attacker-code" {
		t.Errorf("token requests: %v, want the real code exchanged once", f.forms)
	}
}

func TestBrowserOtherPaths(t *testing.T) {
	f := newFake(t)
	b := startBrowser(t, f.client(t))
	u, _ := url.Parse(callbackURL(t, b, url.Values{"state": {stateOf(t, b)}, "code": {"c"}}))
	u.Path = "/favicon.ico"
	if page := newBrowser(t).open(t, u.String()); page.status != http.StatusNotFound {
		t.Errorf("%s: %d, want 404", u.Path, page.status)
	}
}

// TestBrowserCancel: Wait gives up with its context, and a redirect that
// arrives afterwards on a connection the browser kept alive gets an answer
// instead of hanging.
func TestBrowserCancel(t *testing.T) {
	f := newFake(t)
	b := startBrowser(t, f.client(t))
	br := newBrowser(t)
	// Leaves a kept-alive connection to the callback server.
	br.open(t, callbackURL(t, b, url.Values{"state": {"forged"}}))

	ctx, cancel := context.WithCancel(t.Context())
	done := wait(ctx, b)
	cancel()
	o := <-done
	if !errors.Is(o.err, context.Canceled) || o.err.Error() != "sign-in cancelled: context canceled" {
		t.Errorf("Wait = %v, want it cancelled", o.err)
	}

	page := br.open(t, callbackURL(t, b, url.Values{"state": {stateOf(t, b)}, "code": {"late"}, "iss": {f.issuer}}))
	if page.status != http.StatusConflict {
		t.Errorf("a redirect after Wait gave up: %d %q, want 409", page.status, page.body)
	}
	if len(f.forms) != 0 {
		t.Errorf("a code was exchanged after Wait gave up")
	}
}

func TestBrowserClose(t *testing.T) {
	f := newFake(t)
	b := startBrowser(t, f.client(t))
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := newBrowser(t).hc.Get(callbackURL(t, b, url.Values{"state": {stateOf(t, b)}})); err == nil {
		t.Errorf("the loopback listener accepts connections after Close")
	}
}

func TestStartBrowserRefuses(t *testing.T) {
	for _, tt := range []struct {
		name    string
		edit    func(p *tokensource.Provider)
		wantErr string // "" for success
	}{
		{"S256 listed", func(p *tokensource.Provider) { p.CodeChallengeMethods = []string{"plain", "S256"} }, ""},
		{"no methods listed", func(p *tokensource.Provider) { p.CodeChallengeMethods = nil }, ""},
		{"only plain", func(p *tokensource.Provider) { p.CodeChallengeMethods = []string{"plain"} },
			"the provider does not support PKCE S256 (it lists [plain])"},
		{"no authorization endpoint", func(p *tokensource.Provider) { p.AuthURL = "" },
			"the provider has no authorization_endpoint"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			c := f.client(t)
			tt.edit(c.Provider)
			b, err := c.StartBrowser(t.Context())
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("StartBrowser: %v", err)
				}
				b.Close()
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("StartBrowser = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestBrowserCancelWithRedirectPending: when Wait gives up while a redirect
// is waiting for its answer, the page says the sign-in failed.
func TestBrowserCancelWithRedirectPending(t *testing.T) {
	f := newFake(t)
	b := startBrowser(t, f.client(t))
	// Two redirects with our state: one claims the flow and waits for
	// Wait, the other is told at once that it is too late. When that
	// answer arrives, the first has claimed.
	pages := make(chan landing, 2)
	for _, code := range []string{"c1", "c2"} {
		u := callbackURL(t, b, url.Values{"state": {stateOf(t, b)}, "code": {code}, "iss": {f.issuer}})
		br := newBrowser(t)
		go func() {
			resp, err := br.hc.Get(u)
			if err != nil {
				pages <- landing{body: err.Error()}
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			pages <- landing{status: resp.StatusCode, body: string(body)}
		}()
	}
	if p := <-pages; p.status != http.StatusConflict {
		t.Fatalf("one of two redirects: %d %q, want 409", p.status, p.body)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	// Wait may pick either the redirect or the cancellation; both must
	// end in a cancelled sign-in and a page that says so.
	if _, err := b.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait = %v, want it cancelled", err)
	}
	if p := <-pages; p.status != http.StatusBadRequest || !strings.Contains(p.body, "Sign-in failed: ") || !strings.Contains(p.body, "context canceled") {
		t.Errorf("the pending redirect: %d %q, want a failed sign-in", p.status, p.body)
	}
}

// TestBrowserTabClosed: the browser giving up on the callback page does not
// lose the sign-in; the code is still exchanged.
func TestBrowserTabClosed(t *testing.T) {
	f := newFake(t)
	b := startBrowser(t, f.client(t))
	// The provider's redirect, not followed yet.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(b.AuthURL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	callback := resp.Header.Get("Location")

	// Two tabs open the redirect: one claims the flow and waits for Wait,
	// the other is told at once that it is too late. Then both close.
	ctx, cancel := context.WithCancel(t.Context())
	type answer struct {
		status int
		err    error
	}
	answers := make(chan answer, 2)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	for range 2 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, callback, nil)
		go func() {
			resp, err := tr.RoundTrip(req)
			if err != nil {
				answers <- answer{err: err}
				return
			}
			resp.Body.Close()
			answers <- answer{status: resp.StatusCode}
		}()
	}
	if a := <-answers; a.status != http.StatusConflict {
		t.Fatalf("one of two tabs: %d, %v; want 409", a.status, a.err)
	}
	cancel()
	if a := <-answers; !errors.Is(a.err, context.Canceled) {
		t.Fatalf("closing the waiting tab: %d, %v", a.status, a.err)
	}

	tok, err := b.Wait(t.Context())
	if err != nil || !tok.Valid() {
		t.Fatalf("Wait = %+v, %v; want a token", tok, err)
	}
}
