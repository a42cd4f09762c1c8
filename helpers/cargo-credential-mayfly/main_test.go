package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/internal/envknob"
)

// TestDeps keeps the provider small and quick to start: it talks to the
// agent and nothing else. HTTP, OAuth, TOML and Kubernetes belong in the
// agent.
func TestDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		// os/signal costs every start (bench/README.md, "Where the time goes").
		for _, banned := range []string{"net/http", "crypto/tls", "golang.org/x/oauth2", "github.com/BurntSushi/toml", "k8s.io/", "os/signal"} {
			if dep == banned || strings.HasPrefix(dep, strings.TrimSuffix(banned, "/")+"/") {
				t.Errorf("cargo-credential-mayfly links %s", dep)
			}
		}
	}
}

// fakeAgent answers every token request with answer, and records them. The
// real agent, with Dex and cargo itself, is in e2e/cargo_test.go.
type fakeAgent struct {
	mu   sync.Mutex
	reqs []wire.Request
}

func startFakeAgent(t *testing.T, answer wire.Response) *fakeAgent {
	t.Helper()
	dir, err := os.MkdirTemp("", "mf-cargo-") // short: socket paths are limited
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
	a := &fakeAgent{}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			var req wire.Request
			if wire.NewReader(conn).Read(&req) == nil {
				a.mu.Lock()
				a.reqs = append(a.reqs, req)
				a.mu.Unlock()
				wire.Write(conn, answer)
			}
			conn.Close()
		}
	}()
	return a
}

func TestProvider(t *testing.T) {
	const (
		hello = `{"v":[1]}` + "\n"
		tok   = "eyJhbGciOiJSUzI1NiJ9.e30.sig"
	)
	exp := time.Unix(1893456000, 0)
	request := func(index, kind, extra string) string {
		return `{"v":1,"registry":{"index-url":"` + index + `","name":"corp"},"kind":"` + kind + `"` + extra + "}\n"
	}
	get := func(index string) string { return request(index, "get", `,"operation":"read","args":[]`) }
	token := wire.Response{Profile: "corp", Username: "oauth2", Token: tok, Expiry: exp}
	for _, tc := range []struct {
		name       string
		args       []string
		stdin      string
		answer     wire.Response
		wantURL    string // what the agent is asked for; "" means not asked
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{
			name: "sparse", stdin: get("sparse+https://crates.corp.example/index/"), answer: token,
			wantURL:    "https://crates.corp.example/index/",
			wantStdout: hello + `{"Ok":{"kind":"get","token":"Bearer ` + tok + `","cache":"expires","expiration":1893456000,"operation_independent":true}}` + "\n",
		},
		{
			name: "git index, publish", stdin: request("https://git.corp.example/crates-index", "get", `,"operation":"publish","name":"a","vers":"1.0.0","cksum":"00"`), answer: token,
			wantURL:    "https://git.corp.example/crates-index",
			wantStdout: hello + `{"Ok":{"kind":"get","token":"Bearer ` + tok + `","cache":"expires","expiration":1893456000,"operation_independent":true}}` + "\n",
		},
		{
			name: "no expiry", stdin: get("sparse+https://crates.corp.example/index/"), answer: wire.Response{Token: tok},
			wantURL:    "https://crates.corp.example/index/",
			wantStdout: hello + `{"Ok":{"kind":"get","token":"Bearer ` + tok + `","cache":"never","operation_independent":true}}` + "\n",
		},
		{
			name: "no profile", stdin: get("sparse+https://index.crates.io/"),
			answer:     wire.Response{Error: &wire.Error{Code: wire.CodeNoProfile, Message: `no profile in /c.toml matches "https://index.crates.io/"`}},
			wantURL:    "https://index.crates.io/",
			wantStdout: hello + `{"Err":{"kind":"url-not-supported","message":"no profile in /c.toml matches \"https://index.crates.io/\""}}` + "\n",
		},
		{
			name: "not signed in", stdin: get("sparse+https://crates.corp.example/index/"),
			answer:     wire.Response{Error: &wire.Error{Code: wire.CodeLoginRequired, Message: "not signed in to profile corp: run `mayfly login --profile corp`"}},
			wantURL:    "https://crates.corp.example/index/",
			wantStdout: hello + `{"Err":{"kind":"other","message":"not signed in to profile corp: run ` + "`mayfly login --profile corp`" + `"}}` + "\n",
		},
		{
			name: "local registry", stdin: get("file:///srv/index"), answer: token,
			wantStdout: hello + `{"Err":{"kind":"url-not-supported","message":"Mayfly serves http(s) registries only"}}` + "\n",
		},
		{
			name: "arguments", stdin: request("sparse+https://crates.corp.example/index/", "get", `,"operation":"read","args":["--profile","corp"]`), answer: token,
			wantStdout: hello + `{"Err":{"kind":"other","message":"cargo-credential-mayfly takes no arguments, got \"--profile\": the registry's index URL picks the profile"}}` + "\n",
		},
		{
			name: "login", stdin: request("sparse+https://crates.corp.example/index/", "login", `,"token":"pasted"`), answer: token,
			wantStdout: hello + `{"Err":{"kind":"operation-not-supported","message":"Mayfly keeps no registry token: sign in with ` + "`mayfly login`" + ` (add --profile NAME to choose the profile)"}}` + "\n",
			// Cargo shows only the kind; the hint reaches the person on stderr.
			wantStderr: "mayfly: Mayfly keeps no registry token: sign in with `mayfly login` (add --profile NAME to choose the profile)\n",
		},
		{
			name: "logout", stdin: request("sparse+https://crates.corp.example/index/", "logout", ""), answer: token,
			wantStdout: hello + `{"Err":{"kind":"operation-not-supported","message":"Mayfly keeps no registry token: sign out with ` + "`mayfly logout`" + ` (add --profile NAME to choose the profile)"}}` + "\n",
			wantStderr: "mayfly: Mayfly keeps no registry token: sign out with `mayfly logout` (add --profile NAME to choose the profile)\n",
		},
		{
			name: "run by hand", args: []string{"get"}, answer: token,
			wantCode: 2, wantStderr: "--cargo-plugin",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			agent := startFakeAgent(t, tc.answer)
			args := tc.args
			if args == nil {
				args = []string{"--cargo-plugin"}
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, strings.NewReader(tc.stdin), &stdout, &stderr)
			if code != tc.wantCode || stdout.String() != tc.wantStdout {
				t.Errorf("exit %d, stdout\n%s\nwant %d, stdout\n%s\n(stderr %q)", code, stdout.String(), tc.wantCode, tc.wantStdout, stderr.String())
			}
			if (tc.wantStderr == "") != (stderr.Len() == 0) || !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr %q, want %q", stderr.String(), tc.wantStderr)
			}
			agent.mu.Lock()
			defer agent.mu.Unlock()
			switch {
			case tc.wantURL == "" && len(agent.reqs) != 0:
				t.Errorf("agent asked: %+v", agent.reqs)
			case tc.wantURL != "" && (len(agent.reqs) != 1 || agent.reqs[0].URL != tc.wantURL || agent.reqs[0].Op != wire.OpToken || agent.reqs[0].Consumer != "cargo" || agent.reqs[0].Profile != ""):
				t.Errorf("agent got %+v, want one token request for %s", agent.reqs, tc.wantURL)
			}
		})
	}
}

// TestHelp: --help alone prints the usage and the wiring on stdout and
// exits 0, without reaching the agent; cargo's own call, with
// --cargo-plugin, is never taken for help.
func TestHelp(t *testing.T) {
	t.Setenv(envknob.AgentSocket, t.TempDir()+"/none.sock")
	t.Setenv(envknob.NoAutostart, "1")
	for _, tc := range []struct {
		args []string
		help bool
		code int
	}{
		{[]string{"--help"}, true, 0},
		{[]string{"-h"}, true, 0},
		{[]string{"--cargo-plugin", "--help"}, false, 2},
		{nil, false, 2},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, strings.NewReader(""), &stdout, &stderr)
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d (stderr %q)", tc.args, code, tc.code, stderr.String())
		}
		shown := strings.Contains(stdout.String(), "usage: cargo-credential-mayfly --cargo-plugin") &&
			strings.Contains(stdout.String(), `credential-provider = ["/usr/local/bin/cargo-credential-mayfly"]`)
		if shown != tc.help {
			t.Errorf("%q: help shown %v, want %v:\n%s", tc.args, shown, tc.help, stdout.String())
		}
	}
}
