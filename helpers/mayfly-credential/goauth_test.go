package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/internal/envknob"
)

// goauthAgent is a fake agent on a UNIX socket: it records each request and
// answers with answer's response. The real agent is exercised by
// e2e/goauth_test.go, with go itself and Dex.
type goauthAgent struct {
	mu   sync.Mutex
	reqs []wire.Request
}

func startGOAUTHAgent(t *testing.T, answer func(wire.Request) wire.Response) *goauthAgent {
	t.Helper()
	dir, err := os.MkdirTemp("", "mf-goauth-") // short: socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	t.Setenv(envknob.AgentSocket, sock)
	t.Setenv(envknob.Config, filepath.Join(dir, "config.toml"))
	t.Setenv(envknob.NoAutostart, "1")
	a := &goauthAgent{}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			var req wire.Request
			if err := wire.NewReader(conn).Read(&req); err == nil {
				a.mu.Lock()
				a.reqs = append(a.reqs, req)
				a.mu.Unlock()
				wire.Write(conn, answer(req))
			}
			conn.Close()
		}
	}()
	return a
}

func (a *goauthAgent) requests() []wire.Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]wire.Request(nil), a.reqs...)
}

const (
	goauthURL = "https://proxy.corp.example/corp.example/lib/@v/v1.2.0.zip"
	goauthTok = "eyJhbGciOiJSUzI1NiJ9.e30.sig"
)

func TestGOAUTH(t *testing.T) {
	token := func(wire.Request) wire.Response {
		return wire.Response{Profile: "corp", Username: "oauth2", Token: goauthTok, Expiry: time.Now().Add(time.Minute)}
	}
	failure := func(code, msg string) func(wire.Request) wire.Response {
		return func(wire.Request) wire.Response { return wire.Response{Error: &wire.Error{Code: code, Message: msg}} }
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("oauth2:"+goauthTok))
	for _, tc := range []struct {
		name       string
		args       []string
		stdin      string
		answer     func(wire.Request) wire.Response
		asks       int // requests the agent should see
		wantCode   int
		wantStdout string
		wantStderr string // a substring; "" means stderr must be empty
	}{
		{
			// go's first run, before any request: no URL, empty stdin,
			// and no reason to start the agent.
			name: "first run", answer: token,
		},
		{
			name: "bearer challenge", args: []string{goauthURL},
			stdin:  "HTTP/2.0 401 Unauthorized\nWww-Authenticate: Bearer realm=\"proxy\"\n\n",
			answer: token, asks: 1,
			wantStdout: goauthURL + "\n\nAuthorization: Bearer " + goauthTok + "\n\n",
		},
		{
			name: "no challenge", args: []string{goauthURL},
			stdin:  "HTTP/1.1 404 Not Found\nContent-Type: text/plain\n\n",
			answer: token, asks: 1,
			wantStdout: goauthURL + "\n\nAuthorization: Bearer " + goauthTok + "\n\n",
		},
		{
			name: "basic only", args: []string{goauthURL},
			stdin:  "HTTP/1.1 401 Unauthorized\nWww-Authenticate: Basic realm=\"git\"\n\n",
			answer: token, asks: 1,
			wantStdout: goauthURL + "\n\nAuthorization: " + basic + "\n\n",
		},
		{
			name: "basic and bearer", args: []string{goauthURL},
			stdin:  "HTTP/1.1 401 Unauthorized\nWww-Authenticate: Basic realm=\"git\", Bearer realm=\"git\"\n\n",
			answer: token, asks: 1,
			wantStdout: goauthURL + "\n\nAuthorization: Bearer " + goauthTok + "\n\n",
		},
		{
			// Not ours: nothing, so go goes on without credentials.
			name: "no profile", args: []string{"https://proxy.golang.org/x/@v/list"},
			stdin:  "HTTP/2.0 404 Not Found\n\n",
			answer: failure(wire.CodeNoProfile, "no profile matches"), asks: 1,
		},
		{
			name: "not signed in", args: []string{goauthURL},
			answer: failure(wire.CodeLoginRequired, "not signed in to profile corp: run `mayfly login --profile corp`"), asks: 1,
			wantCode: 1, wantStderr: "mayfly: not signed in to profile corp: run `mayfly login --profile corp`\n",
		},
		{
			name: "revoked", args: []string{goauthURL},
			answer: failure(wire.CodeRevoked, "the session of profile corp was ended by the provider (invalid_grant): run `mayfly login --profile corp`"), asks: 1,
			wantCode: 1, wantStderr: "run `mayfly login --profile corp`\n",
		},
		{
			name: "provider down", args: []string{goauthURL},
			answer: failure(wire.CodeProvider, "profile corp: dial tcp: connection refused"), asks: 1,
			wantCode: 1, wantStderr: "mayfly: profile corp: dial tcp: connection refused\n",
		},
		{
			name: "option", args: []string{"--profile", "corp", goauthURL}, answer: token,
			wantCode: 2, wantStderr: "set GOAUTH to the command line itself",
		},
		{
			name: "http URL", args: []string{"http://proxy.corp.example/x"}, answer: token,
			wantCode: 2, wantStderr: "over https only",
		},
		{
			name: "garbage stdin", args: []string{goauthURL}, stdin: "\x00garbage\n", answer: token,
			wantCode: 1, wantStderr: "not an HTTP status line",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			agent := startGOAUTHAgent(t, tc.answer)
			var stdout, stderr bytes.Buffer
			code := runGOAUTH(context.Background(), tc.args, strings.NewReader(tc.stdin), &stdout, &stderr)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.wantCode, stderr.String())
			}
			if stdout.String() != tc.wantStdout {
				t.Errorf("stdout %q, want %q", stdout.String(), tc.wantStdout)
			}
			switch {
			case tc.wantStderr == "" && stderr.Len() != 0:
				t.Errorf("stderr %q", stderr.String())
			case !strings.Contains(stderr.String(), tc.wantStderr):
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tc.wantStderr)
			case stderr.Len() != 0 && strings.Count(stderr.String(), "\n") != 1:
				t.Errorf("stderr is not one line: %q", stderr.String())
			}
			reqs := agent.requests()
			if len(reqs) != tc.asks {
				t.Fatalf("agent got %d requests, want %d: %+v", len(reqs), tc.asks, reqs)
			}
			for _, r := range reqs {
				if r.Op != wire.OpToken || r.URL != tc.args[0] || r.Consumer != "go" || r.Profile != "" {
					t.Errorf("agent got %+v", r)
				}
			}
		})
	}
}

func TestGOAUTHNoAgent(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(envknob.AgentSocket, filepath.Join(dir, "none.sock"))
	t.Setenv(envknob.Config, filepath.Join(dir, "config.toml"))
	t.Setenv(envknob.NoAutostart, "1")
	var stdout, stderr bytes.Buffer
	code := runGOAUTH(context.Background(), []string{goauthURL}, strings.NewReader(""), &stdout, &stderr)
	if code != 1 || stdout.Len() != 0 || !strings.Contains(stderr.String(), "no agent is running") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}
