package tpm

// Checks shared by the simulator tests (sim_test.go, tag tpmsimulator) and
// the swtpm tests (swtpm_test.go): the same behaviour, two TPMs.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// checkRoundTrip seals and unseals values of each allowed size, and checks
// that two seals of one value differ (each is a new object).
func checkRoundTrip(t *testing.T, tp *TPM) {
	t.Helper()
	for _, n := range []int{1, 32, MaxSealSize} {
		data := make([]byte, n)
		rand.Read(data)
		s, err := tp.Seal(data)
		if err != nil {
			t.Fatalf("Seal(%d bytes): %v", n, err)
		}
		// Sealed survives JSON, as the store keeps it.
		j, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back Sealed
		if err := json.Unmarshal(j, &back); err != nil {
			t.Fatal(err)
		}
		got, err := tp.Unseal(&back)
		if err != nil {
			t.Fatalf("Unseal(%d bytes): %v", n, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("Unseal = %x, want %x", got, data)
		}
		if bytes.Contains(s.Private, data) && n >= 16 {
			t.Fatalf("the private blob contains the sealed data in the clear")
		}
	}
	a, err := tp.Seal([]byte("same"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := tp.Seal([]byte("same"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Private, b.Private) {
		t.Error("two seals of one value gave the same blob")
	}
	// A blob altered by one bit is refused as lost, not unsealed.
	bad := &Sealed{Public: a.Public, Private: bytes.Clone(a.Private)}
	bad.Private[len(bad.Private)-1] ^= 1
	if _, err := tp.Unseal(bad); !errors.Is(err, ErrKeyLost) {
		t.Errorf("Unseal(altered) = %v, want ErrKeyLost", err)
	}
	// What Unseal loaded is flushed again: only the SRK stays.
	if n := len(tp.loaded); n != 1 {
		t.Errorf("%d objects left loaded after seal/unseal, want 1 (the SRK)", n)
	}
}

// checkSigner makes a device key and checks runs signatures verify with
// the standard library, which catches any R/S padding bug (one signature
// in about 128 has a short R or S).
func checkSigner(t *testing.T, tp *TPM, runs int) (*KeyBlob, *Key) {
	t.Helper()
	kb, err := tp.CreateKey()
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	k, err := tp.LoadKey(kb)
	if err != nil {
		t.Fatalf("LoadKey: %v", err)
	}
	t.Cleanup(func() { k.Close() })
	pub, ok := k.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Fatalf("Public() = %T, want a P-256 *ecdsa.PublicKey", k.Public())
	}
	for i := range runs {
		d := sha256.Sum256([]byte{byte(i), byte(i >> 8), 'm'})
		sig, err := k.Sign(rand.Reader, d[:], nil)
		if err != nil {
			t.Fatalf("Sign #%d: %v", i, err)
		}
		if !ecdsa.VerifyASN1(pub, d[:], sig) {
			t.Fatalf("signature #%d %x does not verify", i, sig)
		}
	}
	// A second key is another key.
	kb2, err := tp.CreateKey()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := tp.LoadKey(kb2)
	if err != nil {
		t.Fatal(err)
	}
	if k2.Public().(*ecdsa.PublicKey).Equal(pub) {
		t.Error("two CreateKey calls gave the same key")
	}
	k2.Close()
	return kb, k
}

// checkSignerReloads flushes the loaded key behind the Key's back and
// checks the next signature loads it again.
func checkSignerReloads(t *testing.T, tp *TPM, k *Key) {
	t.Helper()
	tp.mu.Lock()
	tpm2.FlushContext{FlushHandle: k.handle}.Execute(tp.conn)
	tp.mu.Unlock()
	d := sha256.Sum256([]byte("after flush"))
	sig, err := k.Sign(nil, d[:], nil)
	if err != nil {
		t.Fatalf("Sign after the key was flushed: %v", err)
	}
	if !ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), d[:], sig) {
		t.Fatal("signature after reload does not verify")
	}
}

// checkSurvives seals a value and loads a key, runs reboot (the TPM
// restarts with the same seeds), and checks both still work through the
// same *TPM.
func checkSurvives(t *testing.T, tp *TPM, reboot func()) {
	t.Helper()
	s, err := tp.Seal([]byte("survives a reboot"))
	if err != nil {
		t.Fatal(err)
	}
	kb, k := checkSigner(t, tp, 1)
	reboot()
	got, err := tp.Unseal(s)
	if err != nil {
		t.Fatalf("Unseal after a reboot: %v", err)
	}
	if string(got) != "survives a reboot" {
		t.Fatalf("Unseal after a reboot = %q", got)
	}
	d := sha256.Sum256([]byte("after reboot"))
	sig, err := k.Sign(nil, d[:], nil)
	if err != nil {
		t.Fatalf("Sign after a reboot: %v", err)
	}
	if !ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), d[:], sig) {
		t.Fatal("signature after a reboot does not verify")
	}
	k2, err := tp.LoadKey(kb)
	if err != nil {
		t.Fatalf("LoadKey after a reboot: %v", err)
	}
	k2.Close()
}

// checkCleared seals a value and makes a key, runs clear (the TPM gets new
// seeds: cleared, or another TPM), and checks both fail with ErrKeyLost
// only, while new seals work.
func checkCleared(t *testing.T, tp *TPM, clear func()) {
	t.Helper()
	s, err := tp.Seal([]byte("lost with the TPM"))
	if err != nil {
		t.Fatal(err)
	}
	kb, k := checkSigner(t, tp, 1)
	clear()
	if _, err := tp.Unseal(s); !errors.Is(err, ErrKeyLost) || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrLocked) {
		t.Errorf("Unseal after the TPM was cleared = %v, want ErrKeyLost only", err)
	}
	if _, err := tp.LoadKey(kb); !errors.Is(err, ErrKeyLost) {
		t.Errorf("LoadKey after the TPM was cleared = %v, want ErrKeyLost", err)
	}
	d := sha256.Sum256([]byte("after clear"))
	if _, err := k.Sign(nil, d[:], nil); !errors.Is(err, ErrKeyLost) {
		t.Errorf("Sign with a key loaded before the clear = %v, want ErrKeyLost", err)
	}
	s2, err := tp.Seal([]byte("new TPM"))
	if err != nil {
		t.Fatalf("Seal on the new TPM: %v", err)
	}
	if got, err := tp.Unseal(s2); err != nil || string(got) != "new TPM" {
		t.Fatalf("Unseal on the new TPM = %q, %v", got, err)
	}
}

// checkInfo reads Info and checks the manufacturer.
func checkInfo(t *testing.T, tp *TPM, manufacturer string) {
	t.Helper()
	info, err := tp.Info(context.Background())
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	t.Logf("Info = %+v; String = %s", info, tp)
	if info.Manufacturer != manufacturer || info.Firmware == "" || info.Path != tp.Path() {
		t.Errorf("Info = %+v, want manufacturer %q, a firmware version and path %q", info, manufacturer, tp.Path())
	}
	if _, err := tp.Probe(context.Background()); err != nil {
		t.Errorf("Probe: %v", err)
	}
}
