package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/internal/envknob"
)

// TestDeps keeps the plugin a thin client: kubectl runs it on every command,
// so it links the agent's client, the ExecCredential codec and the sign-in
// display, and no OAuth, TOML, store, TPM or command-line code.
//
// It does link net/http and crypto/tls, which the git helper does not: the
// clientauthentication types embed apimachinery's metav1.TypeMeta and
// metav1.Time, and package metav1 imports k8s.io/apimachinery/pkg/watch →
// util/net → golang.org/x/net/http2. The test proves that this is the only
// way in: with k8s.io packages taken out of the graph, net/http and
// crypto/tls are unreachable, and of client-go only the clientauthentication
// types are linked (no rest client, no transport, no kubeconfig loading).
func TestDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	imports := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		imports[f[0]] = f[1:]
	}
	banned := []string{
		"golang.org/x/oauth2", "github.com/coreos/go-oidc", "github.com/go-jose", "github.com/BurntSushi/toml",
		"github.com/google/go-tpm", "github.com/google/go-tpm-tools",
		"github.com/mayflyhq/mayfly/internal/cli", "github.com/mayflyhq/mayfly/internal/config",
		"github.com/mayflyhq/mayfly/tokensource", "github.com/mayflyhq/mayfly/backends", "github.com/mayflyhq/mayfly/attest",
	}
	for dep := range imports {
		for _, b := range banned {
			if dep == b || strings.HasPrefix(dep, b+"/") {
				t.Errorf("kubectl-mayfly links %s", dep)
			}
		}
		if dep == "github.com/mayflyhq/mayfly/agent" {
			t.Errorf("kubectl-mayfly links the agent itself")
		}
		if strings.HasPrefix(dep, "k8s.io/client-go/") && !strings.HasPrefix(dep, "k8s.io/client-go/pkg/apis/clientauthentication") {
			t.Errorf("kubectl-mayfly links %s: only client-go's clientauthentication types are wanted", dep)
		}
	}

	// Walk the graph from main without entering k8s.io.
	seen := map[string]bool{}
	var walk func(string)
	walk = func(p string) {
		if seen[p] || strings.HasPrefix(p, "k8s.io/") {
			return
		}
		seen[p] = true
		for _, q := range imports[p] {
			walk(q)
		}
	}
	walk("github.com/mayflyhq/mayfly/helpers/kubectl-mayfly")
	for _, p := range []string{"net/http", "crypto/tls", "golang.org/x/net/http2"} {
		if seen[p] {
			t.Errorf("kubectl-mayfly reaches %s other than through k8s.io/apimachinery", p)
		}
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"--profile"}, {"--nope"}, {"get-token"}, {"--profile", "kube", "extra"}} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, "", &stdout, &stderr)
		if code != 2 || stdout.Len() != 0 || strings.Count(stderr.String(), "\n") != 1 || !strings.HasPrefix(stderr.String(), "kubectl-mayfly: ") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, stdout.String(), stderr.String())
		}
	}
}

// fakeAgent answers the wire protocol on a UNIX socket, as much of it as
// the plugin uses: a token once signed in, else login_required; a sign-in
// streamed as a device event and "done". The real agent is tested in
// agent/ and, with this plugin under real kubectl, in e2e/.
type fakeAgent struct {
	mu       sync.Mutex
	signedIn bool
	reqs     []wire.Request
}

func startFakeAgent(t *testing.T) *fakeAgent {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "a.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Skipf("no UNIX sockets here: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	t.Setenv(envknob.AgentSocket, sock)
	t.Setenv(envknob.Config, filepath.Join(t.TempDir(), "config.toml"))
	t.Setenv(envknob.NoAutostart, "1")
	t.Setenv(envknob.NonInteractive, "")
	a := &fakeAgent{}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go a.serve(conn)
		}
	}()
	return a
}

func (a *fakeAgent) serve(conn net.Conn) {
	defer conn.Close()
	var req wire.Request
	if err := wire.NewReader(conn).Read(&req); err != nil {
		return
	}
	a.mu.Lock()
	a.reqs = append(a.reqs, req)
	signedIn := a.signedIn
	a.mu.Unlock()
	switch req.Op {
	case wire.OpToken:
		if !signedIn {
			wire.Write(conn, wire.Response{Error: &wire.Error{Code: wire.CodeLoginRequired, Message: "not signed in to profile kube: run `mayfly login --profile kube`"}})
			return
		}
		wire.Write(conn, wire.Response{Profile: "kube", Username: "oauth2", Token: "tok-1", Expiry: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)})
	case wire.OpLogin:
		wire.Write(conn, wire.Response{Event: wire.EventDevice, Profile: "kube", VerificationURI: "https://idp.example/device", UserCode: "ABCD-EFGH"})
		a.mu.Lock()
		a.signedIn = true
		a.mu.Unlock()
		wire.Write(conn, wire.Response{Event: wire.EventDone, Profile: "kube", Subject: "user@example.com", Expiry: time.Now().Add(time.Minute)})
	default:
		wire.Write(conn, wire.Response{Error: &wire.Error{Code: wire.CodeBadRequest, Message: "unexpected op " + req.Op}})
	}
}

func (a *fakeAgent) ops() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var ops []string
	for _, r := range a.reqs {
		ops = append(ops, r.Op)
	}
	return ops
}

func execInfo(interactive bool, server string) string {
	in := map[string]any{"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1",
		"spec": map[string]any{"interactive": interactive}}
	if server != "" {
		in["spec"].(map[string]any)["cluster"] = map[string]any{"server": server}
	}
	b, _ := json.Marshal(in)
	return string(b)
}

// TestSignedIn: the token and the agent's expiry reach kubectl, and the
// profile is chosen by the server URL unless --profile names one.
func TestSignedIn(t *testing.T) {
	a := startFakeAgent(t)
	a.mu.Lock()
	a.signedIn = true
	a.mu.Unlock()
	for _, tc := range []struct {
		args             []string
		wantURL, wantPro string
	}{
		{nil, "https://kube.example:6443", ""},
		{[]string{"--profile", "kube"}, "https://kube.example:6443", "kube"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), tc.args, execInfo(false, "https://kube.example:6443"), &stdout, &stderr); code != 0 {
			t.Fatalf("%q: exit %d, stderr %q", tc.args, code, stderr.String())
		}
		want := `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false},` +
			`"status":{"expirationTimestamp":"2030-01-02T03:04:05Z","token":"tok-1"}}` + "\n"
		if stdout.String() != want || stderr.Len() != 0 {
			t.Errorf("%q: stdout %q, stderr %q", tc.args, stdout.String(), stderr.String())
		}
		a.mu.Lock()
		last := a.reqs[len(a.reqs)-1]
		a.mu.Unlock()
		if last.URL != tc.wantURL || last.Profile != tc.wantPro || last.Consumer != "kubectl" {
			t.Errorf("%q: agent got %+v", tc.args, last)
		}
	}
}

// TestNotSignedIn: without a terminal, one line that names the command to
// run and says why the plugin did not sign in itself; no sign-in started.
func TestNotSignedIn(t *testing.T) {
	for _, tc := range []struct {
		name        string
		interactive bool
		env, why    string
	}{
		{"not interactive", false, "", "no terminal to sign in on"},
		{"MAYFLY_NONINTERACTIVE", true, "1", "MAYFLY_NONINTERACTIVE is set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := startFakeAgent(t)
			t.Setenv(envknob.NonInteractive, tc.env)
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"--profile", "kube"}, execInfo(tc.interactive, ""), &stdout, &stderr)
			if code != 1 || stdout.Len() != 0 || strings.Count(stderr.String(), "\n") != 1 {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
			}
			for _, want := range []string{"mayfly login --profile kube", tc.why} {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr %q lacks %q", stderr.String(), want)
				}
			}
			if ops := a.ops(); !slices.Equal(ops, []string{wire.OpToken}) {
				t.Errorf("agent saw %v", ops)
			}
		})
	}
}

// TestSignInInteractive: with spec.interactive the plugin signs in, showing
// the code on stderr, and stdout holds exactly the ExecCredential.
func TestSignInInteractive(t *testing.T) {
	a := startFakeAgent(t)
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), nil, execInfo(true, "https://kube.example:6443"), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	if ops := a.ops(); !slices.Equal(ops, []string{wire.OpToken, wire.OpLogin, wire.OpToken}) {
		t.Errorf("agent saw %v", ops)
	}
	for _, want := range []string{"https://idp.example/device", "ABCD-EFGH", "Signed in to kube as user@example.com"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	var ec struct {
		Status struct{ Token string } `json:"status"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &ec); err != nil || ec.Status.Token != "tok-1" || strings.Count(stdout.String(), "\n") != 1 {
		t.Errorf("stdout %q (%v)", stdout.String(), err)
	}
}

// TestNoProfile: nothing names a profile; say how to name one, without
// asking the agent.
func TestNoProfile(t *testing.T) {
	a := startFakeAgent(t)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), nil, execInfo(false, ""), &stdout, &stderr)
	if code != 1 || stdout.Len() != 0 || !strings.Contains(stderr.String(), "provideClusterInfo: true") || !strings.Contains(stderr.String(), `"--profile"`) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	if ops := a.ops(); len(ops) != 0 {
		t.Errorf("agent saw %v", ops)
	}
}

// TestCancelled: Ctrl-C during a sign-in is one short line.
func TestCancelled(t *testing.T) {
	startFakeAgent(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"--profile", "kube"}, execInfo(true, ""), &stdout, &stderr)
	if code != 130 || stdout.Len() != 0 || stderr.String() != "mayfly: cancelled\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}

// TestHelp: --help prints the usage and the kubeconfig stanza on stdout and
// exits 0, without reaching the agent.
func TestHelp(t *testing.T) {
	a := startFakeAgent(t)
	for _, args := range [][]string{{"--help"}, {"-h"}, {"--profile", "kube", "--help"}} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, execInfo(true, ""), &stdout, &stderr)
		if code != 0 || stderr.Len() != 0 {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr.String())
		}
		for _, want := range []string{"usage: kubectl-mayfly [--profile NAME]", "command: /usr/local/bin/kubectl-mayfly", "interactiveMode: IfAvailable"} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("%q: stdout lacks %q:\n%s", args, want, stdout.String())
			}
		}
	}
	if ops := a.ops(); len(ops) != 0 {
		t.Errorf("--help reached the agent: %v", ops)
	}
}

// TestCancelledSignIn: Ctrl-C while the device code waits for approval
// ends the plugin promptly with one line and exit 130, and closes the
// connection, so that the agent abandons the flow.
func TestCancelledSignIn(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "a.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Skipf("no UNIX sockets here: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	t.Setenv(envknob.AgentSocket, sock)
	t.Setenv(envknob.Config, filepath.Join(t.TempDir(), "config.toml"))
	t.Setenv(envknob.NoAutostart, "1")
	t.Setenv(envknob.NonInteractive, "")
	shown := make(chan struct{})
	closed := make(chan error, 1)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			var req wire.Request
			if wire.NewReader(conn).Read(&req) != nil {
				conn.Close()
				continue
			}
			if req.Op == wire.OpToken {
				wire.Write(conn, wire.Response{Error: &wire.Error{Code: wire.CodeLoginRequired, Message: "not signed in"}})
				conn.Close()
				continue
			}
			wire.Write(conn, wire.Response{Event: wire.EventDevice, Profile: "kube", VerificationURI: "https://idp.example/device",
				UserCode: "ABCD-EFGH", CodeExpiry: time.Now().Add(5 * time.Minute)})
			close(shown)
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err = io.Copy(io.Discard, conn) // the agent polls until the client goes
			closed <- err
			conn.Close()
			return
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout bytes.Buffer
	pr, pw := io.Pipe()
	var stderr strings.Builder
	copied := make(chan struct{})
	go func() { io.Copy(&stderr, pr); close(copied) }()
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"--profile", "kube"}, execInfo(true, ""), &stdout, pw); pw.Close() }()
	select {
	case <-shown:
	case <-time.After(5 * time.Second):
		t.Fatal("no sign-in started")
	}
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case code := <-done:
		if code != 130 {
			t.Errorf("exit %d, want 130", code)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the plugin did not return after Ctrl-C")
	}
	<-copied
	if err := <-closed; err != nil {
		t.Errorf("the connection to the agent was not closed: %v", err)
	}
	if out := stderr.String(); !strings.HasSuffix(out, "\nmayfly: sign-in cancelled\n") || !strings.Contains(out, "ABCD-EFGH") {
		t.Errorf("stderr:\n%q", out)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout: %q", stdout.String())
	}
}
