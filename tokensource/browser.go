package tokensource

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// BrowserLogin is one authorization code flow with PKCE on a loopback
// redirect: the redirect URI is http://127.0.0.1:<free port>/callback
// (RFC 8252 §7.3 prefers the IP literal to "localhost", whose resolution
// could be tampered with).
type BrowserLogin struct {
	c        *Client
	ln       net.Listener
	conf     *oauth2.Config
	verifier string
	state    string
	authURL  string
	result   chan result
	// claimed is set by the one redirect whose result Wait gets, or by
	// Wait when it gives up first. The listener's closing does not end
	// connections a browser keeps alive, so any later redirect with our
	// state must be answered here, or it would wait for a reply forever.
	claimed atomic.Bool
}

// result carries the redirect's outcome to Wait, and Wait's exchange
// outcome back on done, so the browser page tells the truth.
type result struct {
	code string
	err  error
	done chan error
}

// StartBrowser binds the loopback listener and builds the authorization URL.
func (c *Client) StartBrowser(ctx context.Context) (*BrowserLogin, error) {
	if c.Provider.AuthURL == "" {
		return nil, errors.New("the provider has no authorization_endpoint")
	}
	// RFC 7636 §4.2 / OAuth 2.1: only S256; a provider that lists methods
	// but not S256 cannot protect the code.
	if m := c.Provider.CodeChallengeMethods; len(m) > 0 && !slices.Contains(m, "S256") {
		return nil, fmt.Errorf("the provider does not support PKCE S256 (it lists %v)", m)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("loopback redirect: %w", err)
	}
	b := &BrowserLogin{
		c:        c,
		ln:       ln,
		verifier: oauth2.GenerateVerifier(),
		state:    randomString(),
		result:   make(chan result, 1),
	}
	b.conf = c.config(fmt.Sprintf("http://%s/callback", ln.Addr()))
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(b.verifier)}
	if c.DPoP && c.Prover != nil {
		// RFC 9449 §10: bind the authorization code to the device key, so
		// a code intercepted on its way to the loopback is useless.
		opts = append(opts, oauth2.SetAuthURLParam("dpop_jkt", c.Prover.JKT()))
	}
	b.authURL = b.conf.AuthCodeURL(b.state, opts...)
	srv := &http.Server{Handler: http.HandlerFunc(b.callback), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return b, nil
}

// AuthURL is what the user's browser must open.
func (b *BrowserLogin) AuthURL() string { return b.authURL }

// Close stops the listener.
func (b *BrowserLogin) Close() error { return b.ln.Close() }

// Wait returns the token once the browser comes back and the code is
// exchanged (RFC 6749 §4.1.3 with the PKCE verifier, RFC 7636 §4.5).
func (b *BrowserLogin) Wait(ctx context.Context) (*oauth2.Token, error) {
	defer b.ln.Close()
	select {
	case <-ctx.Done():
		err := fmt.Errorf("sign-in cancelled: %w", ctx.Err())
		if !b.claimed.CompareAndSwap(false, true) {
			// A redirect got in first: it is sending its result, and its
			// page waits for our answer.
			r := <-b.result
			r.done <- err
		}
		return nil, err
	case r := <-b.result:
		if r.err != nil {
			r.done <- r.err
			return nil, r.err
		}
		tok, err := b.conf.Exchange(b.c.ctx(ctx), r.code, oauth2.VerifierOption(b.verifier))
		if err != nil {
			err = classify("code exchange", err)
		}
		r.done <- err
		return tok, err
	}
}

func (b *BrowserLogin) callback(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/callback" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	// The state binds this redirect to the request we made (RFC 6749
	// §10.12); a mismatch is someone else's redirect, so it is ignored and
	// the flow keeps waiting for ours.
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(b.state)) != 1 {
		page(w, http.StatusBadRequest, "This sign-in link is not the one Mayfly is waiting for.")
		return
	}
	res := result{done: make(chan error, 1)}
	switch {
	case q.Get("error") != "":
		res.err = fmt.Errorf("the provider refused the sign-in: %s", oneLine(q.Get("error")+" "+q.Get("error_description"), 200))
	// RFC 9207 §2.4: when the provider sends iss (or promises to), it must be
	// ours; this defeats mix-up attacks between providers.
	case (q.Has("iss") || b.c.Provider.IssParameterSupported) && q.Get("iss") != b.c.Provider.Issuer:
		res.err = fmt.Errorf("the authorization response came from issuer %q, not %q", q.Get("iss"), b.c.Provider.Issuer)
	case q.Get("code") == "":
		res.err = errors.New("the authorization response has no code")
	default:
		res.code = q.Get("code")
	}
	if !b.claimed.CompareAndSwap(false, true) { // a reload, a replay, or too late
		page(w, http.StatusConflict, "Mayfly is no longer waiting for this sign-in.")
		return
	}
	b.result <- res // buffered, and sent at most once: never blocks
	var err error
	select {
	case err = <-res.done:
	case <-r.Context().Done():
		return
	}
	if err != nil {
		page(w, http.StatusBadRequest, "Sign-in failed: "+err.Error())
		return
	}
	page(w, http.StatusOK, "Signed in. You can close this tab and return to the terminal.")
}

func page(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><title>Mayfly</title><p>%s</p>\n", html.EscapeString(msg))
}

func randomString() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand, Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}
