package testpeers

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// What scripts/peers/zitadel-op registers.
const (
	ZitadelClientID = "mayfly" // native, public: code with PKCE, refresh, device flow, token exchange
	ZitadelUser     = "alice"  // an admin, so the example lets her exchange her tokens
	ZitadelNonAdmin = "bob"    // not: his exchanges fail with "user doesn't have impersonation permission"
	ZitadelPassword = "verysecure"
	zitadelVersion  = "v3.52.0"
)

// FindZitadelOP returns the zitadel-op binary scripts/install-peers.sh built
// from scripts/peers/zitadel-op. Inside the repository it insists on the
// build of the wrapper's current files (the binary's name carries their
// hash), so a stale build is reported rather than tested against.
func FindZitadelOP() (string, error) {
	var dirs []string
	if d := os.Getenv("MAYFLY_PEERS_DIR"); d != "" {
		dirs = append(dirs, filepath.Join(d, "bin"))
	}
	name := "zitadel-op"
	if wd, err := os.Getwd(); err == nil {
		found := false
		for d := wd; ; d = filepath.Dir(d) {
			dirs = append(dirs, filepath.Join(d, ".cache", "peers", "bin"))
			if src := filepath.Join(d, "scripts", "peers", "zitadel-op"); !found && isFile(filepath.Join(src, "main.go")) {
				found = true
				if h, err := zitadelSourceHash(src); err == nil {
					name = "zitadel-op-" + zitadelVersion + "-" + h
				}
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	for _, d := range dirs {
		if p := filepath.Join(d, name); isFile(p) {
			return p, nil
		}
	}
	if name != "zitadel-op" {
		return "", fmt.Errorf("%s not found (none, or a build of older files): run scripts/install-peers.sh (or make peers)", name)
	}
	return "", errors.New("zitadel-op not found: run scripts/install-peers.sh (or make peers)")
}

// zitadelSourceHash is what install-peers.sh puts in the binary's name:
// the first 12 hex digits of sha256(go.mod ‖ go.sum ‖ main.go).
func zitadelSourceHash(src string) (string, error) {
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum", "main.go"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// ZitadelOPOptions configure StartZitadelOP.
type ZitadelOPOptions struct {
	Bin     string // the binary; "" calls FindZitadelOP
	WorkDir string // folder for its log; "" makes a temporary one that Close removes
	// User is who signs in at BrowserSignIn and ApproveDevice (default
	// ZitadelUser).
	User string
}

// ZitadelOP is a running zitadel/oidc v3.52.0 example OP
// (scripts/peers/zitadel-op): a provider that exchanges its own tokens
// (RFC 8693). Its client ZitadelClientID gets JWT access tokens: from a
// sign-in their aud is the client ID; from an exchange, the audience the
// request asked for. Access tokens live 5 minutes, refresh tokens rotate
// (replaying an old one gives invalid_grant and revokes nothing), and only
// an admin's tokens may be exchanged.
type ZitadelOP struct {
	Issuer   string // http://127.0.0.1:PORT, no trailing slash
	ClientID string // ZitadelClientID
	LogPath  string

	user      string
	cmd       *exec.Cmd
	exited    chan struct{} // closed once the process has exited and its output is drained
	tmp       string
	closeOnce sync.Once
}

// StartZitadelOP starts the OP on a free loopback port and waits until it
// serves discovery.
func StartZitadelOP(ctx context.Context, opt ZitadelOPOptions) (*ZitadelOP, error) {
	var err error
	if opt.Bin == "" {
		if opt.Bin, err = FindZitadelOP(); err != nil {
			return nil, err
		}
	}
	if opt.User == "" {
		opt.User = ZitadelUser
	}
	z := &ZitadelOP{ClientID: ZitadelClientID, user: opt.User, exited: make(chan struct{})}
	if opt.WorkDir == "" {
		if opt.WorkDir, err = os.MkdirTemp("", "mayfly-zitadel-op-"); err != nil {
			return nil, err
		}
		z.tmp = opt.WorkDir
	}
	z.LogPath = filepath.Join(opt.WorkDir, "zitadel-op.log")
	logf, err := os.OpenFile(z.LogPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		z.removeTmp()
		return nil, err
	}
	z.cmd = exec.Command(opt.Bin)
	z.cmd.Env = append(withoutVar(os.Environ(), "PORT"), "PORT=0")
	z.cmd.Stderr = logf
	stdout, err := z.cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		z.removeTmp()
		return nil, err
	}
	if err := z.cmd.Start(); err != nil {
		logf.Close()
		z.removeTmp()
		return nil, fmt.Errorf("start zitadel-op: %w", err)
	}
	// It prints "listening <issuer>" once it serves.
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if issuer, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				select {
				case ready <- issuer:
				default:
				}
			}
		}
		z.cmd.Wait()
		logf.Close()
		close(z.exited)
	}()

	fail := func(why string) (*ZitadelOP, error) {
		z.stop()
		log, _ := os.ReadFile(z.LogPath)
		z.Close()
		return nil, fmt.Errorf("zitadel-op did not come up: %s\n%s", why, tail(log, 2000))
	}
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case z.Issuer = <-ready:
	case <-z.exited:
		return fail("it exited")
	case <-timer.C:
		return fail("no readiness line after 30s")
	case <-ctx.Done():
		return fail(ctx.Err().Error())
	}
	var disco struct {
		Issuer string `json:"issuer"`
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, z.Issuer+"/.well-known/openid-configuration", nil)
	if err != nil {
		return fail(err.Error())
	}
	if err := doJSON(req, &disco); err != nil || disco.Issuer != z.Issuer {
		return fail(fmt.Sprintf("discovery: issuer %q, %v", disco.Issuer, err))
	}
	return z, nil
}

func withoutVar(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != name {
			out = append(out, kv)
		}
	}
	return out
}

// ZitadelStats are the OP's counters of token-endpoint requests.
type ZitadelStats struct {
	TokenRequests map[string]int `json:"token_requests"` // by grant_type, whatever the outcome
	TokenErrors   map[string]int `json:"token_errors"`   // failed requests by OAuth error code
	Exchanged     map[string]int `json:"exchanged"`      // successful token exchanges by requested audience (comma-joined)
}

// Stats reads the OP's counters.
func (z *ZitadelOP) Stats(ctx context.Context) (ZitadelStats, error) {
	var s ZitadelStats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, z.Issuer+"/__stats", nil)
	if err != nil {
		return s, err
	}
	if err := doJSON(req, &s); err != nil {
		return ZitadelStats{}, fmt.Errorf("zitadel-op stats: %w", err)
	}
	return s, nil
}

// BrowserSignIn opens authURL, signs in at the OP's login form (there is
// no consent page), and follows the redirect back to the loopback redirect
// URI, as a person's browser would: the caller's listener there gets the
// code. It fails if the login form comes back (wrong credentials), the OP
// answers with an error, or it redirects with one.
func (z *ZitadelOP) BrowserSignIn(ctx context.Context, authURL string) error {
	c := browser()
	page, body, err := follow(ctx, c, http.MethodGet, authURL, nil)
	if err != nil {
		return fmt.Errorf("browser sign-in: %w (%s)", err, strings.TrimSpace(tail([]byte(body), 200)))
	}
	if err := z.redirectError(page); err != nil {
		return err
	}
	action, form, err := firstForm(page, body) // the login form: hidden id
	if err != nil {
		return fmt.Errorf("browser sign-in: %w", err)
	}
	form.Set("username", z.user)
	form.Set("password", ZitadelPassword)
	final, body, err := follow(ctx, c, http.MethodPost, action, form)
	if err != nil {
		return fmt.Errorf("browser sign-in: %w (%s)", err, strings.TrimSpace(tail([]byte(body), 200)))
	}
	if strings.HasPrefix(final, z.Issuer+"/") {
		return fmt.Errorf("browser sign-in: stuck at %s with %q", final, pageTitle(body))
	}
	return z.redirectError(final)
}

// redirectError reports an OAuth error in a redirect to the client.
func (z *ZitadelOP) redirectError(u string) error {
	if strings.HasPrefix(u, z.Issuer+"/") {
		return nil
	}
	if p, err := url.Parse(u); err == nil && p.Query().Get("error") != "" {
		return fmt.Errorf("browser sign-in: the provider redirected with error %s: %s", p.Query().Get("error"), p.Query().Get("error_description"))
	}
	return nil
}

// ApproveDevice signs in at the OP's device page with userCode and allows
// the device, as a person at a browser would.
func (z *ZitadelOP) ApproveDevice(ctx context.Context, userCode string) error {
	c := browser()
	final, body, err := follow(ctx, c, http.MethodPost, z.Issuer+"/device/login",
		url.Values{"user_code": {userCode}, "username": {z.user}, "password": {ZitadelPassword}})
	if err != nil {
		return fmt.Errorf("approve device: %w", err)
	}
	// A failure sends the browser back to /device?prompt=<why>.
	if t := pageTitle(body); !strings.Contains(t, "Confirm") {
		return fmt.Errorf("approve device: ended at %s with %q", final, t)
	}
	_, body, err = follow(ctx, c, http.MethodPost, z.Issuer+"/device/confirm", url.Values{"action": {"allowed"}})
	if err != nil {
		return fmt.Errorf("approve device: %w", err)
	}
	if !strings.Contains(body, "Device authorization allowed") {
		return fmt.Errorf("approve device: the confirmation said %q", tail([]byte(body), 200))
	}
	return nil
}

// Close stops the OP and removes a temporary WorkDir.
func (z *ZitadelOP) Close() error {
	z.closeOnce.Do(func() {
		z.stop()
		z.removeTmp()
	})
	return nil
}

func (z *ZitadelOP) stop() {
	if z.cmd.Process != nil {
		z.cmd.Process.Kill()
		<-z.exited
	}
}

func (z *ZitadelOP) removeTmp() {
	if z.tmp != "" {
		os.RemoveAll(z.tmp)
	}
}
