package testpeers

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// The registry's token auth names (distribution's auth.token service and
// issuer; the token server signs with these and the registry checks them).
const (
	RegistryService = "mayfly-test-registry"
	registryIssuer  = "mayfly-test-token-server"
)

// FindRegistry returns the distribution registry and crane binaries that
// scripts/install-peers.sh built (registry v3.1.2, crane v0.22.1), looked up
// as FindDex looks up Dex.
func FindRegistry() (registry, crane string, err error) {
	dex, err := FindDex()
	if err != nil {
		return "", "", fmt.Errorf("no peers folder: %w", err)
	}
	dir := filepath.Dir(dex)
	registry, crane = filepath.Join(dir, "registry"), filepath.Join(dir, "crane")
	for _, p := range []string{registry, crane} {
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			return "", "", fmt.Errorf("%s not found: run scripts/install-peers.sh (or make peers)", filepath.Base(p))
		}
	}
	return registry, crane, nil
}

// RegistryOptions configure StartRegistry. With Issuer set, the registry
// uses token auth and its token server accepts only the provider's tokens;
// otherwise it uses htpasswd auth with Users.
type RegistryOptions struct {
	Bin string // the registry binary
	Dir string // for its config, key set, password file and log

	// Token auth: the password a client presents at the token server must
	// be an access token Issuer signed for Audience, unexpired.
	Issuer, Audience string

	// Htpasswd auth: user name to bcrypt hash (registry v3 reads bcrypt
	// only), when Issuer is "".
	Users map[string]string
}

// Registry is a running distribution registry (storage in memory), and for
// token auth the token server in front of it.
type Registry struct {
	// Host is what clients put in image references and Docker's config:
	// "localhost:PORT". The registry listens on 127.0.0.1 only.
	Host    string
	LogPath string

	cmd    *exec.Cmd
	tokens *registryTokenServer // nil with htpasswd auth
}

// StartRegistry writes a config, starts the registry and waits until it
// answers.
//
// Token auth follows distribution's token specification
// (docs/spec/auth/token.md and jwt.md in distribution/distribution): a
// client the registry sends away with 401 and `WWW-Authenticate: Bearer
// realm=...,service=...,scope=...` asks the realm for a token with Basic
// credentials, and presents that token. The realm is http://localhost:PORT,
// not an IP literal, because crane refuses realms on private or loopback
// IP addresses (peers.md §3b). The registry checks the token's signature
// against the key set the token server wrote (auth.token.jwks, registry v3).
func StartRegistry(ctx context.Context, opt RegistryOptions) (*Registry, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	r := &Registry{Host: "localhost:" + port, LogPath: filepath.Join(opt.Dir, "registry.log")}

	var auth string
	if opt.Issuer != "" {
		jwks := filepath.Join(opt.Dir, "jwks.json")
		r.tokens, err = startRegistryTokenServer(ctx, opt.Issuer, opt.Audience, jwks)
		if err != nil {
			return nil, err
		}
		auth = fmt.Sprintf("  token:\n    realm: %s/token\n    service: %s\n    issuer: %s\n    jwks: %s\n",
			r.tokens.url, RegistryService, registryIssuer, jwks)
	} else {
		var lines []string
		for user, hash := range opt.Users {
			lines = append(lines, user+":"+hash+"\n")
		}
		slices.Sort(lines)
		htpasswd := filepath.Join(opt.Dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(strings.Join(lines, "")), 0o600); err != nil {
			return nil, err
		}
		auth = fmt.Sprintf("  htpasswd:\n    realm: mayfly-test\n    path: %s\n", htpasswd)
	}
	secret := make([]byte, 16)
	rand.Read(secret)
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  inmemory: {}
  delete:
    enabled: true
http:
  addr: %s
  secret: %s
auth:
%s`, addr, hex.EncodeToString(secret), auth)
	cfgPath := filepath.Join(opt.Dir, "registry.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		r.Close()
		return nil, err
	}
	logf, err := os.OpenFile(r.LogPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		r.Close()
		return nil, err
	}
	r.cmd = exec.Command(opt.Bin, "serve", cfgPath)
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	// Registry v3 sets up OpenTelemetry; keep it from exporting anywhere.
	r.cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none", "OTEL_LOGS_EXPORTER=none")
	if err := r.cmd.Start(); err != nil {
		logf.Close()
		r.Close()
		return nil, fmt.Errorf("start registry: %w", err)
	}
	logf.Close()

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return r, nil
			}
			err = fmt.Errorf("GET /v2/: %s, want 401", resp.Status)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			r.Close()
			log, _ := os.ReadFile(r.LogPath)
			return nil, fmt.Errorf("registry did not come up: %v\n%s", err, tail(log, 2000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Close stops the registry and its token server.
func (r *Registry) Close() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
	}
	if r.tokens != nil {
		r.tokens.srv.Close()
	}
}

// TokenStats returns how many token requests the token server granted and
// refused (zero with htpasswd auth).
func (r *Registry) TokenStats() (granted, refused int) {
	if r.tokens == nil {
		return 0, 0
	}
	r.tokens.mu.Lock()
	defer r.tokens.mu.Unlock()
	return r.tokens.granted, r.tokens.refused
}

// ProviderTokenExpiries returns the expiry of each distinct provider token
// the token server accepted, in the order first seen: a new entry means
// the client came with a new token. Only the expiry is kept, never a token.
func (r *Registry) ProviderTokenExpiries() []time.Time {
	if r.tokens == nil {
		return nil
	}
	r.tokens.mu.Lock()
	defer r.tokens.mu.Unlock()
	return slices.Clone(r.tokens.expiries)
}

// TokenLog returns one line per token request (no credentials in it).
func (r *Registry) TokenLog() []string {
	if r.tokens == nil {
		return nil
	}
	r.tokens.mu.Lock()
	defer r.tokens.mu.Unlock()
	return slices.Clone(r.tokens.log)
}

// registryTokenServer is the registry's authorization service: it trades a
// provider access token, presented as the Basic password, for a registry
// token.
type registryTokenServer struct {
	url      string // http://localhost:PORT
	srv      *httptest.Server
	verifier *TokenVerifier
	key      *ecdsa.PrivateKey
	kid      string

	mu       sync.Mutex
	granted  int
	refused  int
	expiries []time.Time
	seen     map[[32]byte]bool // sha256 of accepted provider tokens, to count distinct ones
	log      []string
}

func startRegistryTokenServer(ctx context.Context, issuer, audience, jwksPath string) (*registryTokenServer, error) {
	v, err := NewTokenVerifier(ctx, issuer, audience)
	if err != nil {
		return nil, fmt.Errorf("registry token server: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	ts := &registryTokenServer{verifier: v, key: key, seen: map[[32]byte]bool{}}
	pub, err := key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, err
	}
	x, y := pub[1:33], pub[33:]
	kidSum := sha256.Sum256(pub)
	ts.kid = b64url(kidSum[:8])
	// RFC 7517 key set; the registry picks the key by the JWT's kid.
	jwks, err := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": ts.kid, "x": b64url(x), "y": b64url(y),
	}}})
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(jwksPath, jwks, 0o600); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ts.srv = httptest.NewUnstartedServer(http.HandlerFunc(ts.serve))
	ts.srv.Listener.Close()
	ts.srv.Listener = l
	ts.srv.Start()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	ts.url = "http://localhost:" + port
	return ts, nil
}

// serve answers GET /token?service=...&scope=...&account=... with Basic
// credentials (docs/spec/auth/token.md, "Requesting a Token"). It refuses
// with 401 everything else: no credentials (so anonymous pulls fail), a
// password that is not a valid provider token, another service, and the
// OAuth2 POST form, which clients use only with identity tokens, which
// Mayfly never hands out (peers.md §3b).
func (ts *registryTokenServer) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	scopes := q["scope"]
	user, pw, basic := r.BasicAuth()
	outcome, subject := "ok", ""
	switch {
	case r.URL.Path != "/token":
		outcome = "not found"
	case r.Method != http.MethodGet:
		outcome = "method " + r.Method + " refused"
	case !basic:
		outcome = "no basic credentials"
	case q.Get("service") != RegistryService:
		outcome = "wrong service"
	default:
		var err error
		if subject, err = ts.verifier.Verify(r.Context(), pw); err != nil {
			outcome = err.Error()
		}
	}
	ts.mu.Lock()
	ts.log = append(ts.log, fmt.Sprintf("%s %s user=%q scope=%q %s", r.Method, r.URL.Path, user, scopes, outcome))
	if outcome == "ok" {
		ts.granted++
		if sum := sha256.Sum256([]byte(pw)); !ts.seen[sum] {
			ts.seen[sum] = true
			ts.expiries = append(ts.expiries, jwtExpiry(pw))
		}
	} else {
		ts.refused++
	}
	ts.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	if outcome != "ok" {
		w.Header().Set("WWW-Authenticate", `Basic realm="mayfly-test-registry-token"`)
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": "UNAUTHORIZED", "message": outcome}}})
		return
	}
	const lifetime = 5 * time.Minute
	now := time.Now()
	tok, err := ts.sign(subject, scopes, now, lifetime)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{
		"token": tok, "access_token": tok, "expires_in": int(lifetime.Seconds()), "issued_at": now.UTC().Format(time.RFC3339),
	})
}

// registryAccess is one entry of the JWT's access claim: a resource and the
// actions granted on it (docs/spec/auth/jwt.md).
type registryAccess struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// sign makes an ES256 registry token granting every scope asked for. A
// scope is "type:name:action,action" (docs/spec/auth/scope.md); the name may
// hold a ":" (a registry host with a port), so the type is the first field
// and the actions the last.
func (ts *registryTokenServer) sign(subject string, scopes []string, now time.Time, lifetime time.Duration) (string, error) {
	access := []registryAccess{}
	for _, list := range scopes {
		for _, s := range strings.Fields(list) {
			first, last := strings.Index(s, ":"), strings.LastIndex(s, ":")
			if first < 0 || first == last {
				continue
			}
			access = append(access, registryAccess{Type: s[:first], Name: s[first+1 : last], Actions: strings.Split(s[last+1:], ",")})
		}
	}
	jti := make([]byte, 16)
	rand.Read(jti)
	header, err := json.Marshal(map[string]string{"typ": "JWT", "alg": "ES256", "kid": ts.kid})
	if err != nil {
		return "", err
	}
	claims, err := json.Marshal(map[string]any{
		"iss": registryIssuer, "sub": subject, "aud": RegistryService,
		"exp": now.Add(lifetime).Unix(), "nbf": now.Add(-10 * time.Second).Unix(), "iat": now.Unix(),
		"jti": hex.EncodeToString(jti), "access": access,
	})
	if err != nil {
		return "", err
	}
	signing := b64url(header) + "." + b64url(claims)
	sum := sha256.Sum256([]byte(signing))
	rr, ss, err := ecdsa.Sign(rand.Reader, ts.key, sum[:])
	if err != nil {
		return "", err
	}
	// RFC 7518 §3.4: ES256 signatures are R || S, each 32 bytes big-endian.
	sig := make([]byte, 64)
	rr.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	return signing + "." + b64url(sig), nil
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwtExpiry reads the exp claim of a JWT already verified; the zero time if
// it has none.
func jwtExpiry(raw string) time.Time {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}
	}
	var c struct {
		Exp float64 `json:"exp"`
	}
	if json.Unmarshal(payload, &c) != nil || c.Exp == 0 {
		return time.Time{}
	}
	return time.Unix(int64(c.Exp), 0)
}
