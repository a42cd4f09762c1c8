package testpeers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
)

// StartSessionBus starts a private D-Bus session bus (dbus-daemon) whose
// socket and log are in dir, and returns its address and a function that
// stops it. The bus has no service folders, so nothing is activated on it:
// only what the caller starts owns names there. It never touches the
// caller's own session bus. If dbus-daemon is not installed, the error
// matches [exec.ErrNotFound] (scripts/install-peers.sh installs it).
func StartSessionBus(ctx context.Context, dir string) (addr string, stop func(), err error) {
	bin, err := exec.LookPath("dbus-daemon")
	if err != nil {
		return "", nil, fmt.Errorf("dbus-daemon: %w", err)
	}
	// A UNIX socket path must fit in sun_path (108 bytes); t.TempDir()
	// paths can be longer, so fall back to a short folder.
	sockDir, cleanup := dir, func() {}
	if len(dir) > 80 {
		if sockDir, err = os.MkdirTemp("", "mfbus"); err != nil {
			return "", nil, err
		}
		cleanup = func() { os.RemoveAll(sockDir) }
	}
	var listen bytes.Buffer
	xml.EscapeText(&listen, []byte("unix:path="+filepath.Join(sockDir, "bus")))
	conf := filepath.Join(dir, "bus.conf")
	err = os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>`+listen.String()+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`), 0o600)
	if err != nil {
		cleanup()
		return "", nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "dbus-daemon.log"))
	if err != nil {
		cleanup()
		return "", nil, err
	}
	cmd := daemonCmd(bin, "--config-file="+conf, "--nofork", "--nopidfile", "--print-address=1")
	cmd.Env = peerEnv(dir, "")
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		cleanup()
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		cleanup()
		return "", nil, fmt.Errorf("dbus-daemon: %w", err)
	}
	stop = func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
		cleanup()
	}
	// dbus-daemon prints its address once it listens.
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case addr = <-line:
	case <-time.After(10 * time.Second):
	case <-ctx.Done():
	}
	if addr == "" {
		stop()
		log, _ := os.ReadFile(logf.Name())
		return "", nil, fmt.Errorf("dbus-daemon printed no address: %s", tail(log, 500))
	}
	return addr, stop, nil
}

// StartSecretService starts a private session bus (see StartSessionBus) and
// a gnome-keyring-daemon serving the Secret Service on it, with its home,
// keyrings and runtime folder in dir. The daemon creates a "login" keyring,
// unlocked, with the alias "default". It returns once the Secret Service
// answers; stop kills both. Nothing here reads or writes the caller's own
// keyrings or session bus. If gnome-keyring-daemon or dbus-daemon is not
// installed, the error matches [exec.ErrNotFound].
func StartSecretService(ctx context.Context, dir string) (addr string, stop func(), err error) {
	bin, err := exec.LookPath("gnome-keyring-daemon")
	if err != nil {
		return "", nil, fmt.Errorf("gnome-keyring-daemon: %w", err)
	}
	addr, stopBus, err := StartSessionBus(ctx, dir)
	if err != nil {
		return "", nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "gnome-keyring.log"))
	if err != nil {
		stopBus()
		return "", nil, err
	}
	// --unlock reads the login keyring's password from stdin, creating the
	// keyring if need be; --foreground keeps the daemon our child, so
	// stop can kill it. Only the Secret Service component: no SSH or PKCS#11
	// agent.
	cmd := daemonCmd(bin, "--foreground", "--unlock", "--components=secrets")
	cmd.Env = peerEnv(dir, addr)
	cmd.Stdin = strings.NewReader("mayfly-test-password")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		stopBus()
		return "", nil, fmt.Errorf("gnome-keyring-daemon: %w", err)
	}
	stop = func() {
		// SIGKILL also ends a daemon a test stopped with SIGSTOP.
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
		stopBus()
	}
	if err := waitSecretService(ctx, addr); err != nil {
		stop()
		log, _ := os.ReadFile(logf.Name())
		return "", nil, fmt.Errorf("gnome-keyring-daemon: %w; its log: %s", err, tail(log, 500))
	}
	return addr, stop, nil
}

// waitSecretService waits until the Secret Service on the bus at addr has a
// default collection.
func waitSecretService(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := dbus.Connect(addr, dbus.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	defer conn.Close()
	var last error
	for {
		var path dbus.ObjectPath
		last = conn.Object("org.freedesktop.secrets", "/org/freedesktop/secrets").
			CallWithContext(ctx, "org.freedesktop.Secret.Service.ReadAlias", 0, "default").Store(&path)
		if last == nil && path != "/" {
			return nil
		}
		if last == nil {
			last = errors.New(`no collection has the alias "default" yet`)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the Secret Service is not ready: %w", last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// daemonCmd returns the command that runs a daemon, through setpriv
// --pdeathsig (util-linux) when it is installed, so that the daemon dies
// with the test process even when a timeout or a panic skips the cleanups.
func daemonCmd(bin string, args ...string) *exec.Cmd {
	if setpriv, err := exec.LookPath("setpriv"); err == nil {
		return exec.Command(setpriv, append([]string{"--pdeathsig", "KILL", "--", bin}, args...)...)
	}
	return exec.Command(bin, args...)
}

// peerEnv is the environment of the bus and keyring daemons: their own
// home and runtime folders under dir, and no trace of the caller's session.
func peerEnv(dir, busAddr string) []string {
	home := filepath.Join(dir, "home")
	run := filepath.Join(dir, "run")
	os.MkdirAll(home, 0o700)
	os.MkdirAll(run, 0o700)
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"LANG=C",
		"HOME=" + home,
		"XDG_RUNTIME_DIR=" + run,
		"XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"),
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
	}
	if busAddr != "" {
		env = append(env, "DBUS_SESSION_BUS_ADDRESS="+busAddr)
	}
	return env
}
