//go:build linux

package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mayflyhq/mayfly/internal/auditlog"
	"github.com/mayflyhq/mayfly/internal/testpeers"
)

// startZitadelOP starts zitadel/oidc's example OP for t, or skips t when it
// is not installed (fails under MAYFLY_REQUIRE_PEERS=1).
func startZitadelOP(t *testing.T, dir string) *testpeers.ZitadelOP {
	t.Helper()
	bin, err := testpeers.FindZitadelOP()
	if err != nil {
		if requirePeers() {
			t.Fatalf("zitadel-op: %v", err)
		}
		t.Skipf("no zitadel-op (%v); run scripts/install-peers.sh", err)
	}
	z, err := testpeers.StartZitadelOP(context.Background(), testpeers.ZitadelOPOptions{Bin: bin, WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	return z
}

// jwtClaims decodes a JWT's audience and subject without verifying it.
func jwtClaims(t *testing.T, tok string) (aud []string, sub string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token is not a JWT (%d parts)", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Aud any    `json:"aud"` // a string or a list (RFC 7519 §4.1.3)
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	switch a := c.Aud.(type) {
	case string:
		aud = []string{a}
	case []any:
		for _, s := range a {
			str, _ := s.(string)
			aud = append(aud, str)
		}
	}
	return aud, c.Sub
}

// status answers a GET of u with tok, as Basic password (git) or Bearer.
func statusWith(t *testing.T, hc *http.Client, u, tok string, basic bool) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if basic {
		req.SetBasicAuth("oauth2", tok)
	} else {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestTokenExchangePerConsumer: one sign-in at a provider that exchanges
// its own tokens (zitadel/oidc's example OP), and a profile that gives git
// and kubectl each a token for its own service by RFC 8693 token exchange.
// Real git clones from a server that accepts only aud git-server, real
// kubectl reads an API server that accepts only aud kube-api; the two
// tokens differ and each server refuses the other's; the agent exchanges
// once per consumer and serves later calls from its cache; the audit log
// names each consumer's token and audience.
func TestTokenExchangePerConsumer(t *testing.T) {
	kubectlBin(t) // skip early without kubectl
	w := newBareWorld(t)
	ctx := context.Background()
	zdir := filepath.Join(w.dir, "zitadel")
	if err := os.MkdirAll(zdir, 0o700); err != nil {
		t.Fatal(err)
	}
	z := startZitadelOP(t, zdir)
	w.issuer, w.approve = z.Issuer, z.ApproveDevice
	var err error
	w.git, err = testpeers.StartGitServer(ctx, z.Issuer, "git-server", filepath.Join(w.dir, "repos"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.git.Close)
	if err := w.git.CreateRepo("app", "# app\n"); err != nil {
		t.Fatal(err)
	}
	k, err := testpeers.StartKubeAPI(ctx, z.Issuer, "kube-api")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	w.writeConfig(`[agent]
idle_timeout = "10m"

[profiles.corp]
issuer = "` + z.Issuer + `"
client_id = "` + z.ClientID + `"
scopes = ["openid", "offline_access", "email", "profile"]
flow = "browser"
match = ["` + w.git.URL + `/", "` + k.URL + `/"]

[profiles.corp.exchange.git]
audience = "git-server"

[profiles.corp.exchange.kubectl]
audience = "kube-api"
`)
	w.mustRun("git", "config", "--global", "credential."+w.git.URL+".helper", "mayfly")
	t.Cleanup(w.stopAgent) // before the peers go
	kubeconfig := w.writeKubeconfig("kubeconfig.yaml", k, "v1", "Never")

	w.loginBrowserWith(z.BrowserSignIn)
	if st := w.status(); !st.SignedIn || !st.RefreshToken {
		t.Fatalf("after browser login: %+v", st)
	}

	// The real consumers.
	w.mustRun("git", "clone", "-q", w.git.URL+"/app.git", "app")
	w.kubectlVersion(kubeconfig)
	if _, rejected := w.git.Stats(); rejected != 0 {
		t.Errorf("the git server rejected %d requests: %q", rejected, w.git.Log())
	}
	if _, rejected := k.Stats(); rejected != 0 {
		t.Errorf("the API server rejected %d requests: %q", rejected, k.Log())
	}

	// The tokens each consumer holds.
	gitTok, err := w.fill()
	if err != nil {
		t.Fatal(err)
	}
	pr := w.runPlugin(execInfo(k, false))
	var ec struct {
		Status struct {
			Token string `json:"token"`
		} `json:"status"`
	}
	if pr.code != 0 || json.Unmarshal([]byte(pr.stdout), &ec) != nil || ec.Status.Token == "" {
		t.Fatalf("kubectl-mayfly: exit %d, stdout %q, stderr %q", pr.code, pr.stdout, pr.stderr)
	}
	kubeTok := ec.Status.Token
	if gitTok == kubeTok {
		t.Fatal("git and kubectl got the same token")
	}
	gitAud, gitSub := jwtClaims(t, gitTok)
	kubeAud, kubeSub := jwtClaims(t, kubeTok)
	if !slices.Equal(gitAud, []string{"git-server"}) || !slices.Equal(kubeAud, []string{"kube-api"}) {
		t.Errorf("aud: git %q, kubectl %q; want [git-server] and [kube-api]", gitAud, kubeAud)
	}
	if gitSub != testpeers.ZitadelUser || kubeSub != testpeers.ZitadelUser {
		t.Errorf("sub: git %q, kubectl %q; want both %q", gitSub, kubeSub, testpeers.ZitadelUser)
	}

	// Each server takes its own token and refuses the other's.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(k.CAPEM)
	kubeHTTP := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	refs := w.git.URL + "/app.git/info/refs?service=git-upload-pack"
	for _, c := range []struct {
		what  string
		hc    *http.Client
		u     string
		tok   string
		basic bool
		want  int
	}{
		{"git token at git", http.DefaultClient, refs, gitTok, true, http.StatusOK},
		{"kubectl token at git", http.DefaultClient, refs, kubeTok, true, http.StatusUnauthorized},
		{"kubectl token at the API server", kubeHTTP, k.URL + "/version", kubeTok, false, http.StatusOK},
		{"git token at the API server", kubeHTTP, k.URL + "/version", gitTok, false, http.StatusUnauthorized},
	} {
		if got := statusWith(t, c.hc, c.u, c.tok, c.basic); got != c.want {
			t.Errorf("%s: %d, want %d", c.what, got, c.want)
		}
	}
	gitLog, kubeLog := strings.Join(w.git.Log(), "\n"), strings.Join(k.Log(), "\n")
	if !strings.Contains(gitLog, "wrong audience") || !strings.Contains(kubeLog, "wrong audience") {
		t.Errorf("a refusal was not for the audience:\ngit:\n%s\nAPI server:\n%s", gitLog, kubeLog)
	}

	// A second git call, and another kubectl: served from the agent's cache.
	w.mustRun("git", "-C", "app", "fetch", "-q")
	w.kubectlVersion(kubeconfig)
	if again, err := w.fill(); err != nil || again != gitTok {
		t.Errorf("a later fill got another token (%v)", err)
	}
	s, err := z.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := testpeers.ZitadelStats{
		TokenRequests: map[string]int{"authorization_code": 1, "urn:ietf:params:oauth:grant-type:token-exchange": 2},
		TokenErrors:   map[string]int{},
		Exchanged:     map[string]int{"git-server": 1, "kube-api": 1},
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("token requests at the provider (-want +got):\n%s", diff)
	}

	// The audit log: every token handed out was the consumer's own.
	byConsumer := map[string][]auditlog.Event{}
	for _, e := range eventsOf(w.auditEvents(), auditlog.TokenIssued) {
		byConsumer[e.Consumer] = append(byConsumer[e.Consumer], e)
	}
	for _, c := range []struct {
		consumer, aud, tok string
	}{{"git", "git-server", gitTok}, {"kubectl", "kube-api", kubeTok}} {
		events := byConsumer[c.consumer]
		if len(events) < 2 {
			t.Errorf("%d token_issued events for %s, want at least 2", len(events), c.consumer)
		}
		for _, e := range events {
			if e.Profile != "corp" || !slices.Equal(e.Audience, []string{c.aud}) || e.TokenSHA256 != auditlog.TokenHash(c.tok) {
				t.Errorf("token_issued for %s: profile %s, aud %q, token %s; want corp, [%s], %s",
					c.consumer, e.Profile, e.Audience, e.TokenSHA256, c.aud, auditlog.TokenHash(c.tok))
			}
		}
	}
	if len(byConsumer) != 2 {
		t.Errorf("token_issued for consumers %v, want git and kubectl only", slices.Sorted(maps.Keys(byConsumer)))
	}
	r := w.mustRun("mayfly", "log", "--json")
	for _, want := range []string{`"consumer":"git"`, `"aud":["git-server"]`, `"consumer":"kubectl"`, `"aud":["kube-api"]`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("mayfly log --json has no %s:\n%s", want, r.stdout)
		}
	}
	for _, tok := range []string{gitTok, kubeTok} {
		if strings.Contains(r.stdout, tok) {
			t.Error("mayfly log --json shows a token")
		}
	}
}
