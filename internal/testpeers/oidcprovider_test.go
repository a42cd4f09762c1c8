package testpeers

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"
)

// opInstalled returns the installed oidc-provider, or skips t when there is
// none (fails under MAYFLY_REQUIRE_PEERS=1).
func opInstalled(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: needs oidc-provider")
	}
	dir, err := FindOIDCProvider()
	if err != nil {
		if os.Getenv("MAYFLY_REQUIRE_PEERS") == "1" {
			t.Fatalf("MAYFLY_REQUIRE_PEERS=1 but %v", err)
		}
		t.Skip(err)
	}
	return dir
}

// startOIDCProvider starts a real oidc-provider for t (see opInstalled). Its
// log is shown when t fails.
func startOIDCProvider(t *testing.T, opt OIDCProviderOptions) *OIDCProvider {
	t.Helper()
	opt.Dir, opt.WorkDir = opInstalled(t), t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	start := time.Now()
	p, err := StartOIDCProvider(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("oidc-provider up at %s in %v", p.Issuer, time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		p.Close()
		if t.Failed() {
			log, _ := os.ReadFile(p.LogPath)
			t.Logf("oidc-provider log:\n%s", log)
		}
	})
	return p
}

func opConfig(p *OIDCProvider, redirectURL string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: p.ClientID,
		Endpoint: oauth2.Endpoint{
			AuthURL:       p.Issuer + "/auth",
			DeviceAuthURL: p.Issuer + "/device/auth",
			TokenURL:      p.Issuer + "/token",
			AuthStyle:     oauth2.AuthStyleInParams,
		},
		RedirectURL: redirectURL,
		Scopes:      []string{"openid", "offline_access", "email"},
	}
}

// opDeviceTokens runs the device flow, the person approving it at the
// provider's pages.
func opDeviceTokens(t *testing.T, ctx context.Context, p *OIDCProvider, cfg *oauth2.Config) *oauth2.Token {
	t.Helper()
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ApproveDevice(ctx, da.UserCode); err != nil {
		t.Fatal(err)
	}
	// oidc-provider sends no interval, so x/oauth2 would wait RFC 8628's
	// default 5s before its first poll; the code is approved already.
	da.Interval = 1
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("device flow: access token %t, refresh token %t; want both", tok.AccessToken != "", tok.RefreshToken != "")
	}
	return tok
}

func opRefresh(ctx context.Context, cfg *oauth2.Config, rt string) (*oauth2.Token, error) {
	return cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
}

func opWantError(t *testing.T, what string, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != code {
		t.Errorf("%s: got %v, want OAuth error %s", what, err, code)
	}
}

func opWantActive(t *testing.T, ctx context.Context, p *OIDCProvider, what, token string, want bool) map[string]any {
	t.Helper()
	got, err := p.Introspect(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if got["active"] != want {
		t.Errorf("introspect %s: active = %v, want %v (%v)", what, got["active"], want, got)
	}
	return got
}

func opStats(t *testing.T, ctx context.Context, p *OIDCProvider) OIDCStats {
	t.Helper()
	s, err := p.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOIDCProviderStartFails: when server.mjs dies at start, the error says
// so and carries its log.
func TestOIDCProviderStartFails(t *testing.T) {
	t.Parallel()
	dir := opInstalled(t)
	_, err := StartOIDCProvider(t.Context(), OIDCProviderOptions{Dir: dir, WorkDir: t.TempDir(), ClientJWKS: []byte("{not json")})
	if err == nil || !strings.Contains(err.Error(), "node exited") || !strings.Contains(err.Error(), "JSON") {
		t.Fatalf("start with a broken JWKS: %v", err)
	}
}

// TestOIDCProviderDiscovery checks what the server advertises and that the
// private_key_jwt client is registered with the given keys.
func TestOIDCProviderDiscovery(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p := startOIDCProvider(t, OIDCProviderOptions{ClientJWKS: opPublicJWKS(t, key, "k1")})
	ctx := t.Context()
	var d struct {
		Issuer               string   `json:"issuer"`
		DeviceEndpoint       string   `json:"device_authorization_endpoint"`
		RevocationEndpoint   string   `json:"revocation_endpoint"`
		IntrospectionEnpoint string   `json:"introspection_endpoint"`
		Scopes               []string `json:"scopes_supported"`
		GrantTypes           []string `json:"grant_types_supported"`
		PKCEMethods          []string `json:"code_challenge_methods_supported"`
		AuthMethods          []string `json:"token_endpoint_auth_methods_supported"`
		AuthSigningAlgs      []string `json:"token_endpoint_auth_signing_alg_values_supported"`
		DPoPAlgs             []string `json:"dpop_signing_alg_values_supported"`
		ISSParameter         bool     `json:"authorization_response_iss_parameter_supported"`
	}
	if err := p.getJSON(ctx, "/.well-known/openid-configuration", &d); err != nil {
		t.Fatal(err)
	}
	if d.Issuer != p.Issuer || d.DeviceEndpoint != p.Issuer+"/device/auth" ||
		d.RevocationEndpoint != p.Issuer+"/token/revocation" || d.IntrospectionEnpoint != p.Issuer+"/token/introspection" {
		t.Errorf("discovery endpoints: %+v", d)
	}
	for _, c := range []struct {
		name string
		list []string
		want []string
	}{
		{"scopes_supported", d.Scopes, []string{"openid", "offline_access", "email", "profile"}},
		{"grant_types_supported", d.GrantTypes, []string{"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"}},
		{"code_challenge_methods_supported", d.PKCEMethods, []string{"S256"}},
		{"token_endpoint_auth_methods_supported", d.AuthMethods, []string{"none", "private_key_jwt"}},
		{"token_endpoint_auth_signing_alg_values_supported", d.AuthSigningAlgs, []string{"ES256"}},
		{"dpop_signing_alg_values_supported", d.DPoPAlgs, []string{"ES256"}},
	} {
		for _, w := range c.want {
			if !slices.Contains(c.list, w) {
				t.Errorf("%s = %q, lacks %q", c.name, c.list, w)
			}
		}
	}
	if !d.ISSParameter {
		t.Error("authorization_response_iss_parameter_supported is false")
	}
	if p.PKJWTClientID != OIDCProviderPKJWTClientID {
		t.Errorf("PKJWTClientID = %q", p.PKJWTClientID)
	}

	// The confidential client authenticates with a JWT signed by its key,
	// and not with another key.
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key    *ecdsa.PrivateKey
		status int
	}{{key, http.StatusOK}, {other, http.StatusUnauthorized}} {
		form := url.Values{
			"client_id":             {p.PKJWTClientID},
			"scope":                 {"openid offline_access"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {opClientAssertion(t, c.key, "k1", p.PKJWTClientID, p.Issuer)},
		}
		resp, err := http.PostForm(p.Issuer+"/device/auth", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("device authorization with private_key_jwt (right key %t): %s, want %d", c.key == key, resp.Status, c.status)
		}
	}
}

// TestOIDCProviderRefreshReuse: the device flow gives an access and a
// refresh token; a refresh rotates the refresh token; presenting the old one
// again fails and revokes the whole grant, so the new one fails too.
func TestOIDCProviderRefreshReuse(t *testing.T) {
	t.Parallel()
	p := startOIDCProvider(t, OIDCProviderOptions{ATTTL: 30 * time.Second})
	ctx := t.Context()
	cfg := opConfig(p, "")
	tok := opDeviceTokens(t, ctx, p, cfg)
	if tok.ExpiresIn != 30 {
		t.Errorf("expires_in = %d, want ATTTL 30", tok.ExpiresIn)
	}
	if scope, _ := tok.Extra("scope").(string); !slices.Contains(strings.Fields(scope), "offline_access") {
		t.Errorf("device flow scope = %q, want offline_access in it", scope)
	}
	if tok.Extra("id_token") == nil {
		t.Error("device flow: no id_token")
	}
	info := opWantActive(t, ctx, p, "access token", tok.AccessToken, true)
	if info["client_id"] != p.ClientID || info["sub"] != User {
		t.Errorf("introspection: client_id %v, sub %v; want %s, %s", info["client_id"], info["sub"], p.ClientID, User)
	}

	tok2, err := opRefresh(ctx, cfg, tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if tok2.RefreshToken == "" || tok2.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh did not rotate the refresh token")
	}
	if tok2.AccessToken == tok.AccessToken {
		t.Fatalf("refresh returned the same access token")
	}
	opWantActive(t, ctx, p, "refreshed access token", tok2.AccessToken, true)
	if s := opStats(t, ctx, p); s.Refreshes != 1 || s.GrantsRevoked != 0 {
		t.Errorf("after one refresh: %+v", s)
	}

	_, err = opRefresh(ctx, cfg, tok.RefreshToken)
	opWantError(t, "replaying the rotated refresh token", err, "invalid_grant")
	_, err = opRefresh(ctx, cfg, tok2.RefreshToken)
	opWantError(t, "the new refresh token after reuse", err, "invalid_grant")
	opWantActive(t, ctx, p, "access token after reuse", tok2.AccessToken, false)

	s := opStats(t, ctx, p)
	want := OIDCStats{
		TokenRequests:   map[string]int{"urn:ietf:params:oauth:grant-type:device_code": 1, "refresh_token": 3},
		TokenErrors:     map[string]int{"invalid_grant": 2},
		Refreshes:       1,
		GrantsRevoked:   1,
		GrantsRevokedAt: map[string]int{"token": 1},
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

// TestOIDCProviderRevocation: RFC 7009 revocation of the refresh token by
// the public client revokes the grant: the refresh token and the access
// token both introspect inactive and the refresh fails. Revoking the access
// token kills the refresh token too.
func TestOIDCProviderRevocation(t *testing.T) {
	t.Parallel()
	p := startOIDCProvider(t, OIDCProviderOptions{RTTTL: time.Hour})
	ctx := t.Context()
	cfg := opConfig(p, "")
	tok := opDeviceTokens(t, ctx, p, cfg)
	opWantActive(t, ctx, p, "access token", tok.AccessToken, true)
	info := opWantActive(t, ctx, p, "refresh token", tok.RefreshToken, true)
	if exp, iat := info["exp"].(float64), info["iat"].(float64); exp-iat != 3600 {
		t.Errorf("refresh token lives %vs, want RTTTL 3600s", exp-iat)
	}
	if err := p.Revoke(ctx, tok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	opWantActive(t, ctx, p, "revoked refresh token", tok.RefreshToken, false)
	opWantActive(t, ctx, p, "access token of the revoked grant", tok.AccessToken, false)
	_, err := opRefresh(ctx, cfg, tok.RefreshToken)
	opWantError(t, "refresh with a revoked refresh token", err, "invalid_grant")
	if s := opStats(t, ctx, p); s.GrantsRevokedAt["revocation"] != 1 || s.Refreshes != 0 {
		t.Errorf("stats after revocation: %+v", s)
	}
	// Unknown tokens revoke "successfully" too (RFC 7009 §2.2).
	if err := p.Revoke(ctx, "not-a-token"); err != nil {
		t.Error(err)
	}

	// Revoking an access token takes the grant's refresh token with it.
	tok = opDeviceTokens(t, ctx, p, cfg)
	if err := p.Revoke(ctx, tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	opWantActive(t, ctx, p, "revoked access token", tok.AccessToken, false)
	opWantActive(t, ctx, p, "refresh token of a revoked access token", tok.RefreshToken, false)
	_, err = opRefresh(ctx, cfg, tok.RefreshToken)
	opWantError(t, "refresh after revoking the access token", err, "invalid_grant")
}

// TestOIDCProviderCodeFlow: the code flow with PKCE on a loopback redirect
// (any port), the person signing in through BrowserSignIn, gives a refresh
// token without prompt=consent; with StrictOfflineAccess only with it.
func TestOIDCProviderCodeFlow(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		strict bool
		prompt string
		wantRT bool
	}{
		{"default", false, "", true},
		{"strict", true, "", false},
		{"strict+consent", true, "consent", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := startOIDCProvider(t, OIDCProviderOptions{StrictOfflineAccess: c.strict})
			ctx := t.Context()
			got := make(chan url.Values, 1)
			cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/callback" {
					http.NotFound(w, r)
					return
				}
				select {
				case got <- r.URL.Query():
				default:
				}
				fmt.Fprintln(w, "Signed in")
			}))
			defer cb.Close()
			cfg := opConfig(p, cb.URL+"/callback")
			verifier := oauth2.GenerateVerifier()
			opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
			if c.prompt != "" {
				opts = append(opts, oauth2.SetAuthURLParam("prompt", c.prompt))
			}
			if err := p.BrowserSignIn(ctx, cfg.AuthCodeURL("st-123", opts...)); err != nil {
				t.Fatal(err)
			}
			var q url.Values
			select {
			case q = <-got:
			default:
				t.Fatal("the loopback redirect URI got no request")
			}
			if q.Get("state") != "st-123" || q.Get("iss") != p.Issuer || q.Get("code") == "" {
				t.Fatalf("callback query: state %q, iss %q, code %t", q.Get("state"), q.Get("iss"), q.Get("code") != "")
			}
			if _, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption("wrong-"+verifier)); err == nil {
				t.Fatal("exchange with a wrong PKCE verifier succeeded")
			}
			// The failed attempt does not burn the code.
			tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			if tok.AccessToken == "" || (tok.RefreshToken != "") != c.wantRT {
				t.Fatalf("code flow: access token %t, refresh token %t; want refresh token %t (scope %q)",
					tok.AccessToken != "", tok.RefreshToken != "", c.wantRT, tok.Extra("scope"))
			}
			if !c.wantRT {
				return
			}
			if scope, _ := tok.Extra("scope").(string); !slices.Contains(strings.Fields(scope), "offline_access") {
				t.Errorf("code flow scope = %q, want offline_access in it", scope)
			}
			if _, err := opRefresh(ctx, cfg, tok.RefreshToken); err != nil {
				t.Errorf("refresh after the code flow: %v", err)
			}
		})
	}
}

// TestOIDCProviderDPoPOptions checks the server's DPoP settings under
// DPoPNonce (Mayfly's own DPoP signer is tested elsewhere): a server nonce
// is required, tokens are DPoP-bound, and so is the public client's refresh
// token. The server checks that binding before it looks for reuse, so a
// rotated refresh token replayed without the key revokes nothing.
func TestOIDCProviderDPoPOptions(t *testing.T) {
	t.Parallel()
	p := startOIDCProvider(t, OIDCProviderOptions{DPoPNonce: true})
	ctx := t.Context()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	da, err := opConfig(p, "").DeviceAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ApproveDevice(ctx, da.UserCode); err != nil {
		t.Fatal(err)
	}
	tokenURL, nonce := p.Issuer+"/token", ""
	post := func(form url.Values, proof bool) (int, map[string]any) {
		t.Helper()
		form.Set("client_id", p.ClientID)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if proof {
			req.Header.Set("DPoP", opDPoPProof(t, key, http.MethodPost, tokenURL, nonce))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		if n := resp.Header.Get("DPoP-Nonce"); n != "" {
			nonce = n
		}
		return resp.StatusCode, body
	}
	poll := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {da.DeviceCode}}
	if status, body := post(poll, true); status != http.StatusBadRequest || body["error"] != "use_dpop_nonce" || nonce == "" {
		t.Fatalf("proof without a nonce: %d %v, DPoP-Nonce %q; want 400 use_dpop_nonce and a nonce", status, body["error"], nonce)
	}
	status, body := post(poll, true)
	if status != http.StatusOK || body["token_type"] != "DPoP" {
		t.Fatalf("device token with a nonce: %d %v", status, body["error"])
	}
	at, rt := body["access_token"].(string), body["refresh_token"].(string)
	info := opWantActive(t, ctx, p, "DPoP access token", at, true)
	if cnf, _ := info["cnf"].(map[string]any); cnf["jkt"] != opThumbprint(t, key) {
		t.Errorf("introspection cnf = %v, want jkt %s", info["cnf"], opThumbprint(t, key))
	}

	refreshForm := func(rt string) url.Values { return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}} }
	if status, body := post(refreshForm(rt), false); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("refresh without a proof: %d %v, want invalid_grant", status, body["error"])
	}
	status, body = post(refreshForm(rt), true)
	if status != http.StatusOK || body["refresh_token"] == rt {
		t.Fatalf("refresh with the key: %d %v", status, body["error"])
	}
	if status, body := post(refreshForm(rt), false); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("replay without a proof: %d %v, want invalid_grant", status, body["error"])
	}
	if s := opStats(t, ctx, p); s.GrantsRevoked != 0 {
		t.Errorf("a replay without the key revoked the grant: %+v", s)
	}
	if status, body := post(refreshForm(rt), true); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("replay with the key: %d %v, want invalid_grant", status, body["error"])
	}
	if s := opStats(t, ctx, p); s.GrantsRevoked != 1 || s.Refreshes != 1 || s.TokenErrors["use_dpop_nonce"] != 1 {
		t.Errorf("after a replay with the key: %+v", s)
	}
}

// opPublicJWKS is a JWKS holding key's public half.
func opPublicJWKS(t *testing.T, key *ecdsa.PrivateKey, kid string) []byte {
	t.Helper()
	jwk := opPublicJWK(t, key)
	jwk["kid"], jwk["use"], jwk["alg"] = kid, "sig", "ES256"
	b, err := json.Marshal(map[string]any{"keys": []map[string]string{jwk}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// opClientAssertion is a private_key_jwt client assertion (RFC 7523) signed
// with key.
func opClientAssertion(t *testing.T, key *ecdsa.PrivateKey, kid, clientID, aud string) string {
	now := time.Now()
	return opES256JWT(t, key, map[string]any{"typ": "JWT", "kid": kid}, map[string]any{
		"iss": clientID, "sub": clientID, "aud": aud, "jti": rand.Text(),
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	})
}

// opDPoPProof is a DPoP proof (RFC 9449 §4.2) for a request without an access
// token; nonce "" leaves the nonce out.
func opDPoPProof(t *testing.T, key *ecdsa.PrivateKey, method, u, nonce string) string {
	claims := map[string]any{"htm": method, "htu": u, "jti": rand.Text(), "iat": time.Now().Unix()}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	return opES256JWT(t, key, map[string]any{"typ": "dpop+jwt", "jwk": opPublicJWK(t, key)}, claims)
}

func opPublicJWK(t *testing.T, key *ecdsa.PrivateKey) map[string]string {
	t.Helper()
	pt, err := key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	return map[string]string{"kty": "EC", "crv": "P-256", "x": enc.EncodeToString(pt[1:33]), "y": enc.EncodeToString(pt[33:])}
}

// opThumbprint is key's RFC 7638 thumbprint, as in a DPoP-bound token's cnf.jkt.
func opThumbprint(t *testing.T, key *ecdsa.PrivateKey) string {
	jwk := opPublicJWK(t, key)
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + jwk["x"] + `","y":"` + jwk["y"] + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func opES256JWT(t *testing.T, key *ecdsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	header["alg"] = "ES256"
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	in := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sum := sha256.Sum256([]byte(in))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64) // JWS ES256: R || S, 32 bytes each
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return in + "." + enc.EncodeToString(sig)
}
