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

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/internal/envknob"
)

// TestDeps keeps the helper small and quick to start: Docker runs it before
// every pull and push, so it talks to the agent and nothing else. HTTP,
// OAuth, TOML, Kubernetes and TPM code belong in the agent (style.md R5).
func TestDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	banned := []string{
		"net/http", "crypto/tls", "golang.org/x/oauth2", "github.com/coreos/go-oidc", "github.com/go-jose",
		"github.com/BurntSushi/toml", "k8s.io/", "github.com/google/go-tpm", "github.com/google/go-tpm-tools",
		"os/signal", // a thread at every start (bench/README.md, "Where the time goes")
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, b := range banned {
			if dep == b || strings.HasPrefix(dep, b+"/") || (strings.HasSuffix(b, "/") && strings.HasPrefix(dep, b)) {
				t.Errorf("docker-credential-mayfly links %s", dep)
			}
		}
	}
}

// fakeAgent answers the helper's requests on a UNIX socket the way the
// agent does, from a table, and records what it was asked.
type fakeAgent struct {
	answer func(wire.Request) wire.Response
	mu     sync.Mutex
	got    []wire.Request
}

func startFakeAgent(t *testing.T, answer func(wire.Request) wire.Response) *fakeAgent {
	t.Helper()
	// t.TempDir can be too long for a socket path (about 104 bytes).
	dir, err := os.MkdirTemp("", "mf-dch-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	t.Setenv(envknob.AgentSocket, sock)
	t.Setenv(envknob.Config, filepath.Join(dir, "config.toml"))
	t.Setenv(envknob.NoAutostart, "1")
	a := &fakeAgent{answer: answer}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			var req wire.Request
			if err := wire.NewReader(conn).Read(&req); err == nil {
				a.mu.Lock()
				a.got = append(a.got, req)
				a.mu.Unlock()
				wire.Write(conn, answer(req))
			}
			conn.Close()
		}
	}()
	return a
}

// requests returns what the agent was asked, as "op url|namespace/name user secret".
func (a *fakeAgent) requests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, r := range a.got {
		s := r.Op + " " + r.URL
		if r.Namespace != "" {
			s = r.Op + " " + r.Namespace + "/" + r.Name
		}
		if r.Username != "" || r.Secret != "" {
			s += " " + r.Username + " " + r.Secret
		}
		if r.Consumer != "docker" {
			s += " consumer=" + r.Consumer
		}
		out = append(out, s)
	}
	return out
}

func fail(code, msg string) wire.Response {
	return wire.Response{Error: &wire.Error{Code: code, Message: msg}}
}

// agentModel is an agent with one profile, corp, for registry.corp.example,
// and a static store.
type agentModel struct {
	signedIn bool
	static   map[string]wire.StaticEntry
	secrets  map[string]string
}

func (m *agentModel) answer(r wire.Request) wire.Response {
	switch r.Op {
	case wire.OpToken:
		if r.URL != "https://registry.corp.example" {
			return fail(wire.CodeNoProfile, "no profile in /x/config.toml matches "+r.URL)
		}
		if !m.signedIn {
			return fail(wire.CodeLoginRequired, "not signed in to profile corp: run `mayfly login --profile corp`")
		}
		return wire.Response{Profile: "corp", Username: "oauth2", Token: "eyJ.minted.token"}
	case wire.OpStaticGet:
		e, ok := m.static[r.Name]
		if !ok {
			return fail(wire.CodeNotFound, "no docker credential for "+r.Name)
		}
		return wire.Response{Username: e.Username, Token: m.secrets[r.Name]}
	case wire.OpStaticSet:
		m.static[r.Name] = wire.StaticEntry{Namespace: r.Namespace, Name: r.Name, Username: r.Username}
		m.secrets[r.Name] = r.Secret
		return wire.Response{}
	case wire.OpStaticErase:
		if _, ok := m.static[r.Name]; !ok {
			return fail(wire.CodeNotFound, "no docker credential for "+r.Name)
		}
		delete(m.static, r.Name)
		return wire.Response{}
	case wire.OpStaticList:
		var out []wire.StaticEntry
		for _, e := range m.static {
			out = append(out, e)
		}
		return wire.Response{Static: out}
	}
	return fail(wire.CodeBadRequest, "unknown op")
}

func TestHelper(t *testing.T) {
	const hubStore = `{"ServerURL":"https://index.docker.io/v1/","Username":"bob","Secret":"hub-pat"}`
	steps := []struct {
		name           string
		signIn         bool
		args           []string
		stdin          string
		stdout, stderr string // stderr: a substring, "" for none
		code           int
		requests       []string
	}{
		{
			name: "managed registry, signed out", args: []string{"get"}, stdin: "registry.corp.example",
			stdout: "mayfly: registry registry.corp.example: not signed in to profile corp: run `mayfly login --profile corp`\n", code: 1,
			requests: []string{"token https://registry.corp.example"},
		},
		{
			name: "managed registry: a token", signIn: true, args: []string{"get"}, stdin: "https://Registry.Corp.Example/v2/",
			stdout:   `{"ServerURL":"https://Registry.Corp.Example/v2/","Username":"oauth2","Secret":"eyJ.minted.token"}` + "\n",
			requests: []string{"token https://registry.corp.example"},
		},
		{
			name: "unmanaged, nothing stored", args: []string{"get"}, stdin: "other.example:5000",
			stdout: "credentials not found in native keychain\n", code: 1,
			requests: []string{"token https://other.example:5000", "static_get docker/other.example:5000"},
		},
		{
			name: "unmanaged: store", args: []string{"store"},
			stdin:    `{"ServerURL":"https://other.example:5000","Username":"alice","Secret":"pw"}` + "\n",
			requests: []string{"token https://other.example:5000", "static_set docker/other.example:5000 alice pw"},
		},
		{
			name: "unmanaged: get", args: []string{"get"}, stdin: "other.example:5000",
			stdout:   `{"ServerURL":"other.example:5000","Username":"alice","Secret":"pw"}` + "\n",
			requests: []string{"token https://other.example:5000", "static_get docker/other.example:5000"},
		},
		{
			name: "Docker Hub: store", args: []string{"store"}, stdin: hubStore,
			requests: []string{"token https://index.docker.io/v1/", "static_set docker/https://index.docker.io/v1/ bob hub-pat"},
		},
		{
			name: "list", args: []string{"list"}, stdin: "unused",
			stdout:   `{"https://index.docker.io/v1/":"bob","other.example:5000":"alice"}` + "\n",
			requests: []string{"static_list docker/"},
		},
		{
			name: "managed: store keeps nothing", signIn: true, args: []string{"store"},
			stdin:    `{"ServerURL":"registry.corp.example","Username":"oauth2","Secret":"eyJ.minted.token"}`,
			stderr:   "registry.corp.example is managed by Mayfly profile corp, which mints short-lived tokens for it: nothing was stored",
			requests: []string{"token https://registry.corp.example"},
		},
		{
			name: "managed, signed out: store keeps nothing", args: []string{"store"},
			stdin:    `{"ServerURL":"registry.corp.example","Username":"me","Secret":"long-lived-pat"}`,
			stderr:   "managed by a Mayfly profile (not signed in to profile corp: run `mayfly login --profile corp`): nothing was stored",
			requests: []string{"token https://registry.corp.example"},
		},
		{
			name: "erase", args: []string{"erase"}, stdin: "http://other.example:5000",
			requests: []string{"static_erase docker/other.example:5000"},
		},
		{
			name: "erase again: nothing to erase is fine", args: []string{"erase"}, stdin: "other.example:5000",
			requests: []string{"static_erase docker/other.example:5000"},
		},
		{
			name: "erased", args: []string{"get"}, stdin: "other.example:5000",
			stdout: "credentials not found in native keychain\n", code: 1,
			requests: []string{"token https://other.example:5000", "static_get docker/other.example:5000"},
		},
		{name: "malformed: get", args: []string{"get"}, stdin: "not a host\x00", stdout: "mayfly: dockercred: server address contains white space or control characters\n", code: 1},
		{name: "malformed: store", args: []string{"store"}, stdin: `{"ServerURL":"x","Secret":"s"}`, stdout: "no credentials username\n", code: 1},
		{name: "version", args: []string{"version"}, stdout: "docker-credential-mayfly (github.com/mayflyhq/mayfly) ", code: 0},
	}
	m := &agentModel{static: map[string]wire.StaticEntry{}, secrets: map[string]string{}}
	a := startFakeAgent(t, m.answer)
	for _, s := range steps {
		m.signedIn = s.signIn
		before := len(a.requests())
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), s.args, strings.NewReader(s.stdin), &stdout, &stderr)
		if code != s.code {
			t.Errorf("%s: exit %d, want %d (stdout %q)", s.name, code, s.code, stdout.String())
		}
		if s.name == "version" {
			if !strings.HasPrefix(stdout.String(), s.stdout) {
				t.Errorf("version: %q", stdout.String())
			}
		} else if stdout.String() != s.stdout {
			t.Errorf("%s: stdout %q, want %q", s.name, stdout.String(), s.stdout)
		}
		switch {
		case s.stderr == "" && stderr.Len() != 0:
			t.Errorf("%s: stderr %q", s.name, stderr.String())
		case s.stderr != "" && (!strings.Contains(stderr.String(), s.stderr) || strings.Count(stderr.String(), "\n") != 1):
			t.Errorf("%s: stderr %q, want one line with %q", s.name, stderr.String(), s.stderr)
		}
		if diff := cmp.Diff(s.requests, a.requests()[before:], cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: agent requests (-want +got):\n%s", s.name, diff)
		}
	}
}

// TestNoAgent: when the agent is not running and may not be started, get is
// an error (not "not found", which would silently turn a managed registry
// anonymous), on stdout, exit 1.
func TestNoAgent(t *testing.T) {
	dir, err := os.MkdirTemp("", "mf-dch-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	t.Setenv(envknob.AgentSocket, filepath.Join(dir, "agent.sock"))
	t.Setenv(envknob.Config, filepath.Join(dir, "config.toml"))
	t.Setenv(envknob.NoAutostart, "1")
	for _, action := range []string{"get", "erase", "list"} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{action}, strings.NewReader("registry.example"), &stdout, &stderr)
		out := stdout.String()
		if code != 1 || !strings.HasPrefix(out, "mayfly: ") || !strings.Contains(out, "no agent is running") || strings.Count(out, "\n") != 1 || stderr.Len() != 0 {
			t.Errorf("%s without an agent: exit %d, stdout %q, stderr %q", action, code, out, stderr.String())
		}
	}
}

// TestHelp: the helper protocol reserves -h and --help: the usage on
// stdout, exit 0 (docker-credential-helpers' HandleCommand). Here it has
// the wiring too, and the agent is never asked.
func TestHelp(t *testing.T) {
	a := startFakeAgent(t, func(wire.Request) wire.Response { return wire.Response{} })
	for _, args := range [][]string{{"--help"}, {"-h"}} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
		if code != 0 || stderr.Len() != 0 {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr.String())
		}
		for _, want := range []string{"usage: docker-credential-mayfly store|get|erase|list|version", `{"credHelpers": {"registry.corp.example": "mayfly"}}`} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("%q: stdout lacks %q:\n%s", args, want, stdout.String())
			}
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.got) != 0 {
		t.Errorf("--help reached the agent: %v", a.got)
	}
}
