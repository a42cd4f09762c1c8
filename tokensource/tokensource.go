// Package tokensource obtains OAuth 2.0 tokens from an OpenID provider for a
// public client: discovery (OpenID Connect Discovery 1.0), the device
// authorization grant (RFC 8628), the authorization code grant with PKCE on a
// loopback redirect (RFC 7636, RFC 8252), refresh with rotation (RFC 6749
// §6) and revocation (RFC 7009). It builds on golang.org/x/oauth2 and hands
// out [oauth2.Token] values; it stores nothing, the agent decides where tokens
// live.
package tokensource

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/oauth2"

	"github.com/mayflyhq/mayfly/attest/dpop"
)

// ErrSessionEnded means the provider no longer accepts the refresh token:
// it expired, was revoked, or was replayed and the provider ended the grant
// (RFC 6749 §5.2 invalid_grant; Dex answers a reused token with
// invalid_request). The cure is to sign in again.
var ErrSessionEnded = errors.New("the provider ended this session")

// ErrNoRevocation is returned by Revoke when discovery lists no
// revocation_endpoint.
var ErrNoRevocation = errors.New("the provider has no revocation endpoint")

// Provider is what discovery says about an issuer.
type Provider struct {
	Issuer                string   `json:"issuer"`
	AuthURL               string   `json:"authorization_endpoint"`
	TokenURL              string   `json:"token_endpoint"`
	DeviceAuthURL         string   `json:"device_authorization_endpoint"`
	RevocationURL         string   `json:"revocation_endpoint"`
	JWKSURL               string   `json:"jwks_uri"`
	CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
	IssParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
	GrantTypes            []string `json:"grant_types_supported"`
}

// Discover fetches issuer's OpenID configuration.
func Discover(ctx context.Context, hc *http.Client, issuer string) (*Provider, error) {
	wellKnown := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, wellKnown, nil)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("discovery: %s answered %s", wellKnown, resp.Status)
	}
	var p Provider
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&p); err != nil {
		return nil, fmt.Errorf("discovery: %s: %w", wellKnown, err)
	}
	// OpenID Connect Discovery 1.0 §4.3: the issuer in the document must be
	// exactly the one we asked for, or a hostile document could redirect
	// tokens elsewhere.
	if p.Issuer != issuer {
		return nil, fmt.Errorf("discovery: %s says its issuer is %q, not %q", wellKnown, p.Issuer, issuer)
	}
	if p.TokenURL == "" {
		return nil, fmt.Errorf("discovery: %s lists no token_endpoint", wellKnown)
	}
	for _, ep := range []string{p.AuthURL, p.TokenURL, p.DeviceAuthURL, p.RevocationURL} {
		if ep != "" && !secureURL(ep) {
			return nil, fmt.Errorf("discovery: endpoint %q is neither https nor loopback http", ep)
		}
	}
	return &p, nil
}

// secureURL allows https, and http only to a loopback address (RFC 8252 §8.3).
func secureURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		return IsLoopback(u.Hostname())
	}
	return false
}

// IsLoopback reports whether host is localhost or a loopback IP literal.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Client is one profile's OAuth client at one provider. Mayfly is a public
// client: it authenticates with its client_id alone (RFC 6749 §2.1), and
// proves possession through PKCE and, later, DPoP.
type Client struct {
	Provider *Provider
	ClientID string
	Scopes   []string
	HTTP     *http.Client

	// Prover, when set, holds the device key that proves possession:
	// with DPoP, every token request carries a DPoP proof (RFC 9449 §5), so
	// the provider binds the tokens to the key; with PrivateKeyJWT, the
	// client authenticates with a signed assertion (RFC 7523 §2.2) at the
	// token, device authorization and revocation endpoints instead of
	// being a public client.
	Prover        *dpop.Prover
	DPoP          bool
	PrivateKeyJWT bool

	hcOnce sync.Once
	hc     *http.Client
}

// httpClient is c.HTTP, wrapped so requests carry proofs when they must.
func (c *Client) httpClient() *http.Client {
	c.hcOnce.Do(func() {
		c.hc = c.HTTP
		if c.hc == nil {
			c.hc = http.DefaultClient
		}
		if c.Prover == nil || (!c.DPoP && !c.PrivateKeyJWT) {
			return
		}
		t := &dpop.Transport{Base: c.hc.Transport, Prover: c.Prover, DPoP: c.DPoP, TokenURL: c.Provider.TokenURL}
		if c.PrivateKeyJWT {
			t.ClientID, t.Issuer = c.ClientID, c.Provider.Issuer
			t.AuthURLs = []string{c.Provider.TokenURL, c.Provider.DeviceAuthURL, c.Provider.RevocationURL}
		}
		hc := *c.hc
		hc.Transport = t
		c.hc = &hc
	})
	return c.hc
}

func (c *Client) config(redirectURL string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: c.ClientID,
		Endpoint: oauth2.Endpoint{
			AuthURL:       c.Provider.AuthURL,
			TokenURL:      c.Provider.TokenURL,
			DeviceAuthURL: c.Provider.DeviceAuthURL,
			AuthStyle:     oauth2.AuthStyleInParams,
		},
		RedirectURL: redirectURL,
		Scopes:      c.Scopes,
	}
}

func (c *Client) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c.httpClient())
}

// Refresh exchanges a refresh token for a new token set (RFC 6749 §6). If
// the provider rotates refresh tokens the result carries the new one; if
// not, x/oauth2 keeps the old one in it.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	src := c.config("").TokenSource(c.ctx(ctx), &oauth2.Token{RefreshToken: refreshToken, Expiry: time.Unix(1, 0)})
	tok, err := src.Token()
	if err != nil {
		return nil, classify(opRefresh, err)
	}
	return tok, nil
}

// classify turns a token-endpoint failure into an error that says what to do.
// Only a refresh can end a session: the same error codes from a code
// exchange or a device poll mean that sign-in attempt failed.
func classify(op string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		switch re.ErrorCode {
		case "invalid_grant", "invalid_request":
			// RFC 6749 §5.2: the refresh token is invalid, expired, revoked
			// or was issued to another client. Providers that detect reuse of
			// a rotated token answer the same way (Dex: invalid_request).
			if op == opRefresh {
				return fmt.Errorf("%s: %w (%s)", op, ErrSessionEnded, describe(re))
			}
		case "":
			return fmt.Errorf("%s: token endpoint answered %s", op, re.Response.Status)
		}
		return fmt.Errorf("%s: %s", op, describe(re))
	}
	return fmt.Errorf("%s: %w", op, err)
}

const opRefresh = "refresh"

// describe renders a provider error without echoing the response body,
// which could hold anything.
func describe(re *oauth2.RetrieveError) string {
	s := re.ErrorCode
	if re.ErrorDescription != "" {
		s += ": " + oneLine(re.ErrorDescription, 200)
	}
	return s
}

func oneLine(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > max {
		// Cut on a rune boundary, not inside a UTF-8 sequence.
		for max > 0 && !utf8.RuneStart(s[max]) {
			max--
		}
		s = s[:max] + "…"
	}
	return s
}

// Revoke asks the provider to revoke token (RFC 7009 §2.1). hint is
// "refresh_token" or "access_token".
func (c *Client) Revoke(ctx context.Context, token, hint string) error {
	if c.Provider.RevocationURL == "" {
		return ErrNoRevocation
	}
	form := url.Values{"token": {token}, "token_type_hint": {hint}, "client_id": {c.ClientID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Provider.RevocationURL, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	defer resp.Body.Close()
	// RFC 7009 §2.2: 200 for success, and also for a token already invalid.
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revoke: revocation endpoint answered %s", resp.Status)
	}
	return nil
}

// Claims are the few ID token claims Mayfly shows or checks.
type Claims struct {
	Issuer  string    `json:"iss"`
	Subject string    `json:"sub"`
	Email   string    `json:"email"`
	Aud     audience  `json:"aud"`
	Exp     int64     `json:"-"` // whole seconds of "exp"
	Expiry  time.Time `json:"-"`
}

type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// IDToken returns the token set's ID token and its claims. The token came
// straight from the token endpoint over TLS, so OpenID Connect Core §3.1.3.7
// lets the client skip the signature; issuer and audience are still checked,
// since the token is handed on to consumers.
func (c *Client) IDToken(tok *oauth2.Token) (string, Claims, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return "", Claims{}, errors.New("the provider returned no id_token (is \"openid\" in scopes?)")
	}
	cl, err := ParseClaims(raw)
	if err != nil {
		return "", Claims{}, err
	}
	if cl.Issuer != c.Provider.Issuer {
		return "", Claims{}, fmt.Errorf("id_token issuer %q is not %q", cl.Issuer, c.Provider.Issuer)
	}
	if !slices.Contains(cl.Aud, c.ClientID) {
		return "", Claims{}, fmt.Errorf("id_token audience %q does not include client %q", []string(cl.Aud), c.ClientID)
	}
	return raw, cl, nil
}

// ParseClaims decodes a JWT's payload without verifying it.
func ParseClaims(jwt string) (Claims, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return Claims{}, errors.New("id_token is not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return Claims{}, fmt.Errorf("id_token payload: %w", err)
	}
	var cl struct {
		Claims
		// RFC 7519 §2: a NumericDate may have a fraction.
		Exp float64 `json:"exp"`
	}
	if err := json.Unmarshal(b, &cl); err != nil {
		return Claims{}, fmt.Errorf("id_token payload: %w", err)
	}
	if cl.Exp >= 1 && cl.Exp < 1<<53 {
		cl.Claims.Exp = int64(cl.Exp)
		cl.Claims.Expiry = time.Unix(cl.Claims.Exp, 0)
	}
	return cl.Claims, nil
}
