// Package testpeers starts the real peers Mayfly's integration tests and
// demo run against: Dex (a real OpenID provider) behind a proxy that counts
// grants, and a git smart-HTTP server (git http-backend) that accepts only
// valid, unexpired tokens signed by that provider. It also plays the person:
// approving a device code and driving the browser sign-in over HTTP, the way
// a browser would. Nothing here records a token's value.
package testpeers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Demo credentials of Dex's static password database.
const (
	User     = "user@example.com"
	Password = "password"
	ClientID = "mayfly"
	// bcrypt("password"), as in Dex's own examples.
	passwordHash = "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"
)

// FindDex returns the Dex binary scripts/install-peers.sh built.
func FindDex() (string, error) {
	var dirs []string
	if d := os.Getenv("MAYFLY_PEERS_DIR"); d != "" {
		dirs = append(dirs, filepath.Join(d, "bin"))
	}
	// From a package folder inside the repository, walk up to .cache/peers.
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			dirs = append(dirs, filepath.Join(d, ".cache", "peers", "bin"))
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, "dex")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("dex not found: run scripts/install-peers.sh (or make peers)")
}

// DexOptions configure StartDex.
type DexOptions struct {
	Bin      string        // dex binary
	Dir      string        // folder for its config and log
	TokenTTL time.Duration // access and ID token lifetime (default 60s)
}

// Dex is a running Dex, reached through a recording proxy whose address is
// the issuer.
type Dex struct {
	Issuer  string
	LogPath string

	cmd   *exec.Cmd
	proxy *http.Server

	mu        sync.Mutex
	grants    map[string]int // grant_type -> requests seen at the token endpoint
	rotations int            // refresh responses whose refresh_token differed from the one sent
}

// StartDex writes a config, starts Dex and waits until discovery answers.
func StartDex(ctx context.Context, opt DexOptions) (*Dex, error) {
	if opt.TokenTTL == 0 {
		opt.TokenTTL = time.Minute
	}
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	dexAddr, err := freeAddr()
	if err != nil {
		pl.Close()
		return nil, err
	}
	d := &Dex{Issuer: "http://" + pl.Addr().String() + "/dex", LogPath: filepath.Join(opt.Dir, "dex.log"), grants: map[string]int{}}
	cfg := fmt.Sprintf(`issuer: %s
storage:
  type: memory
web:
  http: %s
logger:
  level: info
expiry:
  deviceRequests: "5m"
  idTokens: %q
  refreshTokens:
    disableRotation: false
    reuseInterval: "2s"
oauth2:
  skipApprovalScreen: true
  passwordConnector: local
  grantTypes: [authorization_code, refresh_token, "urn:ietf:params:oauth:grant-type:device_code"]
enablePasswordDB: true
staticPasswords:
  - email: %q
    hash: %q
    username: user
    userID: 08a8684b-db88-4b73-90a9-3cd1661f5466
staticClients:
  # A public client with no redirect URIs: Dex then accepts any loopback
  # redirect (RFC 8252) and the device flow's callback.
  - id: %s
    name: Mayfly
    public: true
`, d.Issuer, dexAddr, opt.TokenTTL.String(), User, passwordHash, ClientID)
	cfgPath := filepath.Join(opt.Dir, "dex.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		pl.Close()
		return nil, err
	}
	logf, err := os.OpenFile(d.LogPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		pl.Close()
		return nil, err
	}
	d.cmd = exec.Command(opt.Bin, "serve", cfgPath)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		logf.Close()
		pl.Close()
		return nil, fmt.Errorf("start dex: %w", err)
	}
	logf.Close()

	target := &url.URL{Scheme: "http", Host: dexAddr}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = d.observe
	rp.ErrorLog = log.New(io.Discard, "", 0) // "connection refused" while Dex starts
	d.proxy = &http.Server{Handler: d.record(rp), ReadHeaderTimeout: 10 * time.Second}
	go d.proxy.Serve(pl)

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(d.Issuer + "/.well-known/openid-configuration")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			d.Close()
			log, _ := os.ReadFile(d.LogPath)
			return nil, fmt.Errorf("dex did not come up: %v\n%s", err, tail(log, 2000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type refreshKey struct{}

// record counts token-endpoint requests by grant type.
func (d *Dex) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/token") {
			body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			r.Body = io.NopCloser(bytes.NewReader(body))
			form, _ := url.ParseQuery(string(body))
			gt := form.Get("grant_type")
			d.mu.Lock()
			d.grants[gt]++
			d.mu.Unlock()
			if gt == "refresh_token" {
				r = r.WithContext(context.WithValue(r.Context(), refreshKey{}, form.Get("refresh_token")))
			}
		}
		next.ServeHTTP(w, r)
	})
}

// observe notes whether a refresh rotated the refresh token.
func (d *Dex) observe(resp *http.Response) error {
	sent, ok := resp.Request.Context().Value(refreshKey{}).(string)
	if !ok || resp.StatusCode != http.StatusOK {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return err
	}
	var tok struct {
		RefreshToken string `json:"refresh_token"`
	}
	if json.Unmarshal(body, &tok) == nil && tok.RefreshToken != "" && tok.RefreshToken != sent {
		d.mu.Lock()
		d.rotations++
		d.mu.Unlock()
	}
	return nil
}

// Grants returns how many token requests of grant type gt Dex received.
func (d *Dex) Grants(gt string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.grants[gt]
}

// Rotations returns how many refreshes returned a new refresh token.
func (d *Dex) Rotations() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rotations
}

// Close stops Dex and the proxy.
func (d *Dex) Close() error {
	d.proxy.Close()
	if d.cmd.Process != nil {
		d.cmd.Process.Kill()
		d.cmd.Wait()
	}
	return nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
