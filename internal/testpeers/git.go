package testpeers

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// GitServer serves bare repositories over git's smart HTTP protocol through
// git http-backend, and lets a request through only with a token that the
// provider signed, for our client, and that has not expired: as a real
// forge in front of an OpenID provider would.
type GitServer struct {
	URL  string
	Root string

	srv      *httptest.Server
	verifier Verifier

	mu       sync.Mutex
	accepted int
	rejected int
	log      []string // one line per request; never a token
}

// Verifier decides whether a token presented to a resource server is good,
// and whose it is. [TokenVerifier] checks JWTs; an introspecting verifier
// asks the provider (RFC 7662), for opaque tokens.
type Verifier interface {
	Verify(ctx context.Context, raw string) (subject string, err error)
}

// StartGitServer starts a server whose repositories live in root and which
// accepts JWTs that issuer signed for audience.
func StartGitServer(ctx context.Context, issuer, audience, root string) (*GitServer, error) {
	v, err := NewTokenVerifier(ctx, issuer, audience)
	if err != nil {
		return nil, fmt.Errorf("git server: %w", err)
	}
	return StartGitServerWith(v, root), nil
}

// StartGitServerWith starts a git server that accepts the tokens v accepts.
func StartGitServerWith(v Verifier, root string) *GitServer {
	g := &GitServer{Root: root, verifier: v}
	backend := &cgi.Handler{
		Path: gitHTTPBackend(),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, ok := g.check(r)
		if !ok {
			w.Header().Add("WWW-Authenticate", `Basic realm="mayfly-test"`)
			w.Header().Add("WWW-Authenticate", `Bearer realm="mayfly-test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		r.Header.Set("Remote-User", user)
		backend.ServeHTTP(w, r)
	}))
	g.URL = g.srv.URL
	return g
}

func gitHTTPBackend() string {
	if out, err := exec.Command("git", "--exec-path").Output(); err == nil {
		return filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	}
	return "/usr/lib/git-core/git-http-backend"
}

func (g *GitServer) check(r *http.Request) (string, bool) {
	var raw, scheme string
	if _, p, ok := r.BasicAuth(); ok {
		raw, scheme = p, "basic"
	} else if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
		raw, scheme = strings.TrimPrefix(a, "Bearer "), "bearer"
	}
	outcome := "none"
	var subject string
	if raw != "" {
		var err error
		if subject, err = g.verifier.Verify(r.Context(), raw); err != nil {
			outcome = err.Error()
		} else {
			outcome = "ok"
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.log = append(g.log, fmt.Sprintf("%s %s auth=%s %s", r.Method, r.URL.Path, scheme, outcome))
	if outcome == "ok" {
		g.accepted++
		return subject, true
	}
	if raw != "" {
		g.rejected++
	}
	return "", false
}

// Stats returns how many requests with credentials were accepted and rejected.
func (g *GitServer) Stats() (accepted, rejected int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.accepted, g.rejected
}

// Log returns the request log (no tokens in it).
func (g *GitServer) Log() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.log)
}

// Close stops the server.
func (g *GitServer) Close() { g.srv.Close() }

// CreateRepo makes a bare repository name.git with one commit.
func (g *GitServer) CreateRepo(name, content string) error {
	bare := filepath.Join(g.Root, name+".git")
	work, err := os.MkdirTemp("", "mayfly-seed-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	env := append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=Mayfly", "GIT_AUTHOR_EMAIL=demo@example.com", "GIT_COMMITTER_NAME=Mayfly", "GIT_COMMITTER_EMAIL=demo@example.com")
	steps := [][]string{
		{"init", "-q", "--bare", "-b", "main", bare},
		{"-C", bare, "config", "http.receivepack", "true"},
		{"init", "-q", "-b", "main", work},
	}
	for _, s := range steps {
		if out, err := gitCmd(env, s...); err != nil {
			return fmt.Errorf("git %v: %w: %s", s, err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(work, "README.md"), []byte(content), 0o644); err != nil {
		return err
	}
	for _, s := range [][]string{{"-C", work, "add", "."}, {"-C", work, "commit", "-q", "-m", "first"}, {"-C", work, "push", "-q", bare, "main"}} {
		if out, err := gitCmd(env, s...); err != nil {
			return fmt.Errorf("git %v: %w: %s", s, err, out)
		}
	}
	return nil
}

func gitCmd(env []string, args ...string) ([]byte, error) {
	cmd := exec.Command("git", args...)
	cmd.Env = env
	return cmd.CombinedOutput()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
