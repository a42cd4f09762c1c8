//go:build tpmsimulator && cgo

package tpm

// The store on the Microsoft reference TPM (go-tpm-tools' in-process
// simulator, cgo): run with
//
//	CGO_ENABLED=1 go test -tags tpmsimulator ./backends/tpm/
//
// The simulator is one per process, so nothing here runs in parallel.

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/tpm2/transport"

	tpmdev "github.com/mayflyhq/mayfly/attest/tpm"
	"github.com/mayflyhq/mayfly/backends"
	"github.com/mayflyhq/mayfly/backends/backendtest"
)

func openSim(t *testing.T) (*tpmdev.TPM, *simulator.Simulator) {
	t.Helper()
	sim, err := simulator.Get()
	if err != nil {
		t.Fatal(err)
	}
	tp := tpmdev.FromTransport(transport.FromReadWriter(sim), "simulator")
	t.Cleanup(func() {
		tp.Close()
		sim.Close()
	})
	return tp, sim
}

func TestSimConformance(t *testing.T) {
	tp, _ := openSim(t)
	backendtest.Run(t, func(t *testing.T) backendtest.Store {
		s, err := Open(tp, filepath.Join(t.TempDir(), "tpm"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestSimCleared(t *testing.T) {
	tp, sim := openSim(t)
	dirPath := filepath.Join(t.TempDir(), "tpm")
	s, err := Open(tp, dirPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Set(ctx, "session/work", []byte("refresh-token-sim")); err != nil {
		t.Fatal(err)
	}
	checkOnDisk(t, dirPath, map[string][]byte{"session/work": []byte("refresh-token-sim")})
	if err := sim.ManufactureReset(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "session/work"); !errors.Is(err, backends.ErrKeyLost) {
		t.Fatalf("Get after the TPM was cleared = %v, want ErrKeyLost", err)
	}
	if _, err := s.Get(ctx, "session/work"); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("Get again = %v, want ErrNotFound", err)
	}
}
