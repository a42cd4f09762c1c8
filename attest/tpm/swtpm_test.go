package tpm

// Tests against swtpm (libtpms), a TPM in another process reached over
// TCP, as a real deployment reaches /dev/tpmrm0: restarts, replacement and
// broken connections happen there for real. They need the swtpm and
// swtpm_setup binaries (scripts/install-peers.sh): without them they skip,
// unless MAYFLY_REQUIRE_PEERS=1, as under `make test`.

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/mayflyhq/mayfly/internal/testpeers"
)

// openSWTPM starts an swtpm for t and opens it.
func openSWTPM(t *testing.T) (*TPM, *testpeers.SWTPM) {
	t.Helper()
	sw, err := testpeers.StartSWTPM(t.Context(), t.TempDir())
	if errors.Is(err, exec.ErrNotFound) && os.Getenv("MAYFLY_REQUIRE_PEERS") != "1" {
		t.Skipf("%v (run scripts/install-peers.sh)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sw.Close() })
	tp, err := Open(sw.Spec())
	if err != nil {
		t.Fatalf("Open(%s): %v", sw.Spec(), err)
	}
	t.Cleanup(func() { tp.Close() })
	return tp, sw
}

func TestSWTPMSealUnseal(t *testing.T) {
	tp, _ := openSWTPM(t)
	checkRoundTrip(t, tp)
}

func TestSWTPMSigner(t *testing.T) {
	tp, _ := openSWTPM(t)
	_, k := checkSigner(t, tp, 300)
	checkSignerReloads(t, tp, k)
}

func TestSWTPMInfo(t *testing.T) {
	tp, _ := openSWTPM(t)
	checkInfo(t, tp, "IBM")
}

// A restart on the same state is a reboot: the connection breaks, the TPM
// redials once, and old blobs and keys still work.
func TestSWTPMRestart(t *testing.T) {
	tp, sw := openSWTPM(t)
	checkSurvives(t, tp, func() {
		if err := sw.Restart(); err != nil {
			t.Fatal(err)
		}
	})
}

// A fresh state at the same address is another TPM: old blobs are lost.
func TestSWTPMReplaced(t *testing.T) {
	tp, sw := openSWTPM(t)
	checkCleared(t, tp, func() {
		if err := sw.Replace(); err != nil {
			t.Fatal(err)
		}
	})
}

// A blob from one TPM is useless on another, each up at the same time.
func TestSWTPMOtherTPM(t *testing.T) {
	a, _ := openSWTPM(t)
	b, _ := openSWTPM(t)
	s, err := a.Seal([]byte("only for a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Unseal(s); !errors.Is(err, ErrKeyLost) {
		t.Errorf("Unseal of another TPM's blob = %v, want ErrKeyLost", err)
	}
}

// When swtpm is gone for good, operations fail with ErrUnavailable after
// one redial, and nothing hangs.
func TestSWTPMGone(t *testing.T) {
	tp, sw := openSWTPM(t)
	s, err := tp.Seal([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	sw.Close()
	if _, err := tp.Unseal(s); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Unseal with swtpm stopped = %v, want ErrUnavailable", err)
	}
}

// When the connection breaks but swtpm lives on, the objects of the old
// connection are flushed after the redial: swtpm has three object slots,
// so a few leaked SRKs and keys would exhaust it (TPM_RC_OBJECT_MEMORY).
func TestSWTPMBrokenConnection(t *testing.T) {
	tp, _ := openSWTPM(t)
	s, err := tp.Seal([]byte("across reconnects"))
	if err != nil {
		t.Fatal(err)
	}
	_, k := checkSigner(t, tp, 1)
	for i := range 5 {
		tp.mu.Lock()
		tp.closer.Close() // the next command finds the connection closed
		tp.mu.Unlock()
		if got, err := tp.Unseal(s); err != nil || string(got) != "across reconnects" {
			t.Fatalf("Unseal after broken connection #%d = %q, %v", i, got, err)
		}
		d := sha256.Sum256([]byte{byte(i)})
		if _, err := k.Sign(nil, d[:], nil); err != nil {
			t.Fatalf("Sign after broken connection #%d: %v", i, err)
		}
	}
	var handles []tpm2.TPMHandle
	err = tp.do(context.Background(), func(c transport.TPM) error {
		rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapHandles, Property: uint32(tpm2.TPMHTTransient) << 24, PropertyCount: 64}.Execute(c)
		if err != nil {
			return err
		}
		l, err := rsp.CapabilityData.Data.Handles()
		if err != nil {
			return err
		}
		handles = l.Handle
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(handles) > 2 {
		t.Errorf("%d transient objects loaded after 5 reconnects (%v), want the SRK and the key", len(handles), handles)
	}
}
