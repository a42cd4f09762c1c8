// Package tpm gives Mayfly the two things it wants from this machine's
// TPM 2.0: sealing a small secret (the data key of each value in
// [github.com/mayflyhq/mayfly/backends/tpm]) so that only this TPM can
// unseal it, and a non-exportable ECDSA P-256 device key that signs as a
// [crypto.Signer].
//
// It uses go-tpm's direct API and no TSS: pure Go, no cgo. [Open] takes a
// spec: "" for the platform's TPM (/dev/tpmrm0 on Linux, TBS on Windows;
// macOS has no TPM), an absolute device path, or one of the emulator forms
// "tcp:HOST:PORT" (swtpm's raw TCP server), "unix:PATH" (swtpm's unixio
// socket) and "mssim:HOST:PORT" (the Microsoft simulator protocol).
//
// Every object hangs off one storage root key (SRK), created from one fixed
// template (see [srkTemplate]) when first needed and kept loaded for the
// life of the connection. Mayfly writes nothing into the TPM: no persistent
// handles, no NV indices. Sealed objects and keys live outside it as blobs
// ([Sealed], [KeyBlob]) that only this TPM can load, and carry NoDA, so
// Mayfly can never push the TPM into dictionary-attack lockout.
//
// What can go wrong, and what the caller should do (match with [errors.Is]):
//
//   - [ErrUnavailable]: there is no TPM, it does not answer, or this user
//     may not open it (on Linux: not in the tss group). Fall back to another
//     store, and say so.
//   - [ErrKeyLost]: this TPM cannot load the blob: the TPM was cleared
//     (firmware update, fTPM reset) or replaced, or the blob was damaged.
//     The blob is useless for ever: delete it, and sign in again or make a
//     new key. Never treat this as fatal at startup.
//   - [ErrLocked]: the TPM is in dictionary-attack lockout (TPM_RC_LOCKOUT)
//     because of some other program's failed authorizations. Retry later;
//     delete nothing, and never retry in a loop.
//
// Anything else is a plain wrapped error. No answer from a TPM, however
// malformed, makes this package panic.
package tpm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/tcp"
)

// srkTemplate is the template of the storage root key everything is
// created under: the TCG reference ECC P-256 SRK of the TCG "TPM v2.0
// Provisioning Guidance" (go-tpm's ECCSRKTemplate, unique = 32 zero bytes
// for x and y).
//
// It must never change. A primary key is derived from the hierarchy's seed
// and its template (TPM 2.0 Library Part 1, "Primary Keys"); the private
// part of every blob made under it is protected with keys derived from that
// primary's seed value. Another template (even another unique value, such
// as the TSS2 keyfile spec's "H-2" template with an empty unique) gives
// another SRK, under which every existing blob fails to load with
// TPM_RC_INTEGRITY: every user would lose every sealed value and device key
// at once. TestSRKTemplateNeverChanges pins its marshalled bytes, so a
// go-tpm upgrade that changed ECCSRKTemplate would fail the tests rather
// than sign everyone out.
var srkTemplate = tpm2.ECCSRKTemplate

// DefaultDevice is the TPM device that the spec "" opens on Linux: the
// kernel's resource manager, which lets several programs share the TPM and
// swaps their transient objects in and out. /dev/tpm0 is the raw device,
// exclusive to one program.
const DefaultDevice = "/dev/tpmrm0"

// Timeouts of the emulator transports. A real TPM answers an ECC command
// in well under a second; swtpm serves one client at a time, so a second
// client waits for ever without cmdTimeout.
const (
	dialTimeout = 5 * time.Second
	cmdTimeout  = 30 * time.Second
)

// TPM is one connection to a TPM. Its methods are safe for concurrent use:
// one mutex serialises every command, since a TPM runs one command at a
// time and a session or a loaded handle must not be interleaved with
// another caller's.
type TPM struct {
	path string // what messages and Info call this TPM
	// dial opens the transport again after it broke; nil for transports
	// that cannot (devices, FromTransport).
	dial func() (transport.TPM, io.Closer, error)

	commands atomic.Uint64

	mu     sync.Mutex
	conn   transport.TPM // counted; nil while disconnected
	closer io.Closer     // closes conn; nil if the caller owns it
	closed bool
	srk    *srk
	// gen counts resets: a loaded key whose gen differs from the TPM's
	// must be loaded again.
	gen uint64
	// loaded lists this connection's transient objects, flushed on reset
	// and Close: a TPM has only a few slots (often 3).
	loaded []tpm2.TPMHandle
	// stale lists the objects of a connection that broke, flushed once a
	// new connection is up: an emulator that only lost the connection
	// still holds them.
	stale []tpm2.TPMHandle

	info atomic.Pointer[Info] // the last Info read, for String
}

// srk is the loaded storage root key.
type srk struct {
	handle tpm2.TPMHandle
	name   tpm2.TPM2BName
	pub    tpm2.TPMTPublic
}

// spec is a parsed TPM spec.
type spec struct {
	kind string // "default", "device", "tcp", "unix", "mssim"
	addr string // path or host:port
}

// parseSpec parses the forms Open accepts.
func parseSpec(s string) (spec, error) {
	if s == "" {
		return spec{kind: "default"}, nil
	}
	if strings.HasPrefix(s, "/") {
		return spec{kind: "device", addr: s}, nil
	}
	kind, addr, ok := strings.Cut(s, ":")
	if !ok {
		return spec{}, fmt.Errorf("tpm: bad spec %q: want an absolute device path, tcp:HOST:PORT, unix:PATH or mssim:HOST:PORT", s)
	}
	switch kind {
	case "tcp", "mssim":
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host == "" {
			return spec{}, fmt.Errorf("tpm: bad spec %q: want %s:HOST:PORT", s, kind)
		}
		n, err := strconv.Atoi(port)
		limit := 65535
		if kind == "mssim" {
			limit-- // the platform port is port+1
		}
		if err != nil || n < 1 || n > limit {
			return spec{}, fmt.Errorf("tpm: bad spec %q: port must be a number from 1 to %d", s, limit)
		}
	case "unix":
		if !strings.HasPrefix(addr, "/") {
			return spec{}, fmt.Errorf("tpm: bad spec %q: want unix:/absolute/path", s)
		}
	default:
		return spec{}, fmt.Errorf("tpm: bad spec %q: unknown kind %q (want an absolute device path, tcp:, unix: or mssim:)", s, kind)
	}
	return spec{kind: kind, addr: addr}, nil
}

// Open connects to the TPM that spec names (see the package doc). The
// error matches [ErrUnavailable] when there is no usable TPM there.
func Open(s string) (*TPM, error) {
	sp, err := parseSpec(s)
	if err != nil {
		return nil, err
	}
	t := &TPM{path: sp.addr}
	switch sp.kind {
	case "default":
		t.path = defaultPath
		conn, err := openDefault()
		if err != nil {
			return nil, fmt.Errorf("tpm: open %s: %w", defaultPath, unavailable(defaultPath, err))
		}
		t.setConn(conn, conn)
		return t, nil
	case "device":
		conn, err := openDevice(sp.addr)
		if err != nil {
			return nil, fmt.Errorf("tpm: open %s: %w", sp.addr, unavailable(sp.addr, err))
		}
		t.setConn(conn, conn)
		return t, nil
	case "unix":
		// linuxudstpm dials once per command, so it never needs a redial.
		conn, err := openUnix(sp.addr)
		if err != nil {
			return nil, fmt.Errorf("tpm: open %s: %w", s, unavailable(s, err))
		}
		t.path = s
		t.setConn(conn, conn)
		return t, nil
	case "tcp":
		t.path = s
		t.dial = func() (transport.TPM, io.Closer, error) { return dialRaw(sp.addr) }
	case "mssim":
		t.path = s
		t.dial = func() (transport.TPM, io.Closer, error) { return dialMSSim(sp.addr) }
	}
	conn, closer, err := t.dial()
	if err != nil {
		return nil, fmt.Errorf("tpm: open %s: %w", s, unavailable(s, err))
	}
	t.setConn(conn, closer)
	return t, nil
}

// FromTransport returns a TPM that sends its commands over tp, for tests
// (the in-process simulator) and callers with their own transport. name is
// what messages call it. Close flushes what the TPM loaded but does not
// close tp: its owner does.
func FromTransport(tp transport.TPM, name string) *TPM {
	t := &TPM{path: name}
	t.setConn(tp, nil)
	return t
}

func (t *TPM) setConn(tp transport.TPM, closer io.Closer) {
	t.conn = counted{tp, &t.commands}
	t.closer = closer
}

// counted counts the commands sent, for benchmarks.
type counted struct {
	tpm transport.TPM
	n   *atomic.Uint64
}

func (c counted) Send(cmd []byte) ([]byte, error) {
	c.n.Add(1)
	return c.tpm.Send(cmd)
}

// dialRaw connects to swtpm's raw TCP server (`swtpm socket --server
// type=tcp`), which carries TPM commands and responses as they are.
func dialRaw(addr string) (transport.TPM, io.Closer, error) {
	c, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		return nil, nil, err
	}
	tp := transport.FromReadWriteCloser(&rawConn{Conn: c})
	return tp, tp, nil
}

// rawConn frames TPM responses on a stream and bounds each command's time.
//
// go-tpm reads a response with a single Read (tpmutil.RunCommandRaw),
// which suits a device file but not TCP, where a response may arrive in
// pieces. Read therefore reads one whole response, using the size in its
// header (TPM 2.0 Library Part 1, "Command/Response Header Fields": tag,
// then the 32-bit size of the whole response).
//
// Each command gets cmdTimeout, so a TPM that stopped answering (or an
// swtpm busy with another client) fails the command rather than hanging
// the agent.
type rawConn struct {
	net.Conn
	buf []byte // the rest of a response larger than a Read's buffer
}

// maxResponse bounds a response's size; TPM responses fit in 4 KiB
// (go-tpm reads at most 4096 bytes).
const maxResponse = 4096

func (c *rawConn) Write(p []byte) (int, error) {
	c.SetDeadline(time.Now().Add(cmdTimeout))
	return c.Conn.Write(p)
}

func (c *rawConn) Read(p []byte) (int, error) {
	if len(c.buf) == 0 {
		var hdr [6]byte
		if _, err := io.ReadFull(c.Conn, hdr[:]); err != nil {
			return 0, err
		}
		size := binary.BigEndian.Uint32(hdr[2:])
		if size < 10 || size > maxResponse {
			return 0, fmt.Errorf("%w: a response of %d bytes", errFraming, size)
		}
		c.buf = make([]byte, size)
		copy(c.buf, hdr[:])
		if _, err := io.ReadFull(c.Conn, c.buf[len(hdr):]); err != nil {
			c.buf = nil
			return 0, err
		}
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

// errFraming means the stream no longer carries whole TPM responses: the
// connection is dropped and dialled again.
var errFraming = errors.New("malformed TPM response stream")

// dialMSSim connects to a TPM that speaks the Microsoft simulator protocol
// (TpmTcpProtocol.h of the TCG reference implementation): commands on
// addr, platform signals on the next port. The simulator starts powered
// off, so power it on and send TPM2_Startup; a TPM that was already
// started answers TPM_RC_INITIALIZE, which is fine.
func dialMSSim(addr string) (transport.TPM, io.Closer, error) {
	host, port, _ := net.SplitHostPort(addr) // parseSpec checked it
	n, _ := strconv.Atoi(port)
	sim, err := tcp.Open(tcp.Config{CommandAddress: addr, PlatformAddress: net.JoinHostPort(host, strconv.Itoa(n+1))})
	if err != nil {
		return nil, nil, err
	}
	if err := sim.PowerOn(); err != nil {
		sim.Close()
		return nil, nil, err
	}
	if _, err := (tpm2.Startup{StartupType: tpm2.TPMSUClear}).Execute(sim); err != nil && !errors.Is(err, tpm2.TPMRCInitialize) {
		sim.Close()
		return nil, nil, err
	}
	return sim, sim, nil
}

// Path returns the device or address of the TPM.
func (t *TPM) Path() string { return t.path }

// String describes the TPM for messages and store descriptions: its
// manufacturer and firmware once [TPM.Info] has read them, and its path.
func (t *TPM) String() string {
	info := t.info.Load()
	if info == nil || info.Manufacturer == "" {
		return "TPM at " + t.path
	}
	s := info.Manufacturer + " TPM"
	if info.Firmware != "" {
		s += " (firmware " + info.Firmware + ")"
	}
	return s + " at " + t.path
}

// Commands returns how many commands were sent to the TPM, for benchmarks.
func (t *TPM) Commands() uint64 { return t.commands.Load() }

// Close flushes the objects this connection loaded and closes it.
func (t *TPM) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	t.flushLoaded()
	t.srk = nil
	var err error
	if t.closer != nil {
		err = t.closer.Close()
	}
	t.conn, t.closer = nil, nil
	return err
}

// errClosed is the error of every operation after Close.
var errClosed = errors.New("tpm: connection closed")

// do runs op with the TPM to itself. When op fails because the connection
// broke, because a handle this package cached is gone (the TPM was reset
// behind its back), or because the TPM needs TPM2_Startup, it repairs
// that and runs op once more: op must be safe to repeat.
func (t *TPM) do(ctx context.Context, op func(tp transport.TPM) error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errClosed
	}
	for attempt := 0; ; attempt++ {
		err := t.attempt(op)
		if err == nil || attempt > 0 || ctx.Err() != nil {
			return err
		}
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded) && t.dial != nil:
			// The answer may still come, and would be read as the
			// answer to the next command: drop the connection, and do
			// not wait another cmdTimeout for a TPM that hangs.
			t.disconnect()
			return err
		case isBroken(err) && t.dial != nil:
			t.disconnect()
		case isStaleHandle(err):
			t.reset()
		case errors.Is(err, tpm2.TPMRCInitialize):
			// A TPM that was power-cycled without TPM2_Startup (an
			// emulator started without startup-clear).
			if _, serr := (tpm2.Startup{StartupType: tpm2.TPMSUClear}).Execute(t.conn); serr != nil && !errors.Is(serr, tpm2.TPMRCInitialize) {
				return err
			}
			t.reset()
		default:
			return err
		}
	}
}

// attempt connects if need be and runs op. go-tpm decodes a TPM's answers
// by reflection and was not written against hostile or broken TPMs; a
// panic while decoding is turned into an error, so that no answer can take
// the agent down.
func (t *TPM) attempt(op func(tp transport.TPM) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed answer from the TPM at %s: %v", t.path, r)
		}
	}()
	if t.conn == nil {
		tp, closer, err := t.dial()
		if err != nil {
			return unavailable(t.path, err)
		}
		t.setConn(tp, closer)
		for _, h := range t.stale {
			tpm2.FlushContext{FlushHandle: h}.Execute(t.conn)
		}
		t.stale = nil
	}
	return op(t.conn)
}

// disconnect drops a broken connection. Its objects are flushed once the
// next connection is up (see stale); an emulator that was restarted no
// longer has them, and says so, which is ignored. Until then nobody else
// can have been given their handles: this process is the TPM's only
// client over such a connection (swtpm serves one at a time).
func (t *TPM) disconnect() {
	if t.closer != nil {
		t.closer.Close()
	}
	t.conn, t.closer = nil, nil
	t.stale = append(t.stale, t.loaded...)
	t.srk, t.loaded = nil, nil
	t.gen++
}

// reset forgets the SRK and every loaded key, after flushing what may
// still be loaded: they are created or loaded again when next needed.
func (t *TPM) reset() {
	t.flushLoaded()
	t.srk = nil
	t.gen++
}

// flushLoaded flushes this connection's transient objects, ignoring
// errors: those the TPM no longer has are what it is cleaning up after.
func (t *TPM) flushLoaded() {
	if t.conn != nil {
		for _, h := range t.loaded {
			tpm2.FlushContext{FlushHandle: h}.Execute(t.conn)
		}
	}
	t.loaded = nil
}

// flush flushes one transient object now and forgets it.
func (t *TPM) flush(tp transport.TPM, h tpm2.TPMHandle) {
	tpm2.FlushContext{FlushHandle: h}.Execute(tp)
	t.forgetHandle(h)
}

func (t *TPM) forgetHandle(h tpm2.TPMHandle) {
	for i, l := range t.loaded {
		if l == h {
			t.loaded = append(t.loaded[:i], t.loaded[i+1:]...)
			return
		}
	}
}

// primary returns the SRK, creating it on first use. Creating an ECC
// primary costs a real TPM tens to hundreds of milliseconds, so it is kept
// for the life of the connection rather than made per operation.
func (t *TPM) primary(tp transport.TPM) (*srk, error) {
	if t.srk != nil {
		return t.srk, nil
	}
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.TPMRHOwner,
		InPublic:      tpm2.New2B(srkTemplate),
	}.Execute(tp)
	if err != nil {
		return nil, primaryErr(err)
	}
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		tpm2.FlushContext{FlushHandle: rsp.ObjectHandle}.Execute(tp)
		return nil, fmt.Errorf("storage root key: %w", err)
	}
	t.loaded = append(t.loaded, rsp.ObjectHandle)
	t.srk = &srk{handle: rsp.ObjectHandle, name: rsp.Name, pub: *pub}
	return t.srk, nil
}

// salted returns a one-use HMAC session salted with the SRK, with AES-128
// CFB parameter encryption in direction dir: the secret crosses the bus
// (LPC/SPI, where interposers have been shown to sniff it) encrypted, with
// a session key only this TPM can derive (TPM 2.0 Library Part 1,
// "Session-based encryption"; Part 3, TPM2_StartAuthSession with tpmKey).
func (s *srk) salted(dir func(tpm2.TPMKeyBits) tpm2.AuthOption) tpm2.Session {
	return tpm2.HMAC(tpm2.TPMAlgSHA256, 16, dir(128), tpm2.Salted(s.handle, s.pub))
}

func encryptIn(bits tpm2.TPMKeyBits) tpm2.AuthOption {
	return tpm2.AESEncryption(bits, tpm2.EncryptIn)
}

func encryptOut(bits tpm2.TPMKeyBits) tpm2.AuthOption {
	return tpm2.AESEncryption(bits, tpm2.EncryptOut)
}

// parent returns the SRK as the parent of a command, with the empty
// password it has.
func (s *srk) parent() tpm2.AuthHandle {
	return tpm2.AuthHandle{Handle: s.handle, Name: s.name, Auth: tpm2.PasswordAuth(nil)}
}

// withContext runs f, returning early with ctx's error if ctx ends first.
// A TPM command cannot be cancelled; f goes on in the background and
// releases the TPM when the TPM answers (or cmdTimeout passes, for
// emulators).
func withContext[T any](ctx context.Context, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
