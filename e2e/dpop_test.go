//go:build linux

package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/attest/dpop"
	"github.com/mayflyhq/mayfly/attest/tpm"
	backendtpm "github.com/mayflyhq/mayfly/backends/tpm"
	"github.com/mayflyhq/mayfly/internal/testpeers"
)

// introspector is a resource server's check of opaque tokens: it asks the
// provider (RFC 7662), as an API in front of oidc-provider would.
type introspector struct{ op *testpeers.OIDCProvider }

func (i introspector) Verify(ctx context.Context, raw string) (string, error) {
	m, err := i.op.Introspect(ctx, raw)
	if err != nil {
		return "", fmt.Errorf("introspection failed: %v", err)
	}
	if active, _ := m["active"].(bool); !active {
		return "", fmt.Errorf("invalid: inactive")
	}
	sub, _ := m["sub"].(string)
	return sub, nil
}

// tpmWorld is a world whose provider is panva's oidc-provider (DPoP,
// private_key_jwt, rotation with reuse detection, revocation,
// introspection) and whose TPM is a swtpm.
type tpmWorld struct {
	*world
	tpm *testpeers.SWTPM
	op  *testpeers.OIDCProvider
}

func startSWTPM(t *testing.T, dir string) *testpeers.SWTPM {
	t.Helper()
	s, err := testpeers.StartSWTPM(context.Background(), dir)
	if err != nil {
		if os.Getenv("MAYFLY_REQUIRE_PEERS") == "1" {
			t.Fatalf("swtpm: %v", err)
		}
		t.Skipf("no swtpm (%v); run scripts/install-peers.sh", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func startOIDCProvider(t *testing.T, opt testpeers.OIDCProviderOptions) *testpeers.OIDCProvider {
	t.Helper()
	if _, err := testpeers.FindOIDCProvider(); err != nil {
		if os.Getenv("MAYFLY_REQUIRE_PEERS") == "1" {
			t.Fatalf("oidc-provider: %v", err)
		}
		t.Skipf("no oidc-provider (%v); run scripts/install-peers.sh", err)
	}
	op, err := testpeers.StartOIDCProvider(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	return op
}

func newTPMWorld(t *testing.T) *tpmWorld {
	w := newBareWorld(t)
	tw := &tpmWorld{world: w}
	tw.tpm = startSWTPM(t, filepath.Join(w.dir, "swtpm"))
	return tw
}

// useProvider starts oidc-provider (with the client JWKS, if any) and a git
// server that introspects its tokens, and writes a profile for them.
func (tw *tpmWorld) useProvider(jwks []byte, profile string) {
	t := tw.t
	if err := os.MkdirAll(filepath.Join(tw.dir, "op"), 0o700); err != nil {
		t.Fatal(err)
	}
	tw.op = startOIDCProvider(t, testpeers.OIDCProviderOptions{WorkDir: filepath.Join(tw.dir, "op"), ATTTL: 12 * time.Second,
		DPoPNonce: true, ClientJWKS: jwks})
	tw.issuer, tw.approve = tw.op.Issuer, tw.op.ApproveDevice
	tw.git = testpeers.StartGitServerWith(introspector{tw.op}, filepath.Join(tw.dir, "repos"))
	t.Cleanup(tw.git.Close)
	if err := tw.git.CreateRepo("app", "# app\n"); err != nil {
		t.Fatal(err)
	}
	tw.writeConfig(fmt.Sprintf(`tpm = %q
store = "tpm"

[agent]
idle_timeout = "10m"

[profiles.corp]
issuer = %q
scopes = ["openid", "offline_access", "email"]
match = [%q]
%s
`, tw.tpm.Spec(), tw.op.Issuer, tw.git.URL+"/", profile))
	tw.mustRun("git", "config", "--global", "credential."+tw.git.URL+".helper", "mayfly")
	t.Cleanup(tw.stopAgent)
}

func (tw *tpmWorld) keyShow() wire.DeviceKeyInfo {
	tw.t.Helper()
	r := tw.mustRun("mayfly", "key", "show", "--json")
	var k wire.DeviceKeyInfo
	if err := json.Unmarshal([]byte(r.stdout), &k); err != nil {
		tw.t.Fatalf("mayfly key show --json: %v\n%s", err, r.stdout)
	}
	return k
}

func (tw *tpmWorld) fullStatus() wire.Status {
	tw.t.Helper()
	r := tw.mustRun("mayfly", "status", "--json")
	var st wire.Status
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		tw.t.Fatalf("mayfly status --json: %v\n%s", err, r.stdout)
	}
	return st
}

func (tw *tpmWorld) introspect(tok string) map[string]any {
	tw.t.Helper()
	m, err := tw.op.Introspect(context.Background(), tok)
	if err != nil {
		tw.t.Fatal(err)
	}
	return m
}

func jkt(m map[string]any) string {
	cnf, _ := m["cnf"].(map[string]any)
	s, _ := cnf["jkt"].(string)
	return s
}

// TestDPoPBoundToTPMKey: a public client whose tokens are DPoP-bound to a
// P-256 key in the TPM (swtpm), its session sealed by that TPM; git works
// through it, refreshes are signed by the TPM key, a stolen refresh token
// is worthless without the key, and a replaced TPM ends the session
// cleanly.
func TestDPoPBoundToTPMKey(t *testing.T) {
	tw := newTPMWorld(t)
	tw.useProvider(nil, fmt.Sprintf("client_id = %q\ndpop = true\nrequire_hardware_key = true", testpeers.OIDCProviderClientID))

	key := tw.keyShow()
	if !key.Hardware || key.Provider != "tpm" || key.Thumbprint == "" {
		t.Fatalf("device key %+v, want one in the TPM", key)
	}
	tw.loginDevice()
	st := tw.fullStatus()
	if st.Store.Name != "tpm" || st.Store.Protection != "hardware-bound" {
		t.Errorf("store %+v, want the TPM-sealed store", st.Store)
	}
	if st.TPM == nil || !st.TPM.Usable || st.TPM.Manufacturer == "" {
		t.Errorf("status TPM %+v", st.TPM)
	}
	if len(st.Profiles) != 1 || !st.Profiles[0].DPoP || !st.Profiles[0].SignedIn {
		t.Errorf("profile status %+v", st.Profiles)
	}

	// git clones with the bound access token (the git server introspects).
	tw.mustRun("git", "clone", "-q", tw.git.URL+"/app.git", filepath.Join(tw.work, "app"))
	at, err := tw.fill()
	if err != nil {
		t.Fatal(err)
	}
	m := tw.introspect(at)
	if active, _ := m["active"].(bool); !active || jkt(m) != key.Thumbprint {
		t.Fatalf("introspection of the access token: %v; want active and cnf.jkt %s", m, key.Thumbprint)
	}

	// Past the access token's life: one refresh, with a TPM-signed proof.
	before, err := tw.op.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Second)
	at2, err := tw.fill()
	if err != nil {
		t.Fatal(err)
	}
	after, _ := tw.op.Stats(context.Background())
	if at2 == at || after.Refreshes-before.Refreshes != 1 || after.DPoPTokenRequests <= before.DPoPTokenRequests {
		t.Fatalf("refresh: new token %v, refreshes %d→%d, DPoP token requests %d→%d",
			at2 != at, before.Refreshes, after.Refreshes, before.DPoPTokenRequests, after.DPoPTokenRequests)
	}
	if m := tw.introspect(at2); jkt(m) != key.Thumbprint {
		t.Fatalf("refreshed token not bound: %v", m)
	}
	tw.mustRun("git", "-C", filepath.Join(tw.work, "app"), "pull", "-q")

	// The refresh token, copied out of the store by someone who can use
	// this TPM (the agent stopped, so the swtpm is free), and replayed
	// from another machine: without the device key the provider refuses
	// it, with a proof from another key too.
	tw.stopAgent()
	rt := sealedRefreshToken(t, tw)
	if code := replayRefresh(t, tw.op, rt, nil); code != "invalid_grant" {
		t.Errorf("stolen refresh token without a proof: %q, want invalid_grant", code)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	thief, _ := dpop.NewProver(other)
	if code := replayRefresh(t, tw.op, rt, thief); code != "invalid_grant" {
		t.Errorf("stolen refresh token with another key's proof: %q, want invalid_grant", code)
	}
	// The agent, with the TPM key, still refreshes (the refusals above
	// did not consume the token).
	time.Sleep(10 * time.Second)
	if _, err := tw.fill(); err != nil {
		t.Fatalf("the rightful refresh after the replays: %v", err)
	}
	noSecretsAnywhere(t, tw.world, []string{at, at2, rt})

	// The TPM is cleared or replaced: the sealed session cannot be opened,
	// the next use says to sign in again, the stale entry is gone, and
	// nothing crashes.
	tw.stopAgent()
	if err := tw.tpm.Replace(); err != nil {
		t.Fatal(err)
	}
	r := tw.run("protocol=http\nhost="+strings.TrimPrefix(tw.git.URL, "http://")+"\n\n", "git-credential-mayfly", "get")
	if !strings.Contains(r.stderr, "sign in again") || strings.Contains(r.stderr, "panic") {
		t.Fatalf("after the TPM was replaced: exit %d, stderr %q", r.code, r.stderr)
	}
	if p := tw.fullStatus().Profiles[0]; p.SignedIn {
		t.Fatalf("still signed in after the TPM was replaced: %+v", p)
	}
	// A new sign-in works on the new TPM, with a new device key.
	tw.loginDevice()
	if k := tw.keyShow(); k.Thumbprint == key.Thumbprint || !k.Hardware {
		t.Fatalf("device key after the TPM was replaced: %+v", k)
	}
	if _, err := tw.fill(); err != nil {
		t.Fatal(err)
	}
}

// sealedRefreshToken reads the session's refresh token from the
// TPM-sealed store the way the agent does, with the same TPM: what malware
// running as the user could do while the TPM is at hand, and exactly what
// it cannot take to another machine.
func sealedRefreshToken(t *testing.T, tw *tpmWorld) string {
	t.Helper()
	ctx := context.Background()
	dev, err := tpm.Open(tw.tpm.Spec())
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	st, err := backendtpm.Open(dev, filepath.Join(tw.dir, "state", "mayfly", "tpm"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "session/") {
			continue
		}
		b, err := st.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			RefreshToken string `json:"refresh_token"`
		}
		if err := json.Unmarshal(b, &rec); err != nil || len(rec.RefreshToken) < 16 {
			t.Fatalf("session record %s: %v", k, err)
		}
		return rec.RefreshToken
	}
	t.Fatalf("no session in the sealed store (keys %q)", keys)
	return ""
}

// replayRefresh presents rt at the token endpoint as the public client,
// with a DPoP proof from p if p is not nil, and returns the OAuth error
// code ("" on success).
func replayRefresh(t *testing.T, op *testpeers.OIDCProvider, rt string, p *dpop.Prover) string {
	t.Helper()
	tokenURL := op.Issuer + "/token"
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {testpeers.OIDCProviderClientID}}
	for try := 0; try < 2; try++ {
		req, _ := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		var hc http.Client
		if p != nil {
			hc.Transport = &dpop.Transport{Prover: p, DPoP: true, TokenURL: tokenURL}
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Error string `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return ""
		}
		if e.Error != "use_dpop_nonce" {
			return e.Error
		}
	}
	return "use_dpop_nonce"
}

// TestPrivateKeyJWTWithTPMKey: a confidential client registered with the
// device key's public JWK (from `mayfly key show`) authenticates every
// token, device and revocation request with a TPM-signed assertion; its
// tokens are DPoP-bound too; `mayfly logout --all` revokes at the provider,
// whose introspection then reports both tokens inactive.
func TestPrivateKeyJWTWithTPMKey(t *testing.T) {
	tw := newTPMWorld(t)
	tw.writeConfig(fmt.Sprintf("tpm = %q\nstore = \"tpm\"\n", tw.tpm.Spec()))
	jwks := tw.mustRun("mayfly", "key", "show")
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal([]byte(jwks.stdout), &set); err != nil || len(set.Keys) != 1 || set.Keys[0]["d"] != nil {
		t.Fatalf("mayfly key show printed %q (%v)", jwks.stdout, err)
	}
	key := tw.keyShow()
	tw.stopAgent()
	tw.useProvider([]byte(jwks.stdout), fmt.Sprintf("client_id = %q\nclient_auth = \"private_key_jwt\"\ndpop = true", testpeers.OIDCProviderPKJWTClientID))

	tw.loginDevice()
	at, err := tw.fill()
	if err != nil {
		t.Fatal(err)
	}
	m := tw.introspect(at)
	if active, _ := m["active"].(bool); !active || m["client_id"] != testpeers.OIDCProviderPKJWTClientID || jkt(m) != key.Thumbprint {
		t.Fatalf("introspection: %v", m)
	}
	tw.mustRun("git", "clone", "-q", tw.git.URL+"/app.git", filepath.Join(tw.work, "app"))

	tw.stopAgent()
	rt := sealedRefreshToken(t, tw)
	out := tw.mustRun("mayfly", "logout", "--all")
	if !strings.Contains(out.stderr, "revoked at the provider") {
		t.Fatalf("logout --all: %q", out.stderr)
	}
	for name, tok := range map[string]string{"refresh": rt, "access": at} {
		if m := tw.introspect(tok); m["active"] != false {
			t.Errorf("%s token after logout --all: %v, want inactive", name, m)
		}
	}
	noSecretsAnywhere(t, tw.world, []string{at, rt})
}

// TestDPoPBrowserSoftwareKey: without a TPM the device key is a software
// key, reported as such; the browser flow binds the authorization code to it
// (dpop_jkt, RFC 9449 §10) and the tokens to it (cnf.jkt).
func TestDPoPBrowserSoftwareKey(t *testing.T) {
	w := newBareWorld(t)
	tw := &tpmWorld{world: w}
	if err := os.MkdirAll(filepath.Join(w.dir, "op"), 0o700); err != nil {
		t.Fatal(err)
	}
	tw.op = startOIDCProvider(t, testpeers.OIDCProviderOptions{WorkDir: filepath.Join(w.dir, "op"), DPoPNonce: true})
	w.issuer = tw.op.Issuer
	w.git = testpeers.StartGitServerWith(introspector{tw.op}, filepath.Join(w.dir, "repos"))
	t.Cleanup(w.git.Close)
	if err := w.git.CreateRepo("app", "# app\n"); err != nil {
		t.Fatal(err)
	}
	// A TPM address where none listens: no TPM, whatever this machine has.
	w.writeConfig(fmt.Sprintf(`tpm = "unix:%s"

[profiles.corp]
issuer = %q
client_id = %q
scopes = ["openid", "offline_access", "email"]
flow = "browser"
match = [%q]
dpop = true
`, filepath.Join(w.dir, "no-tpm.sock"), tw.op.Issuer, testpeers.OIDCProviderClientID, w.git.URL+"/"))
	w.mustRun("git", "config", "--global", "credential."+w.git.URL+".helper", "mayfly")
	t.Cleanup(w.stopAgent)

	key := tw.keyShow()
	if key.Hardware || key.Provider != "software" {
		t.Fatalf("device key without a TPM: %+v", key)
	}
	st := tw.fullStatus()
	if st.TPM == nil || st.TPM.Usable || st.TPM.Problem == "" {
		t.Errorf("status TPM without one: %+v", st.TPM)
	}

	w.loginBrowserWith(func(ctx context.Context, u string) error {
		if !strings.Contains(u, "dpop_jkt="+key.Thumbprint) {
			t.Errorf("authorization URL without dpop_jkt=%s: %s", key.Thumbprint, u)
		}
		return tw.op.BrowserSignIn(ctx, u)
	})
	w.mustRun("git", "clone", "-q", w.git.URL+"/app.git", filepath.Join(w.work, "app"))
	at, err := w.fill()
	if err != nil {
		t.Fatal(err)
	}
	if m := tw.introspect(at); jkt(m) != key.Thumbprint {
		t.Fatalf("introspection: %v, want cnf.jkt %s", m, key.Thumbprint)
	}
}
