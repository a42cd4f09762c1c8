package testpeers

import (
	"errors"
	"os"
	"os/exec"
	"testing"
)

// startSWTPM starts swtpm for t, skipping when it is not installed unless
// MAYFLY_REQUIRE_PEERS=1 (as under `make test`).
func startSWTPM(t *testing.T) *SWTPM {
	t.Helper()
	s, err := StartSWTPM(t.Context(), t.TempDir())
	if errors.Is(err, exec.ErrNotFound) && os.Getenv("MAYFLY_REQUIRE_PEERS") != "1" {
		t.Skipf("%v (run scripts/install-peers.sh)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSWTPMLifecycle(t *testing.T) {
	s := startSWTPM(t)
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("ping after start: %v", err)
	}
	spec, state := s.Spec(), s.StateDir()
	if err := s.Restart(); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if s.Spec() != spec || s.StateDir() != state {
		t.Errorf("Restart moved the TPM: %s %s, was %s %s", s.Spec(), s.StateDir(), spec, state)
	}
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("ping after Restart: %v", err)
	}
	if err := s.Replace(); err != nil {
		t.Fatalf("Replace: %v", err)
	}
	if s.Spec() != spec || s.StateDir() == state {
		t.Errorf("Replace: spec %s state %s; want the same address and a new state", s.Spec(), s.StateDir())
	}
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("ping after Replace: %v", err)
	}
	s.Close()
	if err := ping(s.Addr()); err == nil {
		t.Error("swtpm still answers after Close")
	}
	s.Close() // twice is fine
}
