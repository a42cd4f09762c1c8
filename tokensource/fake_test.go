package tokensource_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/tokensource"
)

const (
	clientID  = "mayfly-cli"
	pollGrant = "urn:ietf:params:oauth:grant-type:device_code"
)

var scopes = []string{"openid", "offline_access"}

// fakeIdP is an OpenID provider in miniature, for error injection only: it
// speaks just enough of discovery, RFC 8628, RFC 6749 §4.1 and §6 with
// RFC 7636 S256, and RFC 7009 to drive this package. Whether the flows work
// against a real provider is the e2e suite's business (peers.md).
type fakeIdP struct {
	issuer string       // what the discovery document calls itself
	base   string       // where the endpoints live
	hc     *http.Client // reaches base

	mu sync.Mutex
	// doc is the discovery document; tests edit it before Discover.
	doc map[string]any
	// fail holds a canned answer per path, served instead of the real one.
	fail map[string]reply
	// authResponse, if set, may tamper with the redirect back to the client.
	authResponse func(q url.Values)
	// poll answers the nth device_code poll (from 1) with an error code, or
	// "" to approve. Nil approves at once.
	poll func(n int) string
	// rotate makes refresh issue a new refresh token and retire the old one.
	rotate bool
	// deviceInterval and deviceExpiresIn go in the device authorization
	// response, in seconds; 0 leaves them out.
	deviceInterval, deviceExpiresIn int

	n         int // for unique codes and tokens
	codes     map[string]grant
	refresh   map[string]bool // refresh tokens still good
	docPaths  []string        // paths discovery was asked on
	authQuery url.Values      // the last authorization request
	devForm   url.Values      // the last device authorization request
	forms     []url.Values    // every form posted to the token endpoint
	polls     []time.Time     // when each device_code poll came in
	revoked   []url.Values    // every form posted to the revocation endpoint
	revokeCT  string          // its Content-Type
}

// grant is what /authorize saw, to check the code exchange against.
type grant struct {
	redirectURI string
	challenge   string
}

// reply is a canned HTTP answer.
type reply struct {
	status      int
	contentType string
	body        string
}

// oauthError is an RFC 6749 §5.2 error response.
func oauthError(code, desc string) reply {
	b, _ := json.Marshal(map[string]string{"error": code, "error_description": desc})
	return reply{http.StatusBadRequest, "application/json", string(b)}
}

// newFake starts a fake provider on an httptest server; its issuer is the
// server's URL.
func newFake(t *testing.T) *fakeIdP {
	t.Helper()
	f := &fakeIdP{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.init(srv.URL, srv.Client())
	return f
}

// newInProcessFake is a fake provider with no sockets: its client's
// transport calls the handler directly. The device tests need this to run
// under testing/synctest, whose clock only advances while every goroutine
// in the bubble is durably blocked, which a goroutine waiting on a real
// socket never is.
func newInProcessFake() *fakeIdP {
	f := &fakeIdP{}
	f.init("https://idp.example", &http.Client{Transport: inProcess{f}})
	return f
}

func (f *fakeIdP) init(base string, hc *http.Client) {
	f.issuer, f.base, f.hc = base, base, hc
	f.deviceInterval, f.deviceExpiresIn = 1, 600
	f.fail = map[string]reply{}
	f.codes = map[string]grant{}
	f.refresh = map[string]bool{}
	f.doc = map[string]any{
		"issuer":                           base,
		"authorization_endpoint":           base + "/authorize",
		"token_endpoint":                   base + "/token",
		"device_authorization_endpoint":    base + "/device",
		"revocation_endpoint":              base + "/revoke",
		"jwks_uri":                         base + "/jwks",
		"code_challenge_methods_supported": []string{"S256"},
		"grant_types_supported":            []string{"authorization_code", "refresh_token", pollGrant},
	}
}

type inProcess struct{ h http.Handler }

func (p inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		defer r.Body.Close()
	}
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	w := httptest.NewRecorder()
	p.h.ServeHTTP(w, r)
	return w.Result(), nil
}

// provider runs discovery against the fake.
func (f *fakeIdP) provider(t *testing.T) *tokensource.Provider {
	t.Helper()
	p, err := tokensource.Discover(t.Context(), f.hc, f.issuer)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	return p
}

// client is a tokensource.Client for the fake, with a discovered provider.
func (f *fakeIdP) client(t *testing.T) *tokensource.Client {
	t.Helper()
	return &tokensource.Client{Provider: f.provider(t), ClientID: clientID, Scopes: scopes, HTTP: f.hc}
}

// goodRefreshToken registers a refresh token the fake will accept.
func (f *fakeIdP) goodRefreshToken() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	rt := fmt.Sprintf("rt-%d", f.n)
	f.refresh[rt] = true
	return rt
}

func (f *fakeIdP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path == "/token" {
		r.ParseForm()
		f.forms = append(f.forms, r.PostForm)
	}
	if rep, ok := f.fail[r.URL.Path]; ok {
		rep.write(w)
		return
	}
	switch {
	case strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration"):
		f.docPaths = append(f.docPaths, r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(f.doc)
	case r.URL.Path == "/authorize":
		f.authorize(w, r)
	case r.URL.Path == "/device" && r.Method == http.MethodPost:
		r.ParseForm()
		f.devForm = r.PostForm
		if r.PostForm.Get("client_id") != clientID {
			oauthError("invalid_client", "unknown client").write(w)
			return
		}
		resp := map[string]any{
			"device_code":               "dev-code",
			"user_code":                 "WDJB-MJHT",
			"verification_uri":          f.base + "/activate",
			"verification_uri_complete": f.base + "/activate?user_code=WDJB-MJHT",
		}
		if f.deviceExpiresIn != 0 {
			resp["expires_in"] = f.deviceExpiresIn
		}
		if f.deviceInterval != 0 {
			resp["interval"] = f.deviceInterval
		}
		writeJSON(w, resp)
	case r.URL.Path == "/token" && r.Method == http.MethodPost:
		f.token(w, r)
	case r.URL.Path == "/revoke" && r.Method == http.MethodPost:
		r.ParseForm()
		f.revoked = append(f.revoked, r.PostForm)
		f.revokeCT = r.Header.Get("Content-Type")
	default:
		http.NotFound(w, r)
	}
}

// authorize is the user approving at once: it checks the request the way a
// strict provider would, and redirects back with a code (RFC 6749 §4.1.2)
// and iss (RFC 9207).
func (f *fakeIdP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.authQuery = q
	redirect, err := url.Parse(q.Get("redirect_uri"))
	switch {
	case err != nil || redirect.Scheme != "http" || !tokensource.IsLoopback(redirect.Hostname()):
		http.Error(w, "redirect_uri must be a loopback http URI", http.StatusBadRequest)
		return
	case q.Get("response_type") != "code" || q.Get("client_id") != clientID:
		http.Error(w, "bad response_type or client_id", http.StatusBadRequest)
		return
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		http.Error(w, "PKCE S256 is required", http.StatusBadRequest)
		return
	}
	f.n++
	code := fmt.Sprintf("code-%d", f.n)
	f.codes[code] = grant{redirectURI: q.Get("redirect_uri"), challenge: q.Get("code_challenge")}
	resp := url.Values{"code": {code}, "state": {q.Get("state")}, "iss": {f.issuer}}
	if f.authResponse != nil {
		f.authResponse(resp)
	}
	redirect.RawQuery = resp.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

func (f *fakeIdP) token(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	if form.Get("client_id") != clientID || r.Header.Get("Authorization") != "" {
		oauthError("invalid_client", "a public client sends client_id alone").write(w)
		return
	}
	switch form.Get("grant_type") {
	case "authorization_code":
		g, ok := f.codes[form.Get("code")]
		delete(f.codes, form.Get("code")) // codes are single use
		sum := sha256.Sum256([]byte(form.Get("code_verifier")))
		switch {
		case !ok:
			oauthError("invalid_grant", "unknown code").write(w)
		case form.Get("redirect_uri") != g.redirectURI:
			oauthError("invalid_grant", "redirect_uri differs from the authorization request").write(w)
		case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge: // RFC 7636 §4.6
			oauthError("invalid_grant", "code_verifier does not match code_challenge").write(w)
		default:
			f.issue(w, true)
		}
	case "refresh_token":
		rt := form.Get("refresh_token")
		if !f.refresh[rt] {
			oauthError("invalid_grant", "refresh token is expired, revoked or reused").write(w)
			return
		}
		if f.rotate {
			delete(f.refresh, rt)
		}
		f.issue(w, f.rotate)
	case pollGrant:
		f.polls = append(f.polls, time.Now())
		if form.Get("device_code") != "dev-code" {
			oauthError("invalid_grant", "unknown device_code").write(w)
			return
		}
		if f.poll != nil {
			if code := f.poll(len(f.polls)); code != "" {
				oauthError(code, "").write(w)
				return
			}
		}
		f.issue(w, true)
	default:
		oauthError("unsupported_grant_type", "").write(w)
	}
}

// issue answers with a fresh token set, including a new refresh token if
// withRefresh.
func (f *fakeIdP) issue(w http.ResponseWriter, withRefresh bool) {
	f.n++
	body := map[string]any{
		"access_token": fmt.Sprintf("at-%d", f.n),
		"token_type":   "Bearer",
		"expires_in":   3600,
		"id_token":     jwt(map[string]any{"iss": f.issuer, "aud": clientID, "sub": "alice", "exp": 2000000000}),
	}
	if withRefresh {
		rt := fmt.Sprintf("rt-%d", f.n)
		f.refresh[rt] = true
		body["refresh_token"] = rt
	}
	writeJSON(w, body)
}

func (rep reply) write(w http.ResponseWriter) {
	if rep.contentType != "" {
		w.Header().Set("Content-Type", rep.contentType)
	}
	w.WriteHeader(rep.status)
	fmt.Fprint(w, rep.body)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}

// jwt builds an unsigned-looking JWT with the given claims; the package
// never checks signatures (OpenID Connect Core §3.1.3.7 over TLS).
func jwt(claims map[string]any) string {
	b, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","kid":"k1"}`)) + "." + enc(b) + ".c2lnbmF0dXJl"
}
