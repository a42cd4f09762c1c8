package testpeers

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// SWTPM is a running swtpm: libtpms, a software TPM 2.0, serving raw TPM
// commands on a loopback TCP port (`swtpm socket --server type=tcp`). Its
// state lives in a folder, so it can be restarted with the same seeds (the
// machine rebooted) or replaced by a new TPM at the same address (the TPM
// was cleared, or the disk moved to another machine).
type SWTPM struct {
	bin    string
	dir    string
	state  string // the current state folder, below dir
	n      int    // state folders made so far
	port   int    // TPM commands
	ctrl   int    // swtpm's control channel
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	log    string
}

// StartSWTPM creates a TPM state in dir with swtpm_setup, starts swtpm on
// two free loopback ports and returns once it answers TPM commands. If
// swtpm or swtpm_setup is not installed, the error matches
// [exec.ErrNotFound] (scripts/install-peers.sh installs them).
func StartSWTPM(ctx context.Context, dir string) (*SWTPM, error) {
	bin, err := exec.LookPath("swtpm")
	if err != nil {
		return nil, fmt.Errorf("swtpm: %w", err)
	}
	if _, err := exec.LookPath("swtpm_setup"); err != nil {
		return nil, fmt.Errorf("swtpm_setup: %w", err)
	}
	s := &SWTPM{bin: bin, dir: dir, log: filepath.Join(dir, "swtpm.log")}
	if s.port, err = freePort(); err != nil {
		return nil, err
	}
	if s.ctrl, err = freePort(); err != nil {
		return nil, err
	}
	if err := s.newState(ctx); err != nil {
		return nil, err
	}
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Spec returns the TPM's address in the form of Mayfly's tpm setting.
func (s *SWTPM) Spec() string { return "tcp:" + s.Addr() }

// Addr returns host:port of the TPM command port.
func (s *SWTPM) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// StateDir returns the folder holding the current TPM's state.
func (s *SWTPM) StateDir() string { return s.state }

// Restart stops swtpm and starts it again on the same state and address:
// what a reboot is to a hardware TPM. Seeds survive; loaded objects and
// open connections do not.
func (s *SWTPM) Restart() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s.stop()
	return s.start(ctx)
}

// Replace stops swtpm and starts a new TPM, with a new state and so new
// seeds, at the same address: what clearing the TPM, or moving the disk to
// another machine, looks like to Mayfly.
func (s *SWTPM) Replace() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s.stop()
	if err := s.newState(ctx); err != nil {
		return err
	}
	return s.start(ctx)
}

// Close stops swtpm. The state folders stay in dir.
func (s *SWTPM) Close() error {
	s.stop()
	return nil
}

// newState makes a new state folder and manufactures a TPM in it. With
// --create-ek-cert it also gets an EK and its certificate from
// swtpm-localca, as a real TPM has, when that works within a few seconds;
// otherwise the TPM has no EK certificate, which no test of seals and
// signatures needs.
func (s *SWTPM) newState(ctx context.Context) error {
	s.n++
	s.state = filepath.Join(s.dir, fmt.Sprintf("state-%d", s.n))
	if err := os.MkdirAll(s.state, 0o700); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(s.dir, "swtpm_setup.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	setup := func(timeout time.Duration, extra ...string) error {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		args := append([]string{"--tpm2", "--tpmstate", s.state, "--overwrite"}, extra...)
		cmd := exec.CommandContext(ctx, "swtpm_setup", args...)
		cmd.Stdout, cmd.Stderr = logf, logf
		return cmd.Run()
	}
	if err := setup(15*time.Second, "--create-ek-cert"); err == nil {
		return nil
	}
	if err := setup(30 * time.Second); err != nil {
		log, _ := os.ReadFile(logf.Name())
		return fmt.Errorf("swtpm_setup: %w; its log: %s", err, tail(log, 800))
	}
	return nil
}

// start runs swtpm on the current state and waits until it answers.
// not-need-init and startup-clear make it serve TPM commands at once, as
// a machine's TPM does after the firmware sent TPM2_Startup.
func (s *SWTPM) start(ctx context.Context) error {
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	s.cmd = daemonCmd(s.bin, "socket", "--tpm2",
		"--server", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", s.port),
		"--ctrl", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", s.ctrl),
		"--tpmstate", "dir="+s.state,
		"--flags", "not-need-init,startup-clear")
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("swtpm: %w", err)
	}
	logf.Close()
	cmd, exited := s.cmd, make(chan struct{})
	s.exited = exited
	go func() {
		cmd.Wait()
		close(exited)
	}()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var last error
	for {
		if last = ping(s.Addr()); last == nil {
			return nil
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(s.log)
			return fmt.Errorf("swtpm exited at start: %s", tail(log, 800))
		case <-ctx.Done():
			s.stop()
			log, _ := os.ReadFile(s.log)
			return fmt.Errorf("swtpm does not answer at %s: %v; its log: %s", s.Addr(), last, tail(log, 800))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop ends swtpm: SIGTERM, which it handles by closing its state, then
// SIGKILL if it has not exited within 5 s.
func (s *SWTPM) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// getRandom is TPM2_GetRandom of 8 bytes (TPM 2.0 Library Part 3, 16.1):
// tag TPM_ST_NO_SESSIONS, size 12, TPM_CC_GetRandom, bytesRequested.
var getRandom = []byte{0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7b, 0, 8}

// ping sends one TPM command to addr and checks the answer is a success.
// It closes the connection after: swtpm serves one client at a time.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(getRandom); err != nil {
		return err
	}
	var hdr [10]byte // tag, size, response code
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return err
	}
	if !bytes.Equal(hdr[:2], []byte{0x80, 0x01}) {
		return fmt.Errorf("not a TPM 2.0 response: % x", hdr)
	}
	if rc := binary.BigEndian.Uint32(hdr[6:]); rc != 0 {
		return fmt.Errorf("TPM2_GetRandom: response code %#x", rc)
	}
	return nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	addr, err := freeAddr()
	if err != nil {
		return 0, err
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(port)
}
