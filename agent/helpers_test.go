package agent

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/agent/client"
	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/backends/memory"
	"github.com/mayflyhq/mayfly/internal/auditlog"
	"github.com/mayflyhq/mayfly/internal/config"
)

// secretMark is part of every token the fake provider issues, so a test can
// check that no token reached the agent's log.
const secretMark = "SECRET"

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := checkGoroutines(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// checkGoroutines fails when an agent, a connection or an HTTP server or
// client outlives the tests that started it.
func checkGoroutines() error {
	var leaked []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		leaked = leaked[:0]
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		for i, g := range strings.Split(string(buf), "\n\n") {
			if i == 0 { // this goroutine
				continue
			}
			if strings.Contains(g, "mayflyhq/mayfly") || strings.Contains(g, "net/http") || strings.Contains(g, "net.(*") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return nil
		}
	}
	return fmt.Errorf("%d goroutines outlived the tests:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
}

// clock is the agent's clock in tests: real time shifted by an offset that
// tests advance to expire tokens.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

func (c *clock) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

// fakeIdP is an OpenID provider with a discovery document, a token endpoint
// that rotates refresh tokens on every refresh grant, device and
// authorization endpoints, an optional revocation endpoint, and error
// injection. It exists for error injection and counting; the proof that the
// flows work against a real provider is in the end-to-end tests.
type fakeIdP struct {
	srv      *httptest.Server
	clock    *clock
	clientID string
	done     chan struct{} // closed at cleanup: cuts delays short

	mu            sync.Mutex
	n             int             // tokens issued so far, to number them
	valid         map[string]bool // refresh tokens the provider accepts
	refreshGrants int
	revoked       []string // "hint:token"
	fail          string   // "", "invalid_grant" or "500": how refresh grants fail
	delay         time.Duration
	noRotate      bool // answer refresh grants without a new refresh token
	noRefresh     bool // issue no refresh token at sign-in
	revocation    bool // list a revocation_endpoint
	revokeFail    bool // answer revocation requests with a 503
	lifetime      time.Duration
	idToken       bool
}

func newIdP(t testing.TB, clk *clock) *fakeIdP {
	t.Helper()
	f := &fakeIdP{
		clock:      clk,
		clientID:   "mayfly-test",
		done:       make(chan struct{}),
		valid:      map[string]bool{},
		revocation: true,
		lifetime:   5 * time.Minute,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", f.discovery)
	mux.HandleFunc("POST /token", f.token)
	mux.HandleFunc("POST /device", f.device)
	mux.HandleFunc("GET /authorize", f.authorize)
	mux.HandleFunc("POST /revoke", f.revoke)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		close(f.done)
		f.srv.Close()
	})
	return f
}

func (f *fakeIdP) URL() string { return f.srv.URL }

func (f *fakeIdP) set(fn func(f *fakeIdP)) {
	f.mu.Lock()
	fn(f)
	f.mu.Unlock()
}

func (f *fakeIdP) refreshCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refreshGrants
}

func (f *fakeIdP) revocations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.revoked...)
}

func (f *fakeIdP) accepts(rt string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.valid[rt]
}

// newRefreshToken issues a refresh token as a past sign-in would have.
func (f *fakeIdP) newRefreshToken() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	rt := fmt.Sprintf("rt-%s-%d", secretMark, f.n)
	f.valid[rt] = true
	return rt
}

func (f *fakeIdP) discovery(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	doc := map[string]any{
		"issuer":                           f.srv.URL,
		"authorization_endpoint":           f.srv.URL + "/authorize",
		"token_endpoint":                   f.srv.URL + "/token",
		"device_authorization_endpoint":    f.srv.URL + "/device",
		"code_challenge_methods_supported": []string{"S256"},
	}
	if f.revocation {
		doc["revocation_endpoint"] = f.srv.URL + "/revoke"
	}
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, doc)
}

func (f *fakeIdP) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	f.mu.Lock()
	grant := r.PostForm.Get("grant_type")
	delay := f.delay
	if grant == "refresh_token" {
		f.refreshGrants++
	}
	f.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-f.done:
		case <-r.Context().Done():
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.PostForm.Get("client_id") != f.clientID {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	switch grant {
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		switch {
		case f.fail == "500":
			http.Error(w, "upstream database on fire", http.StatusInternalServerError)
			return
		case f.fail == "invalid_grant" || !f.valid[rt]:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "refresh token revoked"})
			return
		}
		if f.noRotate {
			f.issue(w, false)
			return
		}
		delete(f.valid, rt)
		f.issue(w, true)
	case "urn:ietf:params:oauth:grant-type:device_code":
		if r.PostForm.Get("device_code") != "dev-code" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "expired_token"})
			return
		}
		f.issue(w, !f.noRefresh)
	case "authorization_code":
		if r.PostForm.Get("code") != "auth-code" || r.PostForm.Get("code_verifier") == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
			return
		}
		f.issue(w, !f.noRefresh)
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
	}
}

// issue answers with a new token set. Callers hold mu. expires_in is counted
// from the agent's shifted clock, as x/oauth2 adds it to the real one.
func (f *fakeIdP) issue(w http.ResponseWriter, withRefresh bool) {
	f.n++
	resp := map[string]any{
		"access_token": fmt.Sprintf("at-%s-%d", secretMark, f.n),
		"token_type":   "Bearer",
		"expires_in":   int((f.lifetime + f.clock.Offset()).Seconds()),
	}
	if withRefresh {
		rt := fmt.Sprintf("rt-%s-%d", secretMark, f.n)
		f.valid[rt] = true
		resp["refresh_token"] = rt
	}
	if f.idToken {
		resp["id_token"] = f.jwt(map[string]any{
			"iss":   f.srv.URL,
			"aud":   f.clientID,
			"sub":   "user-1",
			"email": "ada@example.com",
			"exp":   f.clock.Now().Add(f.lifetime).Unix(),
			"n":     f.n,
		})
	}
	writeJSON(w, http.StatusOK, resp)
}

// jwt makes an unsigned JWT-shaped token: the agent reads claims from the
// token endpoint's answer without checking a signature.
func (f *fakeIdP) jwt(claims map[string]any) string {
	b, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc(b) + "." + enc([]byte(secretMark))
}

func (f *fakeIdP) device(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"device_code":               "dev-code",
		"user_code":                 "ABCD-EFGH",
		"verification_uri":          f.srv.URL + "/verify",
		"verification_uri_complete": f.srv.URL + "/verify?code=ABCD-EFGH",
		"expires_in":                60,
		"interval":                  1,
	})
}

// authorize approves at once and redirects back with a code, as a provider
// would once the user signed in.
func (f *fakeIdP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != f.clientID || q.Get("code_challenge_method") != "S256" {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	back, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	back.RawQuery = url.Values{"code": {"auth-code"}, "state": {q.Get("state")}}.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (f *fakeIdP) revoke(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	f.mu.Lock()
	if f.revokeFail {
		f.mu.Unlock()
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	f.revoked = append(f.revoked, r.PostForm.Get("token_type_hint")+":"+r.PostForm.Get("token"))
	delete(f.valid, r.PostForm.Get("token"))
	f.mu.Unlock()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// hookStore is a memory store whose reads and writes a test can intercept.
type hookStore struct {
	*memory.Store
	mu    sync.Mutex
	onGet func(key string, value []byte) error // after the read; an error fails it
	onSet func(key string, value []byte) error // before the write; an error fails it
}

func (s *hookStore) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := s.Store.Get(ctx, key)
	s.mu.Lock()
	hook := s.onGet
	s.mu.Unlock()
	if hook != nil {
		if herr := hook(key, v); herr != nil {
			return nil, herr
		}
	}
	return v, err
}

func (s *hookStore) Set(ctx context.Context, key string, value []byte) error {
	s.mu.Lock()
	hook := s.onSet
	s.mu.Unlock()
	if hook != nil {
		if err := hook(key, value); err != nil {
			return err
		}
	}
	return s.Store.Set(ctx, key, value)
}

func (s *hookStore) hooks(onGet func(string, []byte) error, onSet func(string, []byte) error) {
	s.mu.Lock()
	s.onGet, s.onSet = onGet, onSet
	s.mu.Unlock()
}

var _ Store = (*hookStore)(nil)

// syncBuffer collects the agent's log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// env is one agent on its own socket, with its config file, store, clock and
// provider.
type env struct {
	t       testing.TB
	clock   *clock
	idp     *fakeIdP
	store   *hookStore
	log     *syncBuffer
	cfgPath string
	audit   string // the audit log
	writes  int    // of the config file
	sock    string
	agent   *Agent
	client  *client.Client
	cancel  context.CancelFunc // stops the agent
	done    chan struct{}      // closed when Serve returned
	served  error              // what Serve returned
	extra   func(*Options)     // applied to the agent's options on start
}

// defaultConfig has two profiles on the same provider: work (matched by git
// URLs) and home (by a docker registry name).
const defaultConfig = `
store = "memory"

[agent]
idle_timeout = "1h"

[profiles.work]
issuer = "{{ISSUER}}"
client_id = "mayfly-test"
match = ["https://git.work.example/"]

[profiles.home]
issuer = "{{ISSUER}}"
client_id = "mayfly-test"
scopes = ["openid", "offline_access", "home"]
match = ["registry.home.example"]
username = "home-user"
`

// newEnv writes cfg (defaultConfig if empty) and starts an agent.
func newEnv(t testing.TB, cfg string) *env {
	t.Helper()
	return newEnvWith(t, cfg, nil)
}

// newEnvWith is newEnv with extra applied to the agent's options.
func newEnvWith(t testing.TB, cfg string, extra func(*Options)) *env {
	t.Helper()
	clk := &clock{}
	e := &env{t: t, clock: clk, idp: newIdP(t, clk), store: &hookStore{Store: memory.New()}, log: &syncBuffer{}, extra: extra}
	dir, err := os.MkdirTemp("", "mf") // t.TempDir can exceed a socket path's 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	e.sock = filepath.Join(dir, "agent.sock")
	if runtime.GOOS == "windows" {
		e.sock = `\\.\pipe\mayfly-test-` + filepath.Base(dir) // unique, as dir is
	}
	e.cfgPath = filepath.Join(t.TempDir(), "config.toml")
	e.audit = filepath.Join(t.TempDir(), "state", "audit.log")
	if cfg == "" {
		cfg = defaultConfig
	}
	e.writeConfig(cfg)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent log:\n%s", e.log)
		}
	})
	e.start()
	return e
}

// writeConfig writes the config file, giving it a new modification time so
// the agent sees the change even within the file system's time resolution.
func (e *env) writeConfig(cfg string) {
	e.t.Helper()
	cfg = strings.ReplaceAll(cfg, "{{ISSUER}}", e.idp.URL())
	if err := os.WriteFile(e.cfgPath, []byte(cfg), 0o600); err != nil {
		e.t.Fatal(err)
	}
	e.writes++
	mtime := time.Unix(1_700_000_000+int64(e.writes), 0)
	if err := os.Chtimes(e.cfgPath, mtime, mtime); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) start() {
	e.t.Helper()
	ln, release, err := Listen(e.sock)
	if err != nil {
		e.t.Fatal(err)
	}
	opt := Options{
		ConfigPath: e.cfgPath,
		Socket:     e.sock,
		Store:      e.store,
		Log:        slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		HTTP:       e.idp.srv.Client(),
		Now:        e.clock.Now,
		AuditLog:   e.audit,
	}
	if e.extra != nil {
		e.extra(&opt)
	}
	e.agent = New(opt)
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.done = make(chan struct{})
	go func() {
		e.served = e.agent.Serve(ctx, ln)
		close(e.done)
	}()
	e.t.Cleanup(func() {
		cancel()
		if !e.stopped(10 * time.Second) {
			e.t.Errorf("Serve did not return after cancel")
		} else if e.served != nil {
			e.t.Errorf("Serve: %v", e.served)
		}
		release()
		if strings.Contains(e.log.String(), secretMark) {
			e.t.Errorf("a token reached the agent log:\n%s", e.log)
		}
		if b, _ := os.ReadFile(e.audit); strings.Contains(string(b), secretMark) {
			e.t.Errorf("a token reached the audit log:\n%s", b)
		}
	})
	e.client = &client.Client{Socket: e.sock, Config: e.cfgPath}
}

// stopped reports whether Serve returns within d.
func (e *env) stopped(d time.Duration) bool {
	select {
	case <-e.done:
		return true
	case <-time.After(d):
		return false
	}
}

// events returns the audit log's events of the given kind (all if "").
func (e *env) events(kind string) []auditlog.Event {
	e.t.Helper()
	var out []auditlog.Event
	if _, err := auditlog.Read(e.audit, func(ev auditlog.Event, _ []byte) error {
		if kind == "" || ev.Event == kind {
			out = append(out, ev)
		}
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// profile returns a profile of the current config file.
func (e *env) profile(name string) *config.Profile {
	e.t.Helper()
	cfg, err := config.Load(e.cfgPath)
	if err != nil {
		e.t.Fatal(err)
	}
	p := cfg.Profiles[name]
	if p == nil {
		e.t.Fatalf("no profile %q", name)
	}
	return p
}

// seed stores a session for profile, as an earlier sign-in would have, and
// returns its refresh token.
func (e *env) seed(profile string) string {
	e.t.Helper()
	p := e.profile(profile)
	rt := e.idp.newRefreshToken()
	b, err := json.Marshal(record{V: 1, Issuer: p.Issuer, ClientID: p.ClientID, RefreshToken: rt, Subject: "ada@example.com", Saved: time.Now().UTC()})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.Store.Set(context.Background(), sessionKey(p), b); err != nil {
		e.t.Fatal(err)
	}
	return rt
}

// stored returns the session record of profile in the store, if any.
func (e *env) stored(profile string) (record, bool) {
	e.t.Helper()
	b, err := e.store.Store.Get(context.Background(), sessionKey(e.profile(profile)))
	if err != nil {
		return record{}, false
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		e.t.Fatalf("stored record: %v", err)
	}
	return rec, true
}

func (e *env) do(req wire.Request) (wire.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return e.client.Do(ctx, req)
}

func (e *env) token(url string) (wire.Response, error) {
	return e.do(wire.Request{Op: wire.OpToken, URL: url, Consumer: "test"})
}

// mustToken asks for a token for url and fails the test on an error.
func (e *env) mustToken(url string) wire.Response {
	e.t.Helper()
	resp, err := e.token(url)
	if err != nil {
		e.t.Fatalf("token %s: %v", url, err)
	}
	return resp
}

// wireError returns err as the agent's *wire.Error, failing the test if it
// is another kind of error.
func wireError(t *testing.T, err error) *wire.Error {
	t.Helper()
	var we *wire.Error
	if !errors.As(err, &we) {
		t.Fatalf("got error %v (%T), want a *wire.Error", err, err)
	}
	return we
}

func (e *env) status() *wire.Status {
	e.t.Helper()
	resp, err := e.do(wire.Request{Op: wire.OpStatus})
	if err != nil {
		e.t.Fatalf("status: %v", err)
	}
	if resp.Status == nil {
		e.t.Fatal("status: no status in the answer")
	}
	return resp.Status
}

// profileStatus returns the status of the named profile.
func profileStatus(t *testing.T, st *wire.Status, name string) wire.ProfileStatus {
	t.Helper()
	for _, ps := range st.Profiles {
		if ps.Name == name {
			return ps
		}
	}
	t.Fatalf("status lists no profile %q", name)
	return wire.ProfileStatus{}
}
