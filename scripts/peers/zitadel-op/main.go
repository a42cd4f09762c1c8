// Command zitadel-op is the OpenID provider of zitadel/oidc v3.52.0's
// example (its exported exampleop and storage packages, in memory), set up
// for Mayfly's tests: a provider that exchanges its own tokens (RFC 8693).
//
// It registers one client, "mayfly": a native, public client (no secret,
// PKCE, any loopback port for http://127.0.0.1/callback) allowed the code,
// refresh_token, device_code and token-exchange grants, whose access tokens
// are JWTs. The example's own constructors cannot say that (NativeClient
// has no token exchange, WebClient needs a secret, and the Client's fields
// are unexported), so its storage is embedded and GetClientByClientID
// overridden. Users (ID == username, as the example's device login needs):
// alice (admin: the example lets only admins exchange a token without an
// actor token) and bob (not), both with password "verysecure".
//
// The OP runs behind the library's op.Server (exampleop's wrapServer):
// the older handler takes token-exchange client credentials from HTTP Basic
// only, so a public client, which names itself with client_id in the form,
// gets invalid_client there.
//
// An exchanged access token's aud is the audience the request asked for
// (op.CreateJWT uses the request's audience), so resource servers can tell
// one consumer's token from another's.
//
// PORT (default 0: a free one) picks the loopback port. Once it serves it
// prints "listening <issuer>" on stdout; logs go to stderr. GET /__stats
// returns counters of token-endpoint requests (no tokens).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

const clientID = "mayfly"

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "0"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, "zitadel-op:", err)
		os.Exit(1)
	}
	issuer := "http://" + ln.Addr().String()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	// The example storage keeps its own client map: StoreDeviceAuthorization
	// looks the client up there, so register the ID there too.
	people := users()
	base := storage.NewStorageWithClients(people, map[string]*storage.Client{
		clientID: storage.NativeClient(clientID, "http://127.0.0.1/callback"),
	})
	st := &store{Storage: base, users: people, client: &client{}}
	stats := &stats{TokenRequests: map[string]int{}, TokenErrors: map[string]int{}, Exchanged: map[string]int{}}
	router := exampleop.SetupServer(issuer, st, logger, true)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /__stats", stats.serve)
	mux.Handle("/", stats.count(router))

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Println("listening " + issuer)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Error("serve", "err", err)
		os.Exit(1)
	}
}

// users are the people who can sign in. ID == Username: the example's device
// login stores the username as the subject.
func users() storage.UserStore {
	return userStore{
		"alice": {ID: "alice", Username: "alice", Password: "verysecure", FirstName: "Alice", LastName: "A",
			Email: "alice@example.com", EmailVerified: true, PreferredLanguage: language.English, IsAdmin: true},
		"bob": {ID: "bob", Username: "bob", Password: "verysecure", FirstName: "Bob", LastName: "B",
			Email: "bob@example.com", EmailVerified: true, PreferredLanguage: language.English},
	}
}

type userStore map[string]*storage.User

func (u userStore) GetUserByID(id string) *storage.User { return u[id] }
func (u userStore) GetUserByUsername(name string) *storage.User {
	for _, x := range u {
		if x.Username == name {
			return x
		}
	}
	return nil
}
func (u userStore) ExampleClientID() string { return storage.ServiceUserID }

// store is the example storage with Mayfly's client in it.
type store struct {
	*storage.Storage
	users  storage.UserStore
	client op.Client
}

func (s *store) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	if id == clientID {
		return s.client, nil
	}
	return s.Storage.GetClientByClientID(ctx, id)
}

// CreateAccessAndRefreshTokens makes the device flow's refresh token
// usable: the example stores it without the client ID (it learns that only
// from an *AuthRequest or a *RefreshTokenRequest), so its refresh would then
// fail with invalid_grant ("client does not match").
func (s *store) CreateAccessAndRefreshTokens(ctx context.Context, r op.TokenRequest, current string) (string, string, time.Time, error) {
	if d, ok := r.(*op.DeviceAuthorizationState); ok && current == "" {
		r = &storage.AuthRequest{ApplicationID: d.ClientID, UserID: d.Subject, Scopes: d.Scopes}
	}
	return s.Storage.CreateAccessAndRefreshTokens(ctx, r, current)
}

// ValidateTokenExchangeRequest refuses, rather than crashes on, a subject
// the user store does not know (the example dereferences the lookup).
func (s *store) ValidateTokenExchangeRequest(ctx context.Context, r op.TokenExchangeRequest) error {
	if r.GetExchangeActor() == "" && s.users.GetUserByID(r.GetExchangeSubject()) == nil {
		return oidc.ErrInvalidRequest().WithDescription("unknown subject")
	}
	return s.Storage.ValidateTokenExchangeRequest(ctx, r)
}

// client is Mayfly: native, public, PKCE, loopback redirects on any port.
type client struct{}

func (*client) GetID() string                        { return clientID }
func (*client) RedirectURIs() []string               { return []string{"http://127.0.0.1/callback"} }
func (*client) PostLogoutRedirectURIs() []string     { return nil }
func (*client) ApplicationType() op.ApplicationType  { return op.ApplicationTypeNative }
func (*client) AuthMethod() oidc.AuthMethod          { return oidc.AuthMethodNone }
func (*client) ResponseTypes() []oidc.ResponseType   { return []oidc.ResponseType{oidc.ResponseTypeCode} }
func (*client) LoginURL(id string) string            { return "/login/username?authRequestID=" + id }
func (*client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (*client) IDTokenLifetime() time.Duration       { return time.Hour }
func (*client) DevMode() bool                        { return false }
func (*client) IsScopeAllowed(string) bool           { return false }
func (*client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (*client) ClockSkew() time.Duration             { return 0 }
func (*client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeDeviceCode, oidc.GrantTypeTokenExchange}
}
func (*client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (*client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// stats counts token-endpoint requests, for tests.
type stats struct {
	mu            sync.Mutex
	TokenRequests map[string]int `json:"token_requests"` // by grant_type, whatever the outcome
	TokenErrors   map[string]int `json:"token_errors"`   // failed requests by OAuth error code
	Exchanged     map[string]int `json:"exchanged"`      // successful token exchanges by requested audience (comma-joined)
}

func (s *stats) serve(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(s)
}

func (s *stats) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/oauth/token" {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		gt := form.Get("grant_type")
		s.mu.Lock()
		defer s.mu.Unlock()
		s.TokenRequests[gt]++
		if rec.status != http.StatusOK {
			var e struct {
				Error string `json:"error"`
			}
			json.Unmarshal(rec.body.Bytes(), &e)
			s.TokenErrors[e.Error]++
		} else if gt == string(oidc.GrantTypeTokenExchange) {
			s.Exchanged[strings.Join(form["audience"], ",")]++
		}
	})
}

// recorder keeps the status and the start of the body of an answer.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.body.Len() < 4096 {
		r.body.Write(b[:min(len(b), 4096-r.body.Len())])
	}
	return r.ResponseWriter.Write(b)
}
