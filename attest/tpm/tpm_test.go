package tpm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

var _ crypto.Signer = (*Key)(nil)

// TestSRKTemplateNeverChanges pins the SRK template byte for byte: every
// blob ever sealed depends on it (see srkTemplate). If this fails after a
// go-tpm upgrade, restore the old template; do not update the bytes.
func TestSRKTemplateNeverChanges(t *testing.T) {
	const want = "0023000b0003047200000006008000430010000300100020" +
		"0000000000000000000000000000000000000000000000000000000000000000" +
		"0020" + "0000000000000000000000000000000000000000000000000000000000000000"
	if got := hex.EncodeToString(tpm2.Marshal(srkTemplate)); got != want {
		t.Fatalf("the SRK template changed: every sealed value and device key would be lost\n got %s\nwant %s", got, want)
	}
}

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in   string
		want spec
		err  string
	}{
		{"", spec{kind: "default"}, ""},
		{"/dev/tpmrm0", spec{"device", "/dev/tpmrm0"}, ""},
		{"/dev/tpm0", spec{"device", "/dev/tpm0"}, ""},
		{"tcp:127.0.0.1:2321", spec{"tcp", "127.0.0.1:2321"}, ""},
		{"tcp:[::1]:2321", spec{"tcp", "[::1]:2321"}, ""},
		{"tcp:localhost:65535", spec{"tcp", "localhost:65535"}, ""},
		{"unix:/run/swtpm/sock", spec{"unix", "/run/swtpm/sock"}, ""},
		{"mssim:127.0.0.1:2321", spec{"mssim", "127.0.0.1:2321"}, ""},
		{"dev/tpmrm0", spec{}, "absolute device path"},
		{"tcp:127.0.0.1", spec{}, "tcp:HOST:PORT"},
		{"tcp::2321", spec{}, "tcp:HOST:PORT"},
		{"tcp:127.0.0.1:0", spec{}, "port must be a number from 1 to 65535"},
		{"tcp:127.0.0.1:x", spec{}, "port must be"},
		{"mssim:127.0.0.1:65535", spec{}, "from 1 to 65534"},
		{"unix:relative/sock", spec{}, "unix:/absolute/path"},
		{"sim:", spec{}, `unknown kind "sim"`},
		{"http://127.0.0.1:2321", spec{}, `unknown kind "http"`},
	}
	for _, tt := range tests {
		got, err := parseSpec(tt.in)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("parseSpec(%q) = %v", tt.in, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("parseSpec(%q) error = %v, want one containing %q", tt.in, err, tt.err)
		case got != tt.want:
			t.Errorf("parseSpec(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestOpenUnavailable(t *testing.T) {
	regular := filepath.Join(t.TempDir(), "not-a-tpm")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// A port nothing listens on: listen, then close.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := l.Addr().String()
	l.Close()
	for _, s := range []string{"/nonexistent/tpmrm0", regular, "tcp:" + closedPort, "mssim:" + closedPort, "unix:/nonexistent/swtpm.sock"} {
		tp, err := Open(s)
		if err == nil {
			tp.Close()
			t.Errorf("Open(%q) succeeded", s)
			continue
		}
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("Open(%q) = %v, want an error matching ErrUnavailable", s, err)
		}
	}
	if _, err := Open("bogus"); err == nil || errors.Is(err, ErrUnavailable) {
		t.Errorf("Open(bogus) = %v, want a spec error, not ErrUnavailable", err)
	}
}

// rc builds a TPM response code: base with the format-one parameter,
// handle or session number n set (TPM 2.0 Library Part 2, TPM_RC).
func rcParam(base tpm2.TPMRC, n int) tpm2.TPMRC  { return base | 0x40 | tpm2.TPMRC(n<<8) }
func rcHandle(base tpm2.TPMRC, n int) tpm2.TPMRC { return base | tpm2.TPMRC(n<<8) }

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want error // sentinel, or nil for none
	}{
		{"lockout", tpm2.TPMRCLockout, ErrLocked},
		{"wrapped lockout", fmt.Errorf("x: %w", tpm2.TPMRCLockout), ErrLocked},
		{"integrity on load", rcParam(tpm2.TPMRCIntegrity, 1), ErrKeyLost},
		{"failure mode", tpm2.TPMRCFailure, ErrUnavailable},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), ErrUnavailable},
		{"eof", io.EOF, ErrUnavailable},
		{"refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, ErrUnavailable},
		{"timeout", fmt.Errorf("read: %w", os.ErrDeadlineExceeded), ErrUnavailable},
		{"auth fail", rcParam(tpm2.TPMRCAuthFail, 1), nil},
		{"other", errors.New("something"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify("/dev/tpmrm0", tt.err)
			if !errors.Is(got, tt.err) {
				t.Errorf("classify lost the cause: %v", got)
			}
			for _, s := range []error{ErrLocked, ErrKeyLost, ErrUnavailable} {
				if errors.Is(got, s) != (s == tt.want) {
					t.Errorf("classify(%v) = %v; matches %v: %v, want %v", tt.err, got, s, errors.Is(got, s), s == tt.want)
				}
			}
		})
	}
}

func TestLoadErr(t *testing.T) {
	for _, rc := range []tpm2.TPMRC{
		rcParam(tpm2.TPMRCIntegrity, 1), // another TPM's blob, or a cleared TPM
		rcParam(tpm2.TPMRCSize, 1),      // cut private area
		rcParam(tpm2.TPMRCBinding, 2),   // public and private do not match
		rcParam(tpm2.TPMRCAttributes, 2),
	} {
		if err := loadErr(rc); !errors.Is(err, ErrKeyLost) {
			t.Errorf("loadErr(%v) = %v, want ErrKeyLost", rc, err)
		}
	}
	for _, rc := range []tpm2.TPMRC{rcHandle(tpm2.TPMRCHandle, 1), tpm2.TPMRCReferenceH0, tpm2.TPMRCLockout} {
		if err := loadErr(rc); errors.Is(err, ErrKeyLost) {
			t.Errorf("loadErr(%v) = %v, want no ErrKeyLost", rc, err)
		}
	}
}

func TestIsStaleHandle(t *testing.T) {
	for _, rc := range []tpm2.TPMRC{rcHandle(tpm2.TPMRCHandle, 1), rcHandle(tpm2.TPMRCValue, 1), tpm2.TPMRCReferenceH0, tpm2.TPMRCReferenceH1} {
		if !isStaleHandle(rc) {
			t.Errorf("isStaleHandle(%v) = false", rc)
		}
	}
	for _, rc := range []tpm2.TPMRC{rcParam(tpm2.TPMRCValue, 1), rcParam(tpm2.TPMRCIntegrity, 1), tpm2.TPMRCLockout, tpm2.TPMRCReferenceS0} {
		if isStaleHandle(rc) {
			t.Errorf("isStaleHandle(%v) = true", rc)
		}
	}
}

func TestUnavailableMessages(t *testing.T) {
	perm := unavailable(DefaultDevice, &fs.PathError{Op: "open", Path: DefaultDevice, Err: fs.ErrPermission})
	if !errors.Is(perm, ErrUnavailable) || !errors.Is(perm, fs.ErrPermission) || !strings.Contains(perm.Error(), "tss group") {
		t.Errorf("EACCES: %v; want ErrUnavailable and advice to join the tss group", perm)
	}
	missing := unavailable(DefaultDevice, &fs.PathError{Op: "stat", Path: DefaultDevice, Err: fs.ErrNotExist})
	if !errors.Is(missing, ErrUnavailable) || !strings.Contains(missing.Error(), "/dev/tpm0") {
		t.Errorf("ENOENT: %v", missing)
	}
	owner := primaryErr(rcHandle(tpm2.TPMRCBadAuth, 1))
	if !errors.Is(owner, ErrUnavailable) || !strings.Contains(owner.Error(), "owner hierarchy has a password") {
		t.Errorf("owner auth: %v", owner)
	}
}

func TestDERSignature(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// Short R or S come up about once in 256 signatures each: sign until
	// both have been seen, checking every encoding verifies.
	var shortR, shortS bool
	for i := 0; i < 5000 && !(shortR && shortS); i++ {
		d := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		r, s, err := ecdsa.Sign(rand.Reader, key, d[:])
		if err != nil {
			t.Fatal(err)
		}
		shortR = shortR || len(r.Bytes()) < 32
		shortS = shortS || len(s.Bytes()) < 32
		for _, enc := range []struct {
			name string
			r, s []byte
		}{
			{"minimal", r.Bytes(), s.Bytes()},
			{"padded to 32", r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))},
			{"padded to 33", r.FillBytes(make([]byte, 33)), s.FillBytes(make([]byte, 33))},
		} {
			der, err := derSignature(enc.r, enc.s)
			if err != nil {
				t.Fatalf("%s: %v", enc.name, err)
			}
			if !ecdsa.VerifyASN1(&key.PublicKey, d[:], der) {
				t.Fatalf("%s: signature %x does not verify", enc.name, der)
			}
			var back struct{ R, S *big.Int }
			if rest, err := asn1.Unmarshal(der, &back); err != nil || len(rest) != 0 || back.R.Cmp(r) != 0 || back.S.Cmp(s) != 0 {
				t.Fatalf("%s: DER %x does not decode to R, S", enc.name, der)
			}
		}
	}
	if !shortR || !shortS {
		t.Errorf("no short R or S in 5000 signatures (R %v, S %v)", shortR, shortS)
	}
	// A high bit gets a 0x00 prefix; leading zero bytes go.
	high := bytes.Repeat([]byte{0x80}, 32)
	der, err := derSignature(append([]byte{0, 0}, 1), high)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte{0x30, 3 + 2 + 33, 0x02, 1, 1, 0x02, 33, 0}, high...)
	if !bytes.Equal(der, want) {
		t.Errorf("derSignature = %x, want %x", der, want)
	}
	n := elliptic.P256().Params().N.Bytes()
	for _, bad := range [][2][]byte{{nil, {1}}, {{0, 0}, {1}}, {{1}, n}, {{1}, bytes.Repeat([]byte{0xff}, 32)}, {{1}, bytes.Repeat([]byte{1}, 33)}} {
		if _, err := derSignature(bad[0], bad[1]); err == nil {
			t.Errorf("derSignature(%x, %x) succeeded", bad[0], bad[1])
		}
	}
}

// fakeTPM answers every command with answer(cmd), and counts them.
type fakeTPM struct {
	answer func(cmd []byte) ([]byte, error)
	n      int
}

func (f *fakeTPM) Send(cmd []byte) ([]byte, error) {
	f.n++
	return f.answer(cmd)
}

// rcAnswer is a response with only a header carrying rc.
func rcAnswer(rc tpm2.TPMRC) []byte {
	b := []byte{0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[6:], uint32(rc))
	return b
}

func TestLockoutIsErrLocked(t *testing.T) {
	tp := FromTransport(&fakeTPM{answer: func([]byte) ([]byte, error) { return rcAnswer(tpm2.TPMRCLockout), nil }}, "fake")
	defer tp.Close()
	if _, err := tp.Info(context.Background()); !errors.Is(err, ErrLocked) {
		t.Errorf("Info = %v, want ErrLocked", err)
	}
	if _, err := tp.Seal([]byte("k")); !errors.Is(err, ErrLocked) {
		t.Errorf("Seal = %v, want ErrLocked", err)
	}
}

func TestBadBlobsAreKeyLostWithoutACommand(t *testing.T) {
	f := &fakeTPM{answer: func([]byte) ([]byte, error) { return nil, errors.New("no command expected") }}
	tp := FromTransport(f, "fake")
	defer tp.Close()
	for _, b := range []Sealed{
		{},
		{Public: []byte{0, 5, 1}, Private: []byte{0, 0}},
		{Public: []byte{0, 1, 0xff}, Private: []byte{0, 0}},
		{Public: []byte{0, 2, 0, 0x23}, Private: []byte{0, 0}},
	} {
		if _, err := tp.Unseal(&b); !errors.Is(err, ErrKeyLost) {
			t.Errorf("Unseal(%x) = %v, want ErrKeyLost", b, err)
		}
		if _, err := tp.LoadKey(&KeyBlob{Public: b.Public, Private: b.Private}); !errors.Is(err, ErrKeyLost) {
			t.Errorf("LoadKey(%x) = %v, want ErrKeyLost", b, err)
		}
	}
	if f.n != 0 || tp.Commands() != 0 {
		t.Errorf("%d commands sent for blobs that cannot be valid", f.n)
	}
}

func TestSealSizeLimits(t *testing.T) {
	tp := FromTransport(&fakeTPM{answer: func([]byte) ([]byte, error) { return nil, errors.New("no command expected") }}, "fake")
	defer tp.Close()
	for _, n := range []int{0, MaxSealSize + 1} {
		if _, err := tp.Seal(make([]byte, n)); err == nil || !strings.Contains(err.Error(), "1 to 128") {
			t.Errorf("Seal(%d bytes) = %v", n, err)
		}
	}
}

func TestSignRefusesOtherDigests(t *testing.T) {
	k := &Key{t: FromTransport(&fakeTPM{answer: func([]byte) ([]byte, error) { return nil, errors.New("no command expected") }}, "fake")}
	if _, err := k.Sign(nil, make([]byte, 48), crypto.SHA384); err == nil {
		t.Error("Sign accepted a SHA-384 digest")
	}
	if _, err := k.Sign(nil, make([]byte, 20), nil); err == nil {
		t.Error("Sign accepted a 20-byte digest")
	}
}

// TestGarbageAnswersNeverPanic answers every command with bytes a broken
// or hostile TPM might send: truncated, wrong tag, huge sizes, random.
func TestGarbageAnswersNeverPanic(t *testing.T) {
	answers := [][]byte{
		nil,
		{0x80},
		{0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0}, // success with no body
		{0x80, 0x01, 0, 0, 0xff, 0xff, 0, 0, 0, 0},  // size beyond the data
		{0x80, 0x02, 0, 0, 0, 14, 0, 0, 0, 0, 0, 0}, // sessions tag, truncated
		{0x00, 0xc4, 0, 0, 0, 10, 0, 0, 0, 0},       // TPM 1.2
		append([]byte{0x80, 0x01, 0, 0, 0, 40, 0, 0, 0, 0, 0x80, 0, 0, 1}, bytes.Repeat([]byte{0xff}, 26)...),
	}
	for range 50 {
		b := make([]byte, 10+mrand.IntN(200))
		rand.Read(b)
		copy(b, []byte{0x80, 0x01, 0, 0, 0, byte(len(b)), 0, 0, 0, 0})
		answers = append(answers, b)
	}
	good := &Sealed{Public: append([]byte{0, byte(len(tpm2.Marshal(sealTemplate)))}, tpm2.Marshal(sealTemplate)...), Private: []byte{0, 1, 0}}
	for i, a := range answers {
		tp := FromTransport(&fakeTPM{answer: func([]byte) ([]byte, error) { return a, nil }}, "fake")
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("answer %d (%x) made the package panic: %v", i, a, r)
				}
			}()
			tp.Info(context.Background())
			tp.Seal([]byte("data key"))
			tp.Unseal(good)
			tp.CreateKey()
			tp.Close()
		}()
	}
}

func TestInfoDecoding(t *testing.T) {
	if got := ascii(0x49424d00); got != "IBM" {
		t.Errorf(`ascii("IBM\0") = %q`, got)
	}
	if got := ascii(0x494e5443); got != "INTC" {
		t.Errorf("ascii(INTC) = %q", got)
	}
	if got := ascii(0x53572020); got != "SW" {
		t.Errorf(`ascii("SW  ") = %q`, got)
	}
	if got := ascii(0x53572020, 0x2054504d); got != "SW   TPM" {
		t.Errorf(`ascii("SW  ", " TPM") = %q`, got)
	}
	if got := ascii(0x01ff4100); got != "A" {
		t.Errorf("ascii(control and high bytes) = %q", got)
	}
	if got := firmware(0x20191023, 0x00163636); got != "8217.4131.22.13878" {
		t.Errorf("firmware = %q", got)
	}
	if got := firmware(0x00010026, 0x00000000); got != "1.38.0.0" {
		t.Errorf("firmware = %q", got)
	}
	if got := firmware(0, 0); got != "" {
		t.Errorf("firmware(0, 0) = %q", got)
	}
}

func TestCommandsCounted(t *testing.T) {
	f := &fakeTPM{answer: func([]byte) ([]byte, error) { return rcAnswer(tpm2.TPMRCFailure), nil }}
	tp := FromTransport(f, "fake")
	defer tp.Close()
	tp.Info(context.Background())
	if tp.Commands() == 0 || tp.Commands() != uint64(f.n) {
		t.Errorf("Commands() = %d, fake saw %d", tp.Commands(), f.n)
	}
}

// rawConn reads a whole response even when TCP delivers it in pieces, and
// refuses a stream that does not carry TPM responses.
func TestRawConnFraming(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	c := &rawConn{Conn: client}
	resp := append([]byte{0x80, 0x01, 0, 0, 0, 20, 0, 0, 0, 0}, []byte("0123456789")...)
	go func() {
		for _, piece := range [][]byte{resp[:3], resp[3:11], resp[11:]} {
			server.Write(piece)
		}
		server.Write([]byte{0x80, 0x01, 0xff, 0xff, 0xff, 0xff})
		server.Close()
	}()
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil || !bytes.Equal(buf[:n], resp) {
		t.Fatalf("Read = %x, %v; want the whole response %x", buf[:n], err, resp)
	}
	if _, err := c.Read(buf); !errors.Is(err, errFraming) || !isBroken(err) {
		t.Errorf("Read of a 4 GiB response = %v, want errFraming", err)
	}
}
