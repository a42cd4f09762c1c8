package testpeers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
)

// browser is a cookie-keeping HTTP client that does not follow redirects,
// so each hop of Dex's login can be checked.
func browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func do(ctx context.Context, c *http.Client, method, u string, form url.Values) (*http.Response, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp, string(b), nil
}

// follow walks redirects from u (GET) until a page that is not a redirect,
// and returns its final URL and body.
func follow(ctx context.Context, c *http.Client, method, u string, form url.Values) (string, string, error) {
	for hops := 0; hops < 20; hops++ {
		resp, body, err := do(ctx, c, method, u, form)
		if err != nil {
			return "", "", err
		}
		if resp.StatusCode < 300 || resp.StatusCode >= 400 {
			if resp.StatusCode >= 400 {
				return u, body, fmt.Errorf("%s %s: %s", method, u, resp.Status)
			}
			return u, body, nil
		}
		next, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil {
			return "", "", err
		}
		u, method, form = next.String(), http.MethodGet, nil
	}
	return "", "", errors.New("too many redirects")
}

// login posts the demo credentials to Dex's password form at formURL and
// follows where Dex sends the browser next.
func login(ctx context.Context, c *http.Client, formURL string) (string, string, error) {
	return follow(ctx, c, http.MethodPost, formURL, url.Values{"login": {User}, "password": {Password}})
}

// ApproveDevice enters userCode at Dex's device page and signs in as the
// demo user, as a person at a browser would.
func (d *Dex) ApproveDevice(ctx context.Context, userCode string) error {
	c := browser()
	formURL, _, err := follow(ctx, c, http.MethodPost, d.Issuer+"/device/auth/verify_code", url.Values{"user_code": {userCode}})
	if err != nil {
		return fmt.Errorf("approve device: %w", err)
	}
	final, _, err := login(ctx, c, formURL)
	if err != nil {
		return fmt.Errorf("approve device: %w", err)
	}
	// follow fails on any error status, so reaching the callback with 200
	// means Dex approved the code.
	if !strings.Contains(final, "/device/callback") {
		return fmt.Errorf("approve device: ended at %s, not at an approval page", final)
	}
	return nil
}

// BrowserSignIn opens authURL, signs in as the demo user, and follows the
// redirect back to the loopback listener, as a person's browser would.
func (d *Dex) BrowserSignIn(ctx context.Context, authURL string) error {
	c := browser()
	formURL, _, err := follow(ctx, c, http.MethodGet, authURL, nil)
	if err != nil {
		return fmt.Errorf("browser sign-in: %w", err)
	}
	final, body, err := login(ctx, c, formURL)
	if err != nil {
		return fmt.Errorf("browser sign-in: %w (%s)", err, strings.TrimSpace(tail([]byte(body), 200)))
	}
	if !strings.Contains(body, "Signed in") {
		return fmt.Errorf("browser sign-in: ended at %s with %q", final, tail([]byte(body), 200))
	}
	return nil
}
