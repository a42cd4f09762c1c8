package testpeers

import (
	"archive/zip"
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
)

// GoProxy is a Go module proxy ("go help goproxy") over HTTPS that serves
// one module, and only to requests carrying a token the provider signed for
// our client ("Authorization: Bearer", or Basic with the token as the
// password): a private module proxy behind an OpenID provider. It answers
// others with 401 and "WWW-Authenticate: Bearer", which is what makes go run
// its GOAUTH command with the URL.
type GoProxy struct {
	URL     string // https://127.0.0.1:PORT, for GOPROXY
	CAFile  string // the PEM certificate of the CA that signed the server's, for SSL_CERT_FILE
	Module  string // module path
	Version string // its one version

	srv   *httptest.Server
	gate  *tokenGate
	files map[string][]byte // URL path → body
}

// StartGoProxy starts a proxy serving example.com/mayfly/hello v1.0.0,
// writing its CA certificate in dir.
func StartGoProxy(ctx context.Context, issuer, audience, dir string) (*GoProxy, error) {
	gate, err := newTokenGate(ctx, issuer, audience, `Bearer realm="mayfly-goproxy"`)
	if err != nil {
		return nil, fmt.Errorf("module proxy: %w", err)
	}
	p := &GoProxy{Module: "example.com/mayfly/hello", Version: "v1.0.0", gate: gate}
	// The files of the GOPROXY protocol for one version ("go help
	// goproxy"). The module path has no upper-case letters, so its escaped
	// form is itself.
	gomod := "module " + p.Module + "\n\ngo 1.21\n"
	src := "// Package hello is served by Mayfly's test module proxy.\npackage hello\n\n// Hello says hello.\nfunc Hello() string { return \"hello from behind Mayfly\" }\n"
	zipped, err := moduleZip(p.Module, p.Version, map[string]string{"go.mod": gomod, "hello.go": src})
	if err != nil {
		return nil, err
	}
	info := fmt.Sprintf(`{"Version":%q,"Time":"2026-01-02T03:04:05Z"}`, p.Version)
	base := "/" + p.Module + "/@v/" + p.Version
	p.files = map[string][]byte{
		"/" + p.Module + "/@v/list": []byte(p.Version + "\n"),
		"/" + p.Module + "/@latest": []byte(info),
		base + ".info":              []byte(info),
		base + ".mod":               []byte(gomod),
		base + ".zip":               zipped,
	}
	p.srv, p.CAFile, err = newTLSServer(dir, gate.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := p.files[r.URL.Path]
		if !ok {
			// 404 and 410 tell go to try the next proxy in GOPROXY.
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	})))
	if err != nil {
		return nil, fmt.Errorf("module proxy: %w", err)
	}
	p.srv.StartTLS()
	p.URL = p.srv.URL
	return p, nil
}

// Zip returns the module zip the proxy serves.
func (p *GoProxy) Zip() []byte { return p.files["/"+p.Module+"/@v/"+p.Version+".zip"] }

// Stats returns how many requests with credentials were accepted and rejected.
func (p *GoProxy) Stats() (accepted, rejected int) { return p.gate.stats() }

// Log returns the request log (no tokens in it).
func (p *GoProxy) Log() []string { return p.gate.requests() }

// Close stops the proxy.
func (p *GoProxy) Close() { p.srv.Close() }

// moduleZip builds a module zip: every file under "path@version/"
// (golang.org/x/mod/zip's format, without its dependency).
func moduleZip(path, version string, files map[string]string) ([]byte, error) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		f, err := zw.Create(path + "@" + version + "/" + name)
		if err != nil {
			return nil, err
		}
		if _, err := f.Write([]byte(files[name])); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// tokenGate is what the module proxy and the Cargo registry share: a
// handler wrapper that lets a request through only with a token the
// provider signed for the audience, and a request log without tokens.
type tokenGate struct {
	verifier  *TokenVerifier
	challenge string // WWW-Authenticate of a 401

	mu       sync.Mutex
	accepted int
	rejected int
	log      []string
}

func newTokenGate(ctx context.Context, issuer, audience, challenge string) (*tokenGate, error) {
	v, err := NewTokenVerifier(ctx, issuer, audience)
	if err != nil {
		return nil, err
	}
	return &tokenGate{verifier: v, challenge: challenge}, nil
}

func (g *tokenGate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var raw, scheme string
		if _, pw, ok := r.BasicAuth(); ok {
			raw, scheme = pw, "basic"
		} else if a := r.Header.Get("Authorization"); a != "" {
			scheme = "other"
			if t, ok := strings.CutPrefix(a, "Bearer "); ok {
				raw, scheme = t, "bearer"
			}
		}
		outcome := "none"
		switch {
		case raw != "":
			outcome = "ok"
			if _, err := g.verifier.Verify(r.Context(), raw); err != nil {
				outcome = err.Error()
			}
		case scheme != "":
			outcome = "not a bearer token"
		}
		g.mu.Lock()
		g.log = append(g.log, fmt.Sprintf("%s %s auth=%s %s", r.Method, r.URL.Path, cmp.Or(scheme, "none"), outcome))
		switch {
		case outcome == "ok":
			g.accepted++
		case scheme != "":
			g.rejected++
		}
		g.mu.Unlock()
		if outcome != "ok" {
			w.Header().Set("WWW-Authenticate", g.challenge)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (g *tokenGate) stats() (accepted, rejected int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.accepted, g.rejected
}

func (g *tokenGate) requests() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.log)
}

// newTLSServer returns an HTTPS server for h on loopback, not started yet
// (its address is known: srv.Listener.Addr()), with a certificate from a CA
// made for this server alone (selfSignedCA, shared with the Kubernetes API
// stand-in). It writes the CA's certificate to a new dir/ca-*.pem for the
// client (go's SSL_CERT_FILE, Cargo's http.cainfo) and returns its path.
func newTLSServer(dir string, h http.Handler) (*httptest.Server, string, error) {
	caPEM, cert, err := selfSignedCA()
	if err != nil {
		return nil, "", fmt.Errorf("certificates: %w", err)
	}
	caFile, err := os.CreateTemp(dir, "ca-*.pem")
	if err != nil {
		return nil, "", err
	}
	if _, err := caFile.Write(caPEM); err != nil {
		caFile.Close()
		return nil, "", err
	}
	if err := caFile.Close(); err != nil {
		return nil, "", err
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	return srv, caFile.Name(), nil
}
