package tpm

import (
	"context"
	"crypto/sha256"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// FuzzSpec: parseSpec never panics, and what it accepts has a kind Open
// knows.
func FuzzSpec(f *testing.F) {
	for _, s := range []string{"", "/dev/tpmrm0", "tcp:127.0.0.1:2321", "tcp:[::1]:0", "unix:/s", "mssim:h:65535", "x:", ":", "tcp:::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := parseSpec(s)
		if err != nil {
			return
		}
		switch sp.kind {
		case "default", "device", "tcp", "unix", "mssim":
		default:
			t.Fatalf("parseSpec(%q) = kind %q", s, sp.kind)
		}
	})
}

// FuzzBlob: a blob read from disk, however damaged, never makes Unseal or
// LoadKey panic, and is never accepted by a TPM that refuses it: the
// error is ErrKeyLost (the blob is useless) or the TPM's own refusal.
func FuzzBlob(f *testing.F) {
	pub := tpm2.Marshal(tpm2.New2B(sealTemplate))
	key := tpm2.Marshal(tpm2.New2B(keyTemplate))
	f.Add(pub, []byte{0, 2, 1, 2})
	f.Add(key, []byte{0, 0})
	f.Add([]byte{0, 0}, []byte{0, 0})
	f.Add([]byte{0xff, 0xff}, []byte{})
	f.Fuzz(func(t *testing.T, public, private []byte) {
		tp := FromTransport(&fakeTPM{answer: func(cmd []byte) ([]byte, error) {
			// Create the SRK only to have Load refuse the blob.
			return rcAnswer(rcParam(tpm2.TPMRCIntegrity, 1)), nil
		}}, "fake")
		defer tp.Close()
		if v, err := tp.Unseal(&Sealed{Public: public, Private: private}); err == nil {
			t.Fatalf("Unseal succeeded: %x", v)
		}
		if _, err := tp.LoadKey(&KeyBlob{Public: public, Private: private}); err == nil {
			t.Fatal("LoadKey succeeded")
		}
	})
}

// FuzzAnswer: no answer of a TPM makes the package panic, whatever the
// command.
func FuzzAnswer(f *testing.F) {
	f.Add([]byte{0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0})
	f.Add(rcAnswer(tpm2.TPMRCLockout))
	f.Add([]byte{0x80, 0x01, 0, 0, 0, 0x1b, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 1, 0, 0, 1, 0x05, 0x49, 0x42, 0x4d, 0})
	f.Fuzz(func(t *testing.T, answer []byte) {
		tp := FromTransport(&fakeTPM{answer: func([]byte) ([]byte, error) { return answer, nil }}, "fake")
		defer tp.Close()
		tp.Info(context.Background())
		tp.Seal(make([]byte, 32))
		kb, err := tp.CreateKey()
		if err == nil {
			if k, err := tp.LoadKey(kb); err == nil {
				d := sha256.Sum256(nil)
				k.Sign(nil, d[:], nil)
			}
		}
		tp.Unseal(&Sealed{Public: tpm2.Marshal(tpm2.New2B(sealTemplate)), Private: []byte{0, 1, 0}})
	})
}
