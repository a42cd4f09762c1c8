package testpeers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"
)

// startZitadelOP starts the OP for t, or skips t when it is not installed
// (fails under MAYFLY_REQUIRE_PEERS=1). Its log is shown when t fails.
func startZitadelOP(t *testing.T, user string) *ZitadelOP {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: needs zitadel-op")
	}
	bin, err := FindZitadelOP()
	if err != nil {
		if os.Getenv("MAYFLY_REQUIRE_PEERS") == "1" {
			t.Fatalf("MAYFLY_REQUIRE_PEERS=1 but %v", err)
		}
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	z, err := StartZitadelOP(ctx, ZitadelOPOptions{Bin: bin, WorkDir: t.TempDir(), User: user})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		z.Close()
		if t.Failed() {
			log, _ := os.ReadFile(z.LogPath)
			t.Logf("zitadel-op log:\n%s", tail(log, 4000))
		}
	})
	return z
}

func zitadelConfig(z *ZitadelOP, redirectURL string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: z.ClientID,
		Endpoint: oauth2.Endpoint{
			AuthURL:       z.Issuer + "/auth",
			DeviceAuthURL: z.Issuer + "/device_authorization",
			TokenURL:      z.Issuer + "/oauth/token",
			AuthStyle:     oauth2.AuthStyleInParams,
		},
		RedirectURL: redirectURL,
		Scopes:      []string{"openid", "offline_access", "email"},
	}
}

// zitadelSignIn runs the code flow with PKCE on a loopback redirect, the
// person signing in through BrowserSignIn.
func zitadelSignIn(t *testing.T, z *ZitadelOP) *oauth2.Token {
	t.Helper()
	ctx := t.Context()
	got := make(chan url.Values, 1)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case got <- r.URL.Query():
		default:
		}
		fmt.Fprintln(w, "Signed in")
	}))
	defer cb.Close()
	cfg := zitadelConfig(z, cb.URL+"/callback")
	verifier := oauth2.GenerateVerifier()
	if err := z.BrowserSignIn(ctx, cfg.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier))); err != nil {
		t.Fatal(err)
	}
	var q url.Values
	select {
	case q = <-got:
	default:
		t.Fatal("the loopback redirect URI got no request")
	}
	if q.Get("state") != "st-1" || q.Get("code") == "" {
		t.Fatalf("callback: state %q, code %t", q.Get("state"), q.Get("code") != "")
	}
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("code flow: access token %t, refresh token %t; want both", tok.AccessToken != "", tok.RefreshToken != "")
	}
	return tok
}

// zitadelExchange asks for an access token for audience in exchange for
// subject, as the public client (client_id in the form, no secret).
func zitadelExchange(ctx context.Context, z *ZitadelOP, subject, audience string) (string, map[string]any, error) {
	form := url.Values{
		"grant_type":           {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"client_id":            {z.ClientID},
		"subject_token":        {subject},
		"subject_token_type":   {"urn:ietf:params:oauth:token-type:access_token"},
		"requested_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
		"audience":             {audience},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, z.Issuer+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return "", out, fmt.Errorf("token exchange: %s: %v %v", resp.Status, out["error"], out["error_description"])
	}
	at, _ := out["access_token"].(string)
	return at, out, nil
}

// TestZitadelOPExchange: the public client signs in with the code flow and
// trades its access token for JWTs whose aud is what it asked for, each
// accepted only by a resource server of that audience; refresh rotates; a
// non-admin may not exchange.
func TestZitadelOPExchange(t *testing.T) {
	t.Parallel()
	z := startZitadelOP(t, "")
	ctx := t.Context()
	tok := zitadelSignIn(t, z)

	gitV, err := NewTokenVerifier(ctx, z.Issuer, "git-server")
	if err != nil {
		t.Fatal(err)
	}
	kubeV, err := NewTokenVerifier(ctx, z.Issuer, "kube-api")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gitV.Verify(ctx, tok.AccessToken); err != errWrongAudience {
		t.Errorf("the sign-in's own access token at the git audience: %v, want %v", err, errWrongAudience)
	}
	gitTok, out, err := zitadelExchange(ctx, z, tok.AccessToken, "git-server")
	if err != nil {
		t.Fatal(err)
	}
	if out["issued_token_type"] != "urn:ietf:params:oauth:token-type:access_token" || out["token_type"] != "Bearer" || out["expires_in"] == nil {
		t.Errorf("exchange answer %v", out)
	}
	kubeTok, _, err := zitadelExchange(ctx, z, tok.AccessToken, "kube-api")
	if err != nil {
		t.Fatal(err)
	}
	if sub, err := gitV.Verify(ctx, gitTok); err != nil || sub != ZitadelUser {
		t.Errorf("git token at git: %q, %v", sub, err)
	}
	if sub, err := kubeV.Verify(ctx, kubeTok); err != nil || sub != ZitadelUser {
		t.Errorf("kube token at kube: %q, %v", sub, err)
	}
	if _, err := gitV.Verify(ctx, kubeTok); err != errWrongAudience {
		t.Errorf("kube token at git: %v, want %v", err, errWrongAudience)
	}
	if _, err := kubeV.Verify(ctx, gitTok); err != errWrongAudience {
		t.Errorf("git token at kube: %v, want %v", err, errWrongAudience)
	}

	cfg := zitadelConfig(z, "")
	tok2, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if tok2.RefreshToken == "" || tok2.RefreshToken == tok.RefreshToken {
		t.Error("refresh did not rotate the refresh token")
	}
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	opWantError(t, "replaying the rotated refresh token", err, "invalid_grant")

	s, err := z.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := ZitadelStats{
		TokenRequests: map[string]int{"authorization_code": 1, "urn:ietf:params:oauth:grant-type:token-exchange": 2, "refresh_token": 2},
		TokenErrors:   map[string]int{"invalid_grant": 1},
		Exchanged:     map[string]int{"git-server": 1, "kube-api": 1},
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}

	t.Run("non-admin", func(t *testing.T) {
		t.Parallel()
		z := startZitadelOP(t, ZitadelNonAdmin)
		tok := zitadelSignIn(t, z)
		_, out, err := zitadelExchange(t.Context(), z, tok.AccessToken, "git-server")
		if err == nil || !strings.Contains(fmt.Sprint(out["error_description"]), "impersonation") {
			t.Errorf("a non-admin's exchange: %v", err)
		}
	})
}

// TestZitadelOPDevice: the device flow, approved at the OP's pages, gives
// the public client a refresh token that refreshes.
func TestZitadelOPDevice(t *testing.T) {
	t.Parallel()
	z := startZitadelOP(t, "")
	ctx := t.Context()
	cfg := zitadelConfig(z, "")
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if da.VerificationURI != z.Issuer+"/device" {
		t.Errorf("verification URI %q", da.VerificationURI)
	}
	if err := z.ApproveDevice(ctx, "WRONG-CODE"); err == nil {
		t.Error("approving an unknown user code succeeded")
	}
	if err := z.ApproveDevice(ctx, da.UserCode); err != nil {
		t.Fatal(err)
	}
	da.Interval = 1 // approved already: no need for the OP's 5s
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("device flow: no refresh token")
	}
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
		t.Errorf("refresh after the device flow: %v", err)
	}
}
