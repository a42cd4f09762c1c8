//go:build linux

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mayflyhq/mayfly/agent/client"
	"github.com/mayflyhq/mayfly/agent/wire"
)

// The agent as systemd runs it from contrib/systemd: socket-activated.

// activation is one user's set-up for a socket-activated agent: the
// runtime folder systemd would make (%t/mayfly, 0700; here 0755 so that
// nobody can reach the socket in TestSocketActivation), a config with a
// short idle timeout, and the memory store.
type activation struct {
	t       *testing.T
	dir     string
	sock    string
	cfgPath string
	env     []string
}

func newActivation(t *testing.T, idle string) *activation {
	t.Helper()
	dir, err := os.MkdirTemp("", "mf-sa-") // short: socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, d := range []string{"home", "config/mayfly", "state", "run/mayfly"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	a := &activation{t: t, dir: dir, sock: filepath.Join(dir, "run", "mayfly", "agent.sock"),
		cfgPath: filepath.Join(dir, "config", "mayfly", "config.toml")}
	cfg := fmt.Sprintf("store = \"memory\"\n\n[agent]\nidle_timeout = %q\n", idle)
	if err := os.WriteFile(a.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	a.env = append(filteredEnviron(),
		"HOME="+filepath.Join(dir, "home"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_STATE_HOME="+filepath.Join(dir, "state"),
		"XDG_RUNTIME_DIR="+filepath.Join(dir, "run"),
		"PATH=/usr/bin:/bin",
	)
	return a
}

// listen binds the socket as systemd does for mayfly-agent.socket, and
// returns it as the file the agent is to get.
func (a *activation) listen() *os.File {
	a.t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: a.sock, Net: "unix"})
	if err != nil {
		a.t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	f, err := ln.File()
	if err != nil {
		a.t.Fatal(err)
	}
	ln.Close() // f holds the socket
	a.t.Cleanup(func() { f.Close() })
	return f
}

// agentProc is an agent the test started; exited yields its Wait.
type agentProc struct {
	pid    int
	log    *bytes.Buffer // its stderr; read it only after exited
	exited chan error
}

// start runs `mayfly agent` with f as descriptor 3 and LISTEN_PID set to
// the agent's own pid, the one value a parent cannot know before the
// child exists: systemd sets it between fork and exec, and so does the
// shell here, which then execs the agent in its place.
func (a *activation) start(f *os.File) *agentProc {
	a.t.Helper()
	cmd := exec.Command("/bin/sh", "-c", `export LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=mayfly-agent.socket; exec "$0" agent`,
		filepath.Join(binDir, "mayfly"))
	cmd.Env = a.env
	cmd.ExtraFiles = []*os.File{f}
	p := &agentProc{log: &bytes.Buffer{}, exited: make(chan error, 1)}
	cmd.Stderr = p.log
	if err := cmd.Start(); err != nil {
		a.t.Fatal(err)
	}
	p.pid = cmd.Process.Pid
	done := make(chan struct{})
	go func() {
		err := cmd.Wait()
		close(done)
		p.exited <- err
	}()
	a.t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if a.t.Failed() {
			a.t.Logf("agent %d log:\n%s", p.pid, p.log)
		}
	})
	return p
}

// wait returns the agent's exit, or fails after d.
func (p *agentProc) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-p.exited:
		return err
	case <-time.After(d):
		t.Fatalf("agent %d still runs after %v", p.pid, d)
		return nil
	}
}

func (a *activation) client() *client.Client {
	return &client.Client{Socket: a.sock, Config: a.cfgPath, Autostart: false}
}

func (a *activation) status() *wire.Status {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := a.client().Do(ctx, wire.Request{Op: wire.OpStatus})
	if err != nil || resp.Status == nil {
		a.t.Fatalf("status over the passed socket: %+v, %v", resp, err)
	}
	return resp.Status
}

// checkFDs fails if the agent holds a socket a child would inherit: the
// descriptor systemd passed must be closed or close-on-exec, like all the
// agent's own. (That a child gets no LISTEN_* either is checked in the
// agent package, TestTakeListenFDs: /proc/PID/environ cannot show it, as it
// keeps the environment the process started with, whatever it unsets.)
func checkFDs(t *testing.T, pid int) {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		if !strings.HasPrefix(link, "socket:") {
			continue
		}
		info, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%s", pid, e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		for _, line := range strings.Split(string(info), "\n") {
			if v, ok := strings.CutPrefix(line, "flags:"); ok {
				flags, _ := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
				if flags&0o2000000 == 0 { // O_CLOEXEC
					t.Errorf("agent descriptor %s (%s) is inherited by its children: flags %s", e.Name(), link, strings.TrimSpace(v))
				}
			}
		}
	}
}

// TestSocketActivation: the agent takes the socket systemd passes, serves
// on it, checks each caller's uid there as on its own socket, leaves no
// socket to its children, exits when idle without removing the socket,
// and the next agent started on it answers the connection that waited.
func TestSocketActivation(t *testing.T) {
	a := newActivation(t, "3s")
	f := a.listen()
	agent := a.start(f)

	st := a.status()
	if st.PID != agent.pid || st.Socket != a.sock {
		t.Fatalf("status from pid %d on %s; want the socket-activated agent, pid %d on %s", st.PID, st.Socket, agent.pid, a.sock)
	}
	checkFDs(t, agent.pid)
	if _, err := os.Stat(a.sock + ".lock"); err != nil {
		t.Errorf("the activated agent took no lock: %v", err)
	}

	probed := false
	t.Run("other uid refused", func(t *testing.T) {
		if os.Getuid() != 0 {
			t.Skip("needs root to run a process as nobody")
		}
		if _, err := exec.LookPath("setpriv"); err != nil {
			t.Skip("no setpriv (util-linux)")
		}
		// Let nobody reach the socket: every folder on the way open to
		// search, the socket open to all, as by a mistake in SocketMode=.
		for _, d := range []string{a.dir, filepath.Join(a.dir, "run"), filepath.Dir(a.sock)} {
			if err := os.Chmod(d, 0o711); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(a.sock, 0o666); err != nil {
			t.Fatal(err)
		}
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		pub := filepath.Join(a.dir, "pub")
		if err := os.Mkdir(pub, 0o755); err != nil {
			t.Fatal(err)
		}
		probe := filepath.Join(pub, "probe")
		copyFile(t, self, probe, 0o755)
		c := exec.Command("setpriv", "--reuid="+nobody, "--regid="+nobody, "--clear-groups", "--", probe)
		c.Env = []string{"MAYFLY_E2E_DIAL=" + a.sock, "PATH=/usr/bin:/bin"}
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("probe as nobody: %v\n%s", err, out)
		}
		probed = true
		if !strings.Contains(string(out), `"code":"refused"`) || strings.Contains(string(out), `"token"`) {
			t.Errorf("nobody on the passed socket got: %s", out)
		}
		a.status() // still serves its own user
	})

	// Idle exit: the agent goes, with exit status 0 (so systemd records no
	// failure), and leaves the socket, which systemd owns.
	if err := agent.wait(t, 30*time.Second); err != nil {
		t.Fatalf("agent exit after the 3s idle timeout: %v", err)
	}
	if probed && !strings.Contains(agent.log.String(), "refused connection from another user") {
		t.Errorf("the agent log does not record nobody's refusal")
	}
	if _, err := os.Lstat(a.sock); err != nil {
		t.Fatalf("the agent removed the socket systemd owns: %v", err)
	}

	// A helper connects while no agent runs: the kernel queues the
	// connection on the socket, systemd sees it and starts the agent again,
	// which answers it.
	conn, err := net.Dial("unix", a.sock)
	if err != nil {
		t.Fatalf("connect while no agent runs: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if err := wire.Write(conn, wire.Request{V: wire.Version, Op: wire.OpPing, Config: a.cfgPath}); err != nil {
		t.Fatal(err)
	}
	agent2 := a.start(f)
	var resp wire.Response
	if err := wire.NewReader(conn).Read(&resp); err != nil || resp.Error != nil {
		t.Fatalf("the waiting connection, after the restart: %+v, %v", resp.Error, err)
	}
	if st := a.status(); st.PID != agent2.pid {
		t.Errorf("status from pid %d, want the restarted agent %d", st.PID, agent2.pid)
	}
}

// TestSocketActivationWrongSocket: a socket on another path than the one
// helpers use is refused with a message that says how to fix the unit,
// rather than served where no helper looks.
func TestSocketActivationWrongSocket(t *testing.T) {
	a := newActivation(t, "1m")
	want := a.sock
	a.sock = filepath.Join(filepath.Dir(want), "other.sock")
	agent := a.start(a.listen())
	if err := agent.wait(t, 30*time.Second); err == nil {
		t.Fatalf("the agent exited 0 on a socket on the wrong path:\n%s", agent.log)
	}
	for _, s := range []string{want, "other.sock", "ListenStream="} {
		if !strings.Contains(agent.log.String(), s) {
			t.Errorf("the agent's error does not say %q:\n%s", s, agent.log)
		}
	}
}

// TestSystemdSocketActivate runs the agent under systemd's own tool for
// this, systemd-socket-activate(1), which binds the socket, waits for the
// first connection, and execs the agent with LISTEN_* set.
func TestSystemdSocketActivate(t *testing.T) {
	tool, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		t.Skip("no systemd-socket-activate")
	}
	a := newActivation(t, "1m")
	args := []string{"--listen=" + a.sock, "--fdname=mayfly-agent.socket"}
	for _, kv := range a.env {
		if k, _, _ := strings.Cut(kv, "="); k == "HOME" || strings.HasPrefix(k, "XDG_") {
			args = append(args, "--setenv="+kv)
		}
	}
	cmd := exec.Command(tool, append(args, filepath.Join(binDir, "mayfly"), "agent")...)
	cmd.Env = a.env
	var log bytes.Buffer
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("log:\n%s", log.String())
		}
	}()
	if !waitFor(func() bool { _, err := os.Lstat(a.sock); return err == nil }) {
		t.Fatal("systemd-socket-activate did not bind the socket")
	}
	st := a.status() // the first connection starts the agent
	if st.PID != cmd.Process.Pid {
		t.Errorf("status from pid %d, want %d (the agent exec'd in place of systemd-socket-activate)", st.PID, cmd.Process.Pid)
	}
	checkFDs(t, st.PID)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.client().Do(ctx, wire.Request{Op: wire.OpStop}); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("agent exit after stop: %v", err)
	}
}

func waitFor(cond func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}
