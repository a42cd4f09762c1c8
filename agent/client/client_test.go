//go:build unix

package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mayflyhq/mayfly/agent/wire"
	"github.com/mayflyhq/mayfly/internal/envknob"
)

// fakeAgentEnv makes the test binary, started by the client as its agent,
// play a fake agent instead of running the tests.
const fakeAgentEnv = "MAYFLY_TEST_FAKE_AGENT"

func TestMain(m *testing.M) {
	if os.Getenv(fakeAgentEnv) == "1" {
		os.Exit(fakeAgentMain())
	}
	code := m.Run()
	if code == 0 {
		if err := checkGoroutines(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// fakeAgentMain serves the socket the client named in the environment until
// asked to stop, answering every request with what it was started with.
func fakeAgentMain() int {
	fmt.Fprintln(os.Stderr, "fake agent started")
	ln, err := net.Listen("unix", os.Getenv(envknob.AgentSocket))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer ln.Close()
	ln.(*net.UnixListener).SetDeadline(time.Now().Add(20 * time.Second)) // never outlive a failed test for long
	for {
		conn, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		var req wire.Request
		if err := wire.NewReader(conn).Read(&req); err != nil {
			conn.Close()
			continue
		}
		cwd, _ := os.Getwd()
		wire.Write(conn, wire.Response{
			Profile:  os.Getenv(envknob.Config),
			Token:    strings.Join(os.Args[1:], " "),
			Username: cwd,
		})
		conn.Close()
		if req.Op == wire.OpStop {
			return 0
		}
	}
}

// checkGoroutines fails when a connection or fake agent outlives the tests.
func checkGoroutines() error {
	var leaked []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		leaked = leaked[:0]
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		for i, g := range strings.Split(string(buf), "\n\n") {
			if i > 0 && (strings.Contains(g, "mayflyhq/mayfly") || strings.Contains(g, "net.(*")) {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return nil
		}
	}
	return fmt.Errorf("%d goroutines outlived the tests:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
}

// shortDir returns a fresh folder with room for a socket name in its path.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mfc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// fake is an agent stand-in that hands each request to a test's handler.
type fake struct {
	sock string
	mu   sync.Mutex
	reqs []wire.Request
}

func startFake(t *testing.T, handle func(req wire.Request, conn net.Conn)) *fake {
	t.Helper()
	f := &fake{sock: filepath.Join(shortDir(t), "agent.sock")}
	ln, err := net.Listen("unix", f.sock)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				var req wire.Request
				if err := wire.NewReader(conn).Read(&req); err != nil {
					return
				}
				f.mu.Lock()
				f.reqs = append(f.reqs, req)
				f.mu.Unlock()
				handle(req, conn)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return f
}

func (f *fake) requests() []wire.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reqs)
}

func reply(resps ...wire.Response) func(wire.Request, net.Conn) {
	return func(_ wire.Request, conn net.Conn) {
		for _, r := range resps {
			wire.Write(conn, r)
		}
	}
}

func TestDo(t *testing.T) {
	f := startFake(t, reply(wire.Response{Profile: "work", Username: "oauth2", Token: "tok"}))
	c := &Client{Socket: f.sock, Config: "/home/u/.config/mayfly/config.toml"}
	resp, err := c.Do(context.Background(), wire.Request{Op: wire.OpToken, URL: "https://git.example/", Consumer: "git"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Token != "tok" || resp.Profile != "work" {
		t.Errorf("got %+v", resp)
	}
	// An explicit config in the request wins over the client's.
	if _, err := c.Do(context.Background(), wire.Request{Op: wire.OpPing, Config: "/other.toml", V: 99}); err != nil {
		t.Fatal(err)
	}
	want := []wire.Request{
		{V: wire.Version, Op: wire.OpToken, Config: c.Config, URL: "https://git.example/", Consumer: "git"},
		{V: wire.Version, Op: wire.OpPing, Config: "/other.toml"},
	}
	if got := f.requests(); !slices.Equal(got, want) {
		t.Errorf("agent received %+v, want %+v", got, want)
	}
}

func TestDoAgentError(t *testing.T) {
	f := startFake(t, reply(wire.Response{Error: &wire.Error{Code: wire.CodeRevoked, Message: "run `mayfly login --profile work`"}}))
	c := &Client{Socket: f.sock}
	_, err := c.Do(context.Background(), wire.Request{Op: wire.OpToken})
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeRevoked || err.Error() != "run `mayfly login --profile work`" {
		t.Fatalf("got %v (%T), want the agent's *wire.Error", err, err)
	}
}

func TestAsk(t *testing.T) {
	expiry := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	f := startFake(t, func(req wire.Request, conn net.Conn) {
		switch req.URL {
		case "https://error/":
			wire.Write(conn, wire.Response{Error: &wire.Error{Code: wire.CodeNoProfile, Message: "no profile serves https://error/"}})
		case "https://status/":
			wire.Write(conn, wire.Response{Status: &wire.Status{PID: 1}})
		case "https://garbage/":
			io.WriteString(conn, "{garbage\n")
		case "https://hangup/":
		default:
			wire.Write(conn, wire.Response{Profile: "work", Username: "oauth2", Token: "tok", Expiry: expiry})
		}
	})
	c := &Client{Socket: f.sock, Config: "/home/u/.config/mayfly/config.toml"}
	ctx := context.Background()
	resp, err := c.Ask(ctx, wire.Request{Op: wire.OpToken, URL: "https://git.example/", Consumer: "git"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (wire.Response{Profile: "work", Username: "oauth2", Token: "tok", Expiry: expiry}); !cmp.Equal(resp, want) {
		t.Errorf("got %+v, want %+v", resp, want)
	}
	if got, want := f.requests(), []wire.Request{{V: wire.Version, Op: wire.OpToken, Config: c.Config, URL: "https://git.example/", Consumer: "git"}}; !slices.Equal(got, want) {
		t.Errorf("agent received %+v, want %+v", got, want)
	}

	_, err = c.Ask(ctx, wire.Request{Op: wire.OpToken, URL: "https://error/"})
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeNoProfile {
		t.Errorf("agent error: got %v (%T), want the agent's *wire.Error", err, err)
	}
	_, err = c.Ask(ctx, wire.Request{Op: wire.OpToken, URL: "https://status/"})
	if !errors.Is(err, wire.ErrNested) || !strings.Contains(err.Error(), f.sock) {
		t.Errorf("an answer for Do: %v, want wire.ErrNested naming the socket", err)
	}
	_, err = c.Ask(ctx, wire.Request{Op: wire.OpToken, URL: "https://garbage/"})
	if err == nil || !strings.Contains(err.Error(), "wire: decode") {
		t.Errorf("garbage answer: %v", err)
	}
	_, err = c.Ask(ctx, wire.Request{Op: wire.OpToken, URL: "https://hangup/"})
	if err == nil || !strings.Contains(err.Error(), "without answering") || !strings.Contains(err.Error(), f.sock) {
		t.Errorf("no answer: %v, want an error naming the socket", err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Ask(done, wire.Request{Op: wire.OpPing}); !errors.Is(err, context.Canceled) {
		t.Errorf("with a cancelled context: %v", err)
	}
}

// Ask, like Do, gives up when the context ends, and hangs up.
func TestAskCancel(t *testing.T) {
	hungUp := make(chan struct{})
	f := startFake(t, func(_ wire.Request, conn net.Conn) {
		io.Copy(io.Discard, conn)
		close(hungUp)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := (&Client{Socket: f.sock}).Ask(ctx, wire.Request{Op: wire.OpToken}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want the context's error", err)
	}
	select {
	case <-hungUp:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection stayed open after the context ended")
	}
}

func TestStream(t *testing.T) {
	f := startFake(t, reply(
		wire.Response{Event: wire.EventDevice, UserCode: "ABCD"},
		wire.Response{Event: wire.EventDone, Subject: "ada"},
		wire.Response{Event: "after-done", Token: "must not be read"},
	))
	c := &Client{Socket: f.sock}
	var events []string
	err := c.Stream(context.Background(), wire.Request{Op: wire.OpLogin}, func(r wire.Response) error {
		events = append(events, r.Event)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{wire.EventDevice, wire.EventDone}; !slices.Equal(events, want) {
		t.Errorf("events %q, want %q", events, want)
	}

	stop := errors.New("user gave up")
	calls := 0
	err = c.Stream(context.Background(), wire.Request{Op: wire.OpLogin}, func(wire.Response) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("callback error: got %v after %d calls, want %v after 1", err, calls, stop)
	}
}

func TestStreamErrorMidway(t *testing.T) {
	f := startFake(t, reply(
		wire.Response{Event: wire.EventBrowser, AuthURL: "https://idp/authorize"},
		wire.Response{Error: &wire.Error{Code: wire.CodeProvider, Message: "the provider refused the sign-in"}},
	))
	c := &Client{Socket: f.sock}
	var n int
	err := c.Stream(context.Background(), wire.Request{Op: wire.OpLogin}, func(wire.Response) error { n++; return nil })
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeProvider || n != 1 {
		t.Errorf("got %v after %d events, want the provider error after 1", err, n)
	}
}

func TestNoAnswer(t *testing.T) {
	f := startFake(t, func(wire.Request, net.Conn) {}) // hangs up
	c := &Client{Socket: f.sock}
	_, err := c.Do(context.Background(), wire.Request{Op: wire.OpStatus})
	if err == nil || !strings.Contains(err.Error(), "without answering") || !strings.Contains(err.Error(), f.sock) {
		t.Errorf("got %v, want an error naming the socket", err)
	}

	g := startFake(t, func(_ wire.Request, conn net.Conn) { io.WriteString(conn, "{garbage\n") })
	_, err = (&Client{Socket: g.sock}).Do(context.Background(), wire.Request{Op: wire.OpStatus})
	if err == nil || !strings.Contains(err.Error(), "wire: decode") {
		t.Errorf("garbage answer: %v", err)
	}
}

// Cancelling the context ends the call and closes the connection, which is
// how the agent learns to abandon a sign-in.
func TestCancel(t *testing.T) {
	hungUp := make(chan struct{})
	f := startFake(t, func(_ wire.Request, conn net.Conn) {
		io.Copy(io.Discard, conn) // returns when the client closes
		close(hungUp)
	})
	c := &Client{Socket: f.sock}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Do(ctx, wire.Request{Op: wire.OpLogin})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want the context's error", err)
	}
	select {
	case <-hungUp:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection stayed open after the context ended")
	}

	done, cancelDone := context.WithCancel(context.Background())
	cancelDone()
	if _, err := c.Do(done, wire.Request{Op: wire.OpPing}); !errors.Is(err, context.Canceled) {
		t.Errorf("with a cancelled context: %v", err)
	}
}

func TestNotRunning(t *testing.T) {
	dir := shortDir(t)
	// A dead agent's socket file: bound, never unlinked, refusing connections.
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()

	for _, sock := range []string{filepath.Join(dir, "missing.sock"), stale} {
		c := &Client{Socket: sock}
		if c.Running(context.Background()) {
			t.Errorf("%s: Running = true", sock)
		}
		_, err := c.Do(context.Background(), wire.Request{Op: wire.OpPing})
		if !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), sock) {
			t.Errorf("%s: got %v, want ErrNotRunning naming the socket", sock, err)
		}
	}

	f := startFake(t, reply(wire.Response{}))
	if !(&Client{Socket: f.sock}).Running(context.Background()) {
		t.Error("Running = false with an agent listening")
	}
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv(envknob.AgentSocket, "run/agent.sock")
	t.Setenv(envknob.Config, "mayfly.toml")
	t.Setenv(envknob.AgentBin, "/opt/mayfly/bin/mayfly")
	for _, tc := range []struct {
		noAutostart string
		autostart   bool
	}{{"", true}, {"1", false}, {"true", false}, {"0", true}} {
		t.Setenv(envknob.NoAutostart, tc.noAutostart)
		c, err := New()
		if err != nil {
			t.Fatal(err)
		}
		want := Client{
			Socket:    filepath.Join(dir, "run", "agent.sock"),
			Config:    filepath.Join(dir, "mayfly.toml"),
			Autostart: tc.autostart,
			AgentBin:  "/opt/mayfly/bin/mayfly",
		}
		if *c != want {
			t.Errorf("%s=%q: got %+v, want %+v", envknob.NoAutostart, tc.noAutostart, *c, want)
		}
	}
}

func TestAutostart(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	t.Setenv(fakeAgentEnv, "1") // the started test binary plays the agent
	// Stale values in the environment: the agent must get the client's.
	t.Setenv(envknob.AgentSocket, "stale/agent.sock")
	t.Setenv(envknob.Config, "/stale.toml")
	c := &Client{Socket: filepath.Join(shortDir(t), "agent.sock"), Config: "/etc/mayfly-test.toml", Autostart: true, AgentBin: exe}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := c.Do(ctx, wire.Request{Op: wire.OpToken})
	if err != nil {
		t.Fatalf("autostarted agent: %v", err)
	}
	t.Cleanup(func() { c.Do(context.Background(), wire.Request{Op: wire.OpStop}) })
	// The agent learns the socket and config from its environment, runs
	// as `mayfly agent`, and from / so it holds no folder busy.
	if resp.Profile != c.Config || resp.Token != "agent" || resp.Username != "/" {
		t.Errorf("agent saw config %q, args %q, folder %q; want %q, \"agent\", \"/\"", resp.Profile, resp.Token, resp.Username, c.Config)
	}
	if !c.Running(ctx) {
		t.Error("agent not running after autostart")
	}
	log := filepath.Join(state, "mayfly", "agent.log")
	if LogPath() != log {
		t.Errorf("LogPath() = %s, want %s", LogPath(), log)
	}
	st, err := os.Stat(log)
	if err != nil {
		t.Fatalf("agent log: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("agent log mode %v, want 0600", st.Mode().Perm())
	}
	if b, _ := os.ReadFile(log); !strings.Contains(string(b), "fake agent started") {
		t.Errorf("agent's stderr not in the log: %q", b)
	}
}

func TestAutostartFails(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	sock := filepath.Join(shortDir(t), "agent.sock")

	c := &Client{Socket: sock, Autostart: true, AgentBin: "/nonexistent/mayfly"}
	_, err := c.Do(context.Background(), wire.Request{Op: wire.OpPing})
	if err == nil || !strings.Contains(err.Error(), "start agent /nonexistent/mayfly") {
		t.Errorf("missing agent binary: %v", err)
	}

	t.Setenv("PATH", t.TempDir())
	c = &Client{Socket: sock, Autostart: true}
	_, err = c.Do(context.Background(), wire.Request{Op: wire.OpPing})
	if !errors.Is(err, exec.ErrNotFound) || !strings.Contains(err.Error(), envknob.AgentBin) {
		t.Errorf("no mayfly anywhere: %v, want a hint at %s", err, envknob.AgentBin)
	}
}

// The package comment promises that a helper built on the client links no
// HTTP, OAuth or storage code.
func TestDeps(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "github.com/mayflyhq/mayfly/agent" { // the server
			t.Errorf("agent/client links %s", dep)
		}
		for _, bad := range []string{
			"net/http",
			"golang.org/x/oauth2",
			"github.com/mayflyhq/mayfly/backends",
			"github.com/mayflyhq/mayfly/tokensource",
			"github.com/mayflyhq/mayfly/internal/config",
			"github.com/Microsoft/go-winio", // the Windows pipe dialer, never linked on UNIX
			// Costly at every helper start (bench/README.md): the socket
			// is dialled with system calls.
			"net",
			"os/signal",
		} {
			if dep == bad || strings.HasPrefix(dep, bad+"/") {
				t.Errorf("agent/client links %s", dep)
			}
		}
	}
}

// The client refuses an agent socket served by another user: the fake
// agent runs as nobody (root and setpriv needed).
func TestOtherUsersAgentRefused(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run the fake agent as nobody")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("no setpriv (util-linux)")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := shortDir(t)
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "agent")
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "agent.sock")
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--", bin)
	cmd.Env = []string{fakeAgentEnv + "=1", envknob.AgentSocket + "=" + sock}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	c := &Client{Socket: sock}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, err = c.Ask(context.Background(), wire.Request{Op: wire.OpPing})
		if !errors.Is(err, ErrNotRunning) || time.Now().After(deadline) {
			break
		}
	}
	if err == nil || !strings.Contains(err.Error(), "belongs to uid 65534, not to you") {
		t.Errorf("an agent run by nobody: %v, want a refusal", err)
	}
}

// peerUID reads the uid of the process at the other end.
func TestPeerUID(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("no peer credentials here")
	}
	f := startFake(t, reply(wire.Response{}))
	conn, err := (&Client{Socket: f.sock}).connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rc, err := conn.(*os.File).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var uid int
	var perr error
	rc.Control(func(fd uintptr) { uid, perr = peerUID(int(fd)) })
	if perr != nil || uid != os.Getuid() {
		t.Errorf("peerUID = %d, %v; want %d", uid, perr, os.Getuid())
	}
}
