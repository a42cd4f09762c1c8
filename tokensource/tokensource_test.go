package tokensource_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/mayflyhq/mayfly/tokensource"
)

func TestDiscover(t *testing.T) {
	f := newFake(t)
	got := f.provider(t)
	want := &tokensource.Provider{
		Issuer:               f.issuer,
		AuthURL:              f.base + "/authorize",
		TokenURL:             f.base + "/token",
		DeviceAuthURL:        f.base + "/device",
		RevocationURL:        f.base + "/revoke",
		JWKSURL:              f.base + "/jwks",
		CodeChallengeMethods: []string{"S256"},
		GrantTypes:           []string{"authorization_code", "refresh_token", pollGrant},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Discover (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"/.well-known/openid-configuration"}, f.docPaths); diff != "" {
		t.Errorf("paths asked (-want +got):\n%s", diff)
	}
}

// TestDiscoverIssuerPath: the well-known path is appended to the issuer's
// path, trailing slash or not (OpenID Connect Discovery 1.0 §4.1), but the
// document must name the issuer exactly as asked (§4.3): the code does not
// normalise a trailing slash away.
func TestDiscoverIssuerPath(t *testing.T) {
	for _, tt := range []struct {
		name      string
		ask, says string // relative to the server's URL
		wantErr   bool
	}{
		{name: "plain", ask: "", says: ""},
		{name: "both with slash", ask: "/", says: "/"},
		{name: "tenant path", ask: "/realms/dev", says: "/realms/dev"},
		{name: "tenant path with slash", ask: "/realms/dev/", says: "/realms/dev/"},
		{name: "asked with slash, says without", ask: "/", says: "", wantErr: true},
		{name: "asked without slash, says with", ask: "", says: "/", wantErr: true},
		{name: "other tenant", ask: "/realms/dev", says: "/realms/prod", wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.issuer = f.base + tt.ask
			f.doc["issuer"] = f.base + tt.says
			p, err := tokensource.Discover(t.Context(), f.hc, f.issuer)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "says its issuer is") {
					t.Fatalf("Discover = %v, want an issuer mismatch", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Discover: %v", err)
			}
			if p.Issuer != f.issuer {
				t.Errorf("Issuer = %q, want %q", p.Issuer, f.issuer)
			}
			wantPath := strings.TrimSuffix(tt.ask, "/") + "/.well-known/openid-configuration"
			if diff := cmp.Diff([]string{wantPath}, f.docPaths); diff != "" {
				t.Errorf("paths asked (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDiscoverRefuses(t *testing.T) {
	for _, tt := range []struct {
		name    string
		edit    func(f *fakeIdP)
		wantErr string
	}{
		{
			name:    "issuer mismatch",
			edit:    func(f *fakeIdP) { f.doc["issuer"] = "https://evil.example" },
			wantErr: `says its issuer is "https://evil.example"`,
		},
		{
			name:    "no issuer",
			edit:    func(f *fakeIdP) { delete(f.doc, "issuer") },
			wantErr: `says its issuer is ""`,
		},
		{
			name:    "no token endpoint",
			edit:    func(f *fakeIdP) { delete(f.doc, "token_endpoint") },
			wantErr: "lists no token_endpoint",
		},
		{
			name:    "http token endpoint on a remote host",
			edit:    func(f *fakeIdP) { f.doc["token_endpoint"] = "http://idp.example/token" },
			wantErr: `endpoint "http://idp.example/token" is neither https nor loopback http`,
		},
		{
			name:    "http authorization endpoint on a remote host",
			edit:    func(f *fakeIdP) { f.doc["authorization_endpoint"] = "http://idp.example/authorize" },
			wantErr: "neither https nor loopback http",
		},
		{
			name:    "http device endpoint on a remote host",
			edit:    func(f *fakeIdP) { f.doc["device_authorization_endpoint"] = "http://10.0.0.1/device" },
			wantErr: "neither https nor loopback http",
		},
		{
			name:    "http revocation endpoint on a look-alike of localhost",
			edit:    func(f *fakeIdP) { f.doc["revocation_endpoint"] = "http://localhost.evil.example/revoke" },
			wantErr: "neither https nor loopback http",
		},
		{
			name:    "other scheme",
			edit:    func(f *fakeIdP) { f.doc["token_endpoint"] = "ftp://idp.example/token" },
			wantErr: "neither https nor loopback http",
		},
		{
			name:    "unparsable endpoint",
			edit:    func(f *fakeIdP) { f.doc["token_endpoint"] = "https://idp.example/%zz" },
			wantErr: "neither https nor loopback http",
		},
		{
			name: "not found",
			edit: func(f *fakeIdP) {
				f.fail["/.well-known/openid-configuration"] = reply{status: http.StatusNotFound, body: "no"}
			},
			wantErr: "answered 404 Not Found",
		},
		{
			name: "bad JSON",
			edit: func(f *fakeIdP) {
				f.fail["/.well-known/openid-configuration"] = reply{http.StatusOK, "application/json", `{"issuer": `}
			},
			wantErr: "unexpected EOF",
		},
		{
			name: "wrong JSON type",
			edit: func(f *fakeIdP) {
				f.fail["/.well-known/openid-configuration"] = reply{http.StatusOK, "application/json", `{"issuer": 42}`}
			},
			wantErr: "cannot unmarshal number",
		},
		{
			name: "HTML",
			edit: func(f *fakeIdP) {
				f.fail["/.well-known/openid-configuration"] = reply{http.StatusOK, "text/html", "<html>sign in</html>"}
			},
			wantErr: "invalid character '<'",
		},
		{
			name: "larger than 1 MiB",
			edit: func(f *fakeIdP) {
				f.fail["/.well-known/openid-configuration"] = reply{http.StatusOK, "application/json",
					`{"issuer": "` + strings.Repeat("a", 1<<20) + `"}`}
			},
			wantErr: "request body too large",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			tt.edit(f)
			p, err := tokensource.Discover(t.Context(), f.hc, f.issuer)
			if err == nil {
				t.Fatalf("Discover = %+v, want an error", p)
			}
			if !strings.HasPrefix(err.Error(), "discovery: ") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Discover error = %q, want it to start with \"discovery: \" and contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestDiscoverAcceptsLoopbackAndHTTPS(t *testing.T) {
	f := newFake(t)
	f.doc["authorization_endpoint"] = "https://idp.example/authorize"
	f.doc["device_authorization_endpoint"] = "http://localhost:8080/device"
	f.doc["revocation_endpoint"] = "http://[::1]:8080/revoke"
	f.doc["jwks_uri"] = "http://idp.example/jwks" // not used, so not checked
	if _, err := tokensource.Discover(t.Context(), f.hc, f.issuer); err != nil {
		t.Fatalf("Discover: %v", err)
	}
}

func TestDiscoverNetworkError(t *testing.T) {
	f := newFake(t)
	_, err := tokensource.Discover(t.Context(), f.hc, "http://127.0.0.1:1")
	if err == nil || !strings.HasPrefix(err.Error(), "discovery: ") {
		t.Fatalf("Discover on a closed port = %v, want a discovery error", err)
	}
	if _, err := tokensource.Discover(t.Context(), f.hc, "http://127.0.0.1:1/\x7f"); err == nil {
		t.Fatal("Discover with a control character in the issuer succeeded")
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost":                  true,
		"LocalHost":                  true,
		"127.0.0.1":                  true,
		"127.8.9.10":                 true,
		"::1":                        true,
		"::ffff:127.0.0.1":           true,
		"":                           false,
		"0.0.0.0":                    false,
		"::":                         false,
		"10.0.0.1":                   false,
		"idp.example":                false,
		"localhost.evil.example":     false,
		"127.0.0.1.nip.io":           false,
		"[::1]":                      false, // Hostname() strips the brackets before this
		"localhost:8080":             false,
		"2001:db8::1":                false,
		"fe80::1%lo0":                false,
		"127.0.0.1\x00.evil.example": false,
	} {
		if got := tokensource.IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestRefresh(t *testing.T) {
	for _, rotate := range []bool{true, false} {
		name := map[bool]string{true: "rotating", false: "not rotating"}[rotate]
		t.Run(name, func(t *testing.T) {
			f := newFake(t)
			f.rotate = rotate
			c := f.client(t)
			rt := f.goodRefreshToken()
			tok, err := c.Refresh(t.Context(), rt)
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if tok.AccessToken == "" || !tok.Valid() {
				t.Errorf("Refresh gave an unusable token %+v", tok)
			}
			if d := time.Until(tok.Expiry); d < 59*time.Minute || d > time.Hour {
				t.Errorf("token expires in %v, want about an hour", d)
			}
			form := f.forms[len(f.forms)-1]
			for k, want := range map[string]string{"grant_type": "refresh_token", "refresh_token": rt, "client_id": clientID} {
				if got := form.Get(k); got != want {
					t.Errorf("refresh request %s = %q, want %q", k, got, want)
				}
			}
			if !rotate {
				if tok.RefreshToken != rt {
					t.Errorf("RefreshToken = %q, want the old %q kept", tok.RefreshToken, rt)
				}
				return
			}
			if tok.RefreshToken == rt || tok.RefreshToken == "" {
				t.Fatalf("RefreshToken = %q, want a new one in place of %q", tok.RefreshToken, rt)
			}
			// The rotated token works; the retired one ends the session.
			if _, err := c.Refresh(t.Context(), tok.RefreshToken); err != nil {
				t.Errorf("Refresh with the rotated token: %v", err)
			}
			if _, err := c.Refresh(t.Context(), rt); !errors.Is(err, tokensource.ErrSessionEnded) {
				t.Errorf("Refresh with the retired token = %v, want ErrSessionEnded", err)
			}
		})
	}
}

func TestRefreshErrors(t *testing.T) {
	for _, tt := range []struct {
		name         string
		reply        reply
		sessionEnded bool
		want         string // the whole error text
	}{
		{
			name:         "invalid_grant",
			reply:        oauthError("invalid_grant", "Token is not active"),
			sessionEnded: true,
			want:         "refresh: the provider ended this session (invalid_grant: Token is not active)",
		},
		{
			name:         "invalid_request, as Dex answers a replayed token",
			reply:        oauthError("invalid_request", "Refresh token is invalid or has already been claimed by another client."),
			sessionEnded: true,
			want:         "refresh: the provider ended this session (invalid_request: Refresh token is invalid or has already been claimed by another client.)",
		},
		{
			name:         "invalid_grant as a form, no description",
			reply:        reply{http.StatusBadRequest, "application/x-www-form-urlencoded", "error=invalid_grant"},
			sessionEnded: true,
			want:         "refresh: the provider ended this session (invalid_grant)",
		},
		{
			name:  "500 with an HTML body",
			reply: reply{http.StatusInternalServerError, "text/html", "<h1>oops</h1> secret-looking-body"},
			want:  "refresh: token endpoint answered 500 Internal Server Error",
		},
		{
			name:  "503 with an empty body",
			reply: reply{status: http.StatusServiceUnavailable},
			want:  "refresh: token endpoint answered 503 Service Unavailable",
		},
		{
			name:  "invalid_client",
			reply: oauthError("invalid_client", "client is disabled"),
			want:  "refresh: invalid_client: client is disabled",
		},
		{
			name:  "temporarily_unavailable with a 200",
			reply: reply{http.StatusOK, "application/json", `{"error":"temporarily_unavailable"}`},
			want:  "refresh: temporarily_unavailable",
		},
		{
			name:  "hostile description",
			reply: oauthError("invalid_scope", "line one\nline two\x1b[31m"+strings.Repeat("x", 300)),
			want:  "refresh: invalid_scope: line one line two [31m" + strings.Repeat("x", 200-len("line one\nline two\x1b[31m")) + "…",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			c := f.client(t)
			f.fail["/token"] = tt.reply
			_, err := c.Refresh(t.Context(), "rt")
			if err == nil {
				t.Fatal("Refresh succeeded")
			}
			if got := errors.Is(err, tokensource.ErrSessionEnded); got != tt.sessionEnded {
				t.Errorf("errors.Is(%q, ErrSessionEnded) = %v, want %v", err, got, tt.sessionEnded)
			}
			if err.Error() != tt.want {
				t.Errorf("Refresh error\n got %q\nwant %q", err, tt.want)
			}
		})
	}
}

func TestRefreshNoAccessToken(t *testing.T) {
	f := newFake(t)
	c := f.client(t)
	f.fail["/token"] = reply{http.StatusOK, "application/json", `{"token_type":"Bearer"}`}
	_, err := c.Refresh(t.Context(), "rt")
	if err == nil || errors.Is(err, tokensource.ErrSessionEnded) || !strings.HasPrefix(err.Error(), "refresh: ") {
		t.Fatalf("Refresh = %v, want a refresh error that is not ErrSessionEnded", err)
	}
}

func TestRefreshUnreachable(t *testing.T) {
	c := &tokensource.Client{
		Provider: &tokensource.Provider{Issuer: "http://127.0.0.1:1", TokenURL: "http://127.0.0.1:1/token"},
		ClientID: clientID,
		HTTP:     http.DefaultClient,
	}
	_, err := c.Refresh(t.Context(), "rt")
	if err == nil || errors.Is(err, tokensource.ErrSessionEnded) || !strings.HasPrefix(err.Error(), "refresh: ") {
		t.Fatalf("Refresh = %v, want a refresh error that is not ErrSessionEnded", err)
	}
}

func TestRevoke(t *testing.T) {
	f := newFake(t)
	c := f.client(t)
	for _, hint := range []string{"refresh_token", "access_token"} {
		if err := c.Revoke(t.Context(), "tok-"+hint, hint); err != nil {
			t.Fatalf("Revoke(%s): %v", hint, err)
		}
	}
	// RFC 7009 §2.1: token, token_type_hint, and for a public client its
	// client_id, form-encoded.
	want := []url.Values{
		{"token": {"tok-refresh_token"}, "token_type_hint": {"refresh_token"}, "client_id": {clientID}},
		{"token": {"tok-access_token"}, "token_type_hint": {"access_token"}, "client_id": {clientID}},
	}
	if diff := cmp.Diff(want, f.revoked); diff != "" {
		t.Errorf("revocation requests (-want +got):\n%s", diff)
	}
	if f.revokeCT != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q", f.revokeCT)
	}
}

func TestRevokeErrors(t *testing.T) {
	f := newFake(t)
	c := f.client(t)

	f.fail["/revoke"] = oauthError("unsupported_token_type", "")
	if err := c.Revoke(t.Context(), "tok", "access_token"); err == nil || err.Error() != "revoke: revocation endpoint answered 400 Bad Request" {
		t.Errorf("Revoke on a 400 = %v", err)
	}
	f.fail["/revoke"] = reply{status: http.StatusServiceUnavailable}
	if err := c.Revoke(t.Context(), "tok", "access_token"); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("Revoke on a 503 = %v", err)
	}

	c.Provider.RevocationURL = ""
	if err := c.Revoke(t.Context(), "tok", "refresh_token"); !errors.Is(err, tokensource.ErrNoRevocation) {
		t.Errorf("Revoke without an endpoint = %v, want ErrNoRevocation", err)
	}

	c.Provider.RevocationURL = "http://127.0.0.1:1/revoke"
	if err := c.Revoke(t.Context(), "tok", "refresh_token"); err == nil || !strings.HasPrefix(err.Error(), "revoke: ") {
		t.Errorf("Revoke on a closed port = %v", err)
	}
	c.Provider.RevocationURL = "http://127.0.0.1:1/\x7f"
	if err := c.Revoke(t.Context(), "tok", "refresh_token"); err == nil || !strings.HasPrefix(err.Error(), "revoke: ") {
		t.Errorf("Revoke with a bad URL = %v", err)
	}
}

func TestIDToken(t *testing.T) {
	c := &tokensource.Client{Provider: &tokensource.Provider{Issuer: "https://idp.example"}, ClientID: clientID}
	withID := func(raw string) *oauth2.Token {
		return (&oauth2.Token{AccessToken: "at"}).WithExtra(map[string]any{"id_token": raw})
	}
	for _, tt := range []struct {
		name    string
		tok     *oauth2.Token
		want    tokensource.Claims
		wantErr string
	}{
		{
			name: "aud as a string",
			tok:  withID(jwt(map[string]any{"iss": "https://idp.example", "aud": clientID, "sub": "alice", "email": "alice@example.com", "exp": 2000000000})),
			want: tokensource.Claims{Issuer: "https://idp.example", Subject: "alice", Email: "alice@example.com",
				Aud: []string{clientID}, Exp: 2000000000, Expiry: time.Unix(2000000000, 0)},
		},
		{
			name: "aud as a list",
			tok:  withID(jwt(map[string]any{"iss": "https://idp.example", "aud": []string{"kubernetes", clientID}, "sub": "alice"})),
			want: tokensource.Claims{Issuer: "https://idp.example", Subject: "alice", Aud: []string{"kubernetes", clientID}},
		},
		{
			name:    "no id_token",
			tok:     &oauth2.Token{AccessToken: "at"},
			wantErr: `the provider returned no id_token (is "openid" in scopes?)`,
		},
		{
			name:    "id_token not a string",
			tok:     (&oauth2.Token{AccessToken: "at"}).WithExtra(map[string]any{"id_token": 42}),
			wantErr: "returned no id_token",
		},
		{
			name:    "other issuer",
			tok:     withID(jwt(map[string]any{"iss": "https://evil.example", "aud": clientID})),
			wantErr: `id_token issuer "https://evil.example" is not "https://idp.example"`,
		},
		{
			name:    "issuer differs by a trailing slash",
			tok:     withID(jwt(map[string]any{"iss": "https://idp.example/", "aud": clientID})),
			wantErr: "id_token issuer",
		},
		{
			name:    "other audience",
			tok:     withID(jwt(map[string]any{"iss": "https://idp.example", "aud": []string{"someone-else"}})),
			wantErr: `id_token audience ["someone-else"] does not include client "mayfly-cli"`,
		},
		{
			name:    "no audience",
			tok:     withID(jwt(map[string]any{"iss": "https://idp.example"})),
			wantErr: "does not include client",
		},
		{
			name:    "not a JWT",
			tok:     withID("opaque-token"),
			wantErr: "id_token is not a JWT",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			raw, cl, err := c.IDToken(tt.tok)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("IDToken = %v, want an error containing %q", err, tt.wantErr)
				}
				if raw != "" || !cmp.Equal(cl, tokensource.Claims{}) {
					t.Errorf("IDToken returned %q, %+v along with its error", raw, cl)
				}
				return
			}
			if err != nil {
				t.Fatalf("IDToken: %v", err)
			}
			if raw != tt.tok.Extra("id_token") {
				t.Errorf("raw = %q, want the token's id_token", raw)
			}
			if diff := cmp.Diff(tt.want, cl); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseClaimsErrors(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	for _, tt := range []struct{ name, jwt, wantErr string }{
		{"empty", "", "not a JWT"},
		{"two parts", "a.b", "not a JWT"},
		{"JWE, five parts", "a.b.c.d.e", "not a JWT"},
		{"padded base64", "e30." + base64.URLEncoding.EncodeToString([]byte(`{"sub":"x"}`)) + ".c2ln", "id_token payload: illegal base64"},
		{"standard base64", "e30.eyJ+/w.c2ln", "id_token payload: illegal base64"},
		{"payload not JSON", "e30." + enc([]byte("hello")) + ".c2ln", "id_token payload: invalid character"},
		{"payload a list", "e30." + enc([]byte("[]")) + ".c2ln", "id_token payload: json: cannot unmarshal array"},
		{"aud a number", "e30." + enc([]byte(`{"aud":7}`)) + ".c2ln", "id_token payload: json: cannot unmarshal number"},
		{"exp a string", "e30." + enc([]byte(`{"exp":"soon"}`)) + ".c2ln", "id_token payload: json: cannot unmarshal string"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if cl, err := tokensource.ParseClaims(tt.jwt); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseClaims = %+v, %v; want an error containing %q", cl, err, tt.wantErr)
			}
		})
	}
}

func TestParseClaimsNoExpiry(t *testing.T) {
	for _, exp := range []any{nil, 0, -5} {
		claims := map[string]any{"sub": "alice"}
		if exp != nil {
			claims["exp"] = exp
		}
		cl, err := tokensource.ParseClaims(jwt(claims))
		if err != nil {
			t.Fatalf("ParseClaims(exp %v): %v", exp, err)
		}
		if !cl.Expiry.IsZero() {
			t.Errorf("exp %v: Expiry = %v, want zero", exp, cl.Expiry)
		}
	}
}

// FuzzParseClaims: ID tokens come from the network, and ParseClaims is
// exported for callers holding any string.
func FuzzParseClaims(f *testing.F) {
	enc := base64.RawURLEncoding.EncodeToString
	for _, payload := range []string{
		`{"iss":"https://idp.example","aud":"a","sub":"s","exp":2000000000}`,
		`{"aud":["a","b"],"exp":1}`,
		`{"aud":null,"exp":-1}`,
		`{"aud":[],"exp":9223372036854775807}`,
		`{"aud":[1]}`,
		`{"exp":1.5}`,
		`null`,
		`"x"`,
		``,
	} {
		f.Add("e30." + enc([]byte(payload)) + ".")
	}
	f.Add("..")
	f.Add("a.b.c")
	f.Add("a.=.c")
	f.Fuzz(func(t *testing.T, raw string) {
		cl, err := tokensource.ParseClaims(raw)
		if err != nil {
			if !cmp.Equal(cl, tokensource.Claims{}) {
				t.Errorf("ParseClaims returned %+v along with %v", cl, err)
			}
			return
		}
		if strings.Count(raw, ".") != 2 {
			t.Errorf("ParseClaims accepted %q, which is not three parts", raw)
		}
		if (cl.Exp > 0) != !cl.Expiry.IsZero() || (cl.Exp > 0 && cl.Expiry.Unix() != cl.Exp) {
			t.Errorf("Exp %d but Expiry %v", cl.Exp, cl.Expiry)
		}
	})
}

func TestParseClaimsFractionalExp(t *testing.T) {
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://i","exp":2000000000.75}`))
	cl, err := tokensource.ParseClaims("e30." + payload + ".sig")
	if err != nil {
		t.Fatal(err)
	}
	if cl.Exp != 2000000000 || !cl.Expiry.Equal(time.Unix(2000000000, 0)) {
		t.Errorf("exp 2000000000.75 gave Exp %d, Expiry %v", cl.Exp, cl.Expiry)
	}
}
