//go:build tpmsimulator && cgo

package tpm

// Tests against the Microsoft reference TPM, compiled in by go-tpm-tools
// (cgo, OpenSSL's libcrypto): run them with
//
//	CGO_ENABLED=1 go test -tags tpmsimulator ./attest/tpm/
//
// The simulator is one per process: Get blocks until the previous one is
// closed, so these tests never run in parallel. It has no dictionary-attack
// lockout (USE_DA_USED=NO), which the fakes in tpm_test.go cover instead.

import (
	"testing"

	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/tpm2/transport"
)

// openSim returns a TPM on a fresh simulator, closed when t ends.
func openSim(t *testing.T) (*TPM, *simulator.Simulator) {
	t.Helper()
	sim, err := simulator.Get()
	if err != nil {
		t.Fatal(err)
	}
	tp := FromTransport(transport.FromReadWriter(sim), "simulator")
	t.Cleanup(func() {
		tp.Close()
		sim.Close()
	})
	return tp, sim
}

func TestSimSealUnseal(t *testing.T) {
	tp, _ := openSim(t)
	checkRoundTrip(t, tp)
}

func TestSimSigner(t *testing.T) {
	tp, _ := openSim(t)
	_, k := checkSigner(t, tp, 1000)
	checkSignerReloads(t, tp, k)
}

func TestSimInfo(t *testing.T) {
	tp, _ := openSim(t)
	checkInfo(t, tp, "MSFT") // the reference implementation's own ID
}

// Reset is a reboot: the seeds stay, loaded objects go.
func TestSimReboot(t *testing.T) {
	tp, sim := openSim(t)
	checkSurvives(t, tp, func() {
		if err := sim.Reset(); err != nil {
			t.Fatal(err)
		}
	})
}

// ManufactureReset wipes the seeds: a cleared TPM.
func TestSimCleared(t *testing.T) {
	tp, sim := openSim(t)
	checkCleared(t, tp, func() {
		if err := sim.ManufactureReset(); err != nil {
			t.Fatal(err)
		}
	})
}

// The SRK is created once per connection, not per operation.
func TestSimSRKCached(t *testing.T) {
	tp, _ := openSim(t)
	if _, err := tp.Seal([]byte("warm up")); err != nil {
		t.Fatal(err)
	}
	before := tp.Commands()
	s, err := tp.Seal([]byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tp.Unseal(s); err != nil {
		t.Fatal(err)
	}
	// Seal: StartAuthSession + Create. Unseal: Load + StartAuthSession +
	// Unseal + FlushContext.
	if n := tp.Commands() - before; n != 6 {
		t.Errorf("seal + unseal took %d commands, want 6", n)
	}
}

func BenchmarkSimSealUnseal(b *testing.B) {
	sim, err := simulator.Get()
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	tp := FromTransport(transport.FromReadWriter(sim), "simulator")
	defer tp.Close()
	key := make([]byte, 32)
	for b.Loop() {
		s, err := tp.Seal(key)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tp.Unseal(s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(tp.Commands())/float64(b.N), "cmds/op")
}
