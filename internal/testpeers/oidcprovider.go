package testpeers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Client IDs registered at oidc-provider by scripts/peers/oidc-provider/server.mjs.
const (
	OIDCProviderClientID      = "mayfly"       // public, native: device flow, code flow with PKCE, refresh
	OIDCProviderPKJWTClientID = "mayfly-pkjwt" // confidential, private_key_jwt (ES256); only with ClientJWKS
	oidcProviderRS            = "rs"           // the resource server, for introspection
	oidcProviderRSSecret      = "rs-secret"
)

// FindOIDCProvider returns the folder where scripts/install-peers.sh
// installed panva's oidc-provider and server.mjs. It fails when node is not
// on PATH, when nothing is installed, or when the installed server.mjs or
// lock differs from the repository's scripts/peers/oidc-provider.
func FindOIDCProvider() (string, error) {
	if _, err := exec.LookPath("node"); err != nil {
		return "", fmt.Errorf("oidc-provider needs Node.js: %w", err)
	}
	var dirs []string
	if d := os.Getenv("MAYFLY_PEERS_DIR"); d != "" {
		dirs = append(dirs, filepath.Join(d, "oidc-provider"))
	}
	var src string // the repository's copy, to notice a stale install
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			dirs = append(dirs, filepath.Join(d, ".cache", "peers", "oidc-provider"))
			if s := filepath.Join(d, "scripts", "peers", "oidc-provider"); src == "" && isFile(filepath.Join(s, "server.mjs")) {
				src = s
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	for _, d := range dirs {
		if !isFile(filepath.Join(d, "server.mjs")) || !isFile(filepath.Join(d, "node_modules", "oidc-provider", "package.json")) {
			continue
		}
		if src != "" {
			for _, f := range [][2]string{
				{"server.mjs", "server.mjs"},
				{"package-lock.json", filepath.Join("node_modules", ".mayfly-installed-lock.json")},
			} {
				want, err1 := os.ReadFile(filepath.Join(src, f[0]))
				got, err2 := os.ReadFile(filepath.Join(d, f[1]))
				if err1 != nil || err2 != nil || !bytes.Equal(want, got) {
					return "", fmt.Errorf("oidc-provider in %s differs from %s: run scripts/install-peers.sh", d, filepath.Join(src, f[0]))
				}
			}
		}
		return d, nil
	}
	return "", errors.New("oidc-provider not installed: run scripts/install-peers.sh (or make peers)")
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// OIDCProviderOptions configure StartOIDCProvider.
type OIDCProviderOptions struct {
	Dir     string        // the installed peer; "" calls FindOIDCProvider
	WorkDir string        // folder for its log and the client JWKS; "" makes a temporary one that Close removes
	ATTTL   time.Duration // access token lifetime, whole seconds (default 60s)
	RTTTL   time.Duration // refresh token lifetime, whole seconds (default 24h)
	// DPoPNonce makes every DPoP proof need a server-issued nonce
	// (use_dpop_nonce and a DPoP-Nonce header first).
	DPoPNonce bool
	// ClientJWKS, a public JWKS, registers the confidential client
	// OIDCProviderPKJWTClientID, which authenticates with private_key_jwt
	// signed by one of these keys (ES256).
	ClientJWKS []byte
	// StrictOfflineAccess keeps oidc-provider's reading of OIDC Core §11: on
	// the code flow, offline_access (and so a refresh token) only comes with
	// prompt=consent. By default the server treats offline_access without a
	// prompt parameter as if prompt=consent had been sent, as most providers
	// do. The device flow grants offline_access either way.
	StrictOfflineAccess bool
}

// OIDCProvider is a running panva/oidc-provider 9.13.3: a real OpenID
// provider with the device flow, the code flow with PKCE (S256, required),
// refresh token rotation with reuse detection (presenting a rotated refresh
// token again revokes the whole grant), RFC 7009 revocation (revoking a
// refresh or access token revokes every token of its grant), RFC 7662
// introspection and DPoP. Access and refresh tokens are opaque.
//
// Worth knowing when testing against it: the device authorization response
// has no interval (so RFC 8628's 5s applies) and polling never gets
// slow_down; the authorization response carries iss (RFC 9207); a public
// client's refresh token obtained with DPoP is bound to that key, and a
// refresh without the key fails with invalid_grant before reuse is checked,
// so replaying a rotated, DPoP-bound refresh token without the key revokes
// nothing.
type OIDCProvider struct {
	Issuer        string
	LogPath       string
	ClientID      string // OIDCProviderClientID
	PKJWTClientID string // OIDCProviderPKJWTClientID, or "" without ClientJWKS

	cmd       *exec.Cmd
	exited    chan struct{} // closed once node has exited and its output is drained
	tmp       string        // WorkDir to remove on Close
	closeOnce sync.Once
}

// StartOIDCProvider starts server.mjs on a free loopback port and waits until
// it serves.
func StartOIDCProvider(ctx context.Context, opt OIDCProviderOptions) (*OIDCProvider, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("oidc-provider: %w", err)
	}
	if opt.Dir == "" {
		if opt.Dir, err = FindOIDCProvider(); err != nil {
			return nil, err
		}
	}
	p := &OIDCProvider{ClientID: OIDCProviderClientID, exited: make(chan struct{})}
	if opt.WorkDir == "" {
		if opt.WorkDir, err = os.MkdirTemp("", "mayfly-oidc-provider-"); err != nil {
			return nil, err
		}
		p.tmp = opt.WorkDir
	}
	env := []string{"PORT=0", "AT_TTL=" + ttlSeconds(opt.ATTTL, time.Minute), "RT_TTL=" + ttlSeconds(opt.RTTTL, 24*time.Hour)}
	if opt.DPoPNonce {
		env = append(env, "DPOP_NONCE=1")
	}
	if opt.StrictOfflineAccess {
		env = append(env, "STRICT_OFFLINE_ACCESS=1")
	}
	if opt.ClientJWKS != nil {
		f := filepath.Join(opt.WorkDir, "client-jwks.json")
		if err := os.WriteFile(f, opt.ClientJWKS, 0o600); err != nil {
			p.removeTmp()
			return nil, err
		}
		env = append(env, "CLIENT_JWKS_FILE="+f)
		p.PKJWTClientID = OIDCProviderPKJWTClientID
	}
	p.LogPath = filepath.Join(opt.WorkDir, "oidc-provider.log")
	logf, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		p.removeTmp()
		return nil, err
	}
	p.cmd = exec.Command(node, filepath.Join(opt.Dir, "server.mjs"))
	p.cmd.Dir = opt.Dir
	p.cmd.Env = append(withoutKnobs(os.Environ()), env...)
	p.cmd.Stderr = logf
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		p.removeTmp()
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		p.removeTmp()
		return nil, fmt.Errorf("start oidc-provider: %w", err)
	}

	// server.mjs prints "listening <issuer>" on stdout once it serves; the
	// rest of stdout, if any, goes to the log.
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if issuer, ok := strings.CutPrefix(line, "listening "); ok {
				select {
				case ready <- issuer:
				default:
				}
			}
			fmt.Fprintln(logf, line)
		}
		p.cmd.Wait()
		logf.Close()
		close(p.exited)
	}()

	fail := func(why string) (*OIDCProvider, error) {
		p.stop()
		log, _ := os.ReadFile(p.LogPath)
		p.Close()
		return nil, fmt.Errorf("oidc-provider did not come up: %s\n%s", why, tail(log, 2000))
	}
	// Node loads oidc-provider in about a second on an idle machine.
	timer := time.NewTimer(60 * time.Second)
	defer timer.Stop()
	select {
	case p.Issuer = <-ready:
	case <-p.exited:
		return fail("node exited")
	case <-timer.C:
		return fail("no readiness line after 60s")
	case <-ctx.Done():
		return fail(ctx.Err().Error())
	}
	var disco struct {
		Issuer string `json:"issuer"`
	}
	if err := p.getJSON(ctx, "/.well-known/openid-configuration", &disco); err != nil || disco.Issuer != p.Issuer {
		return fail(fmt.Sprintf("discovery: issuer %q, %v", disco.Issuer, err))
	}
	return p, nil
}

func ttlSeconds(d, def time.Duration) string {
	if d == 0 {
		d = def
	}
	return strconv.Itoa(max(1, int(d.Round(time.Second)/time.Second)))
}

// withoutKnobs drops server.mjs's settings from an inherited environment,
// so only the options decide them.
func withoutKnobs(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "PORT", "AT_TTL", "RT_TTL", "DPOP_NONCE", "CLIENT_JWKS_FILE", "STRICT_OFFLINE_ACCESS":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// Close stops the server and removes a temporary WorkDir.
func (p *OIDCProvider) Close() error {
	p.closeOnce.Do(func() {
		p.stop()
		p.removeTmp()
	})
	return nil
}

// stop kills node and waits until its output is in the log.
func (p *OIDCProvider) stop() {
	if p.cmd.Process != nil {
		p.cmd.Process.Kill()
		<-p.exited
	}
}

func (p *OIDCProvider) removeTmp() {
	if p.tmp != "" {
		os.RemoveAll(p.tmp)
	}
}

// OIDCStats are the server's counters since it started.
type OIDCStats struct {
	TokenRequests     map[string]int `json:"token_requests"`      // POST /token by grant_type, whatever the outcome
	TokenErrors       map[string]int `json:"token_errors"`        // failed POST /token by OAuth error code
	DPoPTokenRequests int            `json:"dpop_token_requests"` // POST /token with a DPoP proof
	Refreshes         int            `json:"refreshes"`           // refresh_token grants answered 200
	GrantsRevoked     int            `json:"grants_revoked"`      // grants revoked, for any reason
	// GrantsRevokedAt counts revoked grants by endpoint: "token" when a
	// rotated refresh token (or a used code) came back, "revocation" for
	// RFC 7009 revocation of a refresh or access token.
	GrantsRevokedAt map[string]int `json:"grants_revoked_at"`
}

// Stats reads the server's counters.
func (p *OIDCProvider) Stats(ctx context.Context) (OIDCStats, error) {
	var s OIDCStats
	if err := p.getJSON(ctx, "/__stats", &s); err != nil {
		return OIDCStats{}, fmt.Errorf("oidc-provider stats: %w", err)
	}
	return s, nil
}

// Introspect asks the introspection endpoint about token, as the resource
// server. An unknown, expired or revoked token gives {"active": false}.
func (p *OIDCProvider) Introspect(ctx context.Context, token string) (map[string]any, error) {
	req, err := p.formRequest(ctx, "/token/introspection", url.Values{"token": {token}})
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(oidcProviderRS, oidcProviderRSSecret)
	var out map[string]any
	if err := doJSON(req, &out); err != nil {
		return nil, fmt.Errorf("oidc-provider introspect: %w", err)
	}
	return out, nil
}

// Revoke revokes token at the RFC 7009 endpoint as the public client, the
// way a user ending a session elsewhere would. oidc-provider then revokes
// every token of the grant: refresh and access tokens alike.
func (p *OIDCProvider) Revoke(ctx context.Context, token string) error {
	req, err := p.formRequest(ctx, "/token/revocation", url.Values{"token": {token}, "client_id": {OIDCProviderClientID}})
	if err != nil {
		return err
	}
	if err := doJSON(req, nil); err != nil {
		return fmt.Errorf("oidc-provider revoke: %w", err)
	}
	return nil
}

func (p *OIDCProvider) formRequest(ctx context.Context, path string, form url.Values) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.Issuer+path, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

func (p *OIDCProvider) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.Issuer+path, nil)
	if err != nil {
		return err
	}
	return doJSON(req, v)
}

// doJSON sends req and decodes a 200 answer into v (nil: ignore the body).
func doJSON(req *http.Request, v any) error {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, tail(body, 200))
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(body, v)
}

// ApproveDevice enters userCode at the provider's device page, confirms it,
// signs in and consents, as a person at a browser would. devInteractions
// takes any login; the subject is User.
func (p *OIDCProvider) ApproveDevice(ctx context.Context, userCode string) error {
	c := browser()
	page, body, err := follow(ctx, c, http.MethodGet, p.Issuer+"/device?user_code="+url.QueryEscape(userCode), nil)
	if err != nil {
		return fmt.Errorf("approve device: %w", err)
	}
	action, form, err := firstForm(page, body)
	if err != nil {
		return fmt.Errorf("approve device: %w", err)
	}
	form.Set("user_code", userCode)
	form.Set("confirm", "yes")
	final, body, err := p.interact(ctx, c, action, form)
	if err != nil {
		return fmt.Errorf("approve device: %w", err)
	}
	if !strings.Contains(body, "<title>Sign-in Success</title>") {
		return fmt.Errorf("approve device: ended at %s with %q", final, pageTitle(body))
	}
	return nil
}

// BrowserSignIn opens authURL, signs in and consents, and follows the
// redirect back to the loopback redirect URI, as a person's browser would:
// the caller's listener there gets the code. It fails if the provider
// redirects with an error or the listener answers with an error status.
func (p *OIDCProvider) BrowserSignIn(ctx context.Context, authURL string) error {
	c := browser()
	final, body, err := p.interact(ctx, c, authURL, nil)
	if err != nil {
		return fmt.Errorf("browser sign-in: %w (%s)", err, strings.TrimSpace(tail([]byte(body), 200)))
	}
	if strings.HasPrefix(final, p.Issuer+"/") {
		return fmt.Errorf("browser sign-in: stuck at %s with %q", final, pageTitle(body))
	}
	if u, err := url.Parse(final); err == nil && u.Query().Get("error") != "" {
		return fmt.Errorf("browser sign-in: the provider redirected with error %s: %s", u.Query().Get("error"), u.Query().Get("error_description"))
	}
	return nil
}

// interact goes to u (a POST of form, or a GET when form is nil), then plays
// the person on oidc-provider's devInteractions pages (login with any login
// and password, then consent) until the browser leaves them. It returns the
// last URL and page.
func (p *OIDCProvider) interact(ctx context.Context, c *http.Client, u string, form url.Values) (string, string, error) {
	method := http.MethodGet
	if form != nil {
		method = http.MethodPost
	}
	for range 8 {
		final, body, err := follow(ctx, c, method, u, form)
		if err != nil || !strings.HasPrefix(final, p.Issuer+"/interaction/") {
			return final, body, err
		}
		action, fields, err := firstForm(final, body)
		if err != nil {
			return final, body, err
		}
		switch fields.Get("prompt") {
		case "login":
			fields.Set("login", User)
			fields.Set("password", Password)
		case "consent":
		default:
			return final, body, fmt.Errorf("unknown interaction page %q at %s", pageTitle(body), final)
		}
		method, u, form = http.MethodPost, action, fields
	}
	return "", "", errors.New("too many interaction pages")
}

var (
	formRE  = regexp.MustCompile(`(?is)<form\b[^>]*\baction="([^"]*)"[^>]*>(.*?)</form>`)
	inputRE = regexp.MustCompile(`(?is)<input\b[^>]*>`)
	attrRE  = regexp.MustCompile(`(?is)\b(type|name|value)="([^"]*)"`)
	titleRE = regexp.MustCompile(`(?is)<title>(.*?)</title>`)
)

// firstForm returns the first form of a page: its action, resolved against
// the page's URL, and its hidden fields.
func firstForm(pageURL, body string) (string, url.Values, error) {
	m := formRE.FindStringSubmatch(body)
	if m == nil {
		return "", nil, fmt.Errorf("no form on %s (%q)", pageURL, pageTitle(body))
	}
	base, err := url.Parse(pageURL)
	if err != nil {
		return "", nil, err
	}
	action, err := base.Parse(html.UnescapeString(m[1]))
	if err != nil {
		return "", nil, err
	}
	fields := url.Values{}
	for _, in := range inputRE.FindAllString(m[2], -1) {
		attrs := map[string]string{}
		for _, a := range attrRE.FindAllStringSubmatch(in, -1) {
			attrs[strings.ToLower(a[1])] = html.UnescapeString(a[2])
		}
		if strings.EqualFold(attrs["type"], "hidden") && attrs["name"] != "" {
			fields.Add(attrs["name"], attrs["value"])
		}
	}
	return action.String(), fields, nil
}

func pageTitle(body string) string {
	if m := titleRE.FindStringSubmatch(body); m != nil {
		return strings.TrimSpace(html.UnescapeString(m[1]))
	}
	return strings.TrimSpace(tail([]byte(body), 120))
}
