package tpm

// The store on swtpm, a TPM in another process (see
// internal/testpeers.StartSWTPM). Without swtpm these tests skip, unless
// MAYFLY_REQUIRE_PEERS=1, as under `make test`.

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	tpmdev "github.com/mayflyhq/mayfly/attest/tpm"
	"github.com/mayflyhq/mayfly/backends"
	"github.com/mayflyhq/mayfly/backends/backendtest"
	"github.com/mayflyhq/mayfly/internal/testpeers"
)

// openSWTPM starts an swtpm for t and opens it.
func openSWTPM(t *testing.T) (*tpmdev.TPM, *testpeers.SWTPM) {
	t.Helper()
	sw, err := testpeers.StartSWTPM(t.Context(), t.TempDir())
	if errors.Is(err, exec.ErrNotFound) && os.Getenv("MAYFLY_REQUIRE_PEERS") != "1" {
		t.Skipf("%v (run scripts/install-peers.sh)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sw.Close() })
	tp, err := tpmdev.Open(sw.Spec())
	if err != nil {
		t.Fatalf("open %s: %v", sw.Spec(), err)
	}
	t.Cleanup(func() { tp.Close() })
	return tp, sw
}

func TestSWTPMConformance(t *testing.T) {
	tp, _ := openSWTPM(t)
	backendtest.Run(t, func(t *testing.T) backendtest.Store {
		s, err := Open(tp, filepath.Join(t.TempDir(), "tpm"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// Restarting the TPM (a reboot) keeps values; replacing it (clearing it)
// loses them, and the store says so once, removes them, and starts over.
func TestSWTPMRestartAndReplace(t *testing.T) {
	tp, sw := openSWTPM(t)
	dirPath := filepath.Join(t.TempDir(), "tpm")
	s, err := Open(tp, dirPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	values := map[string][]byte{
		"session/work":  []byte("refresh-token-swtpm-0123456789"),
		"session/other": []byte("another-refresh-token-value"),
	}
	for k, v := range values {
		if err := s.Set(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	checkOnDisk(t, dirPath, values)
	if d := s.Describe(); d.Name != "tpm" || d.Protection != backends.ProtectionHardware {
		t.Errorf("Describe = %+v", d)
	}

	if err := sw.Restart(); err != nil {
		t.Fatal(err)
	}
	for k, v := range values {
		if got, err := s.Get(ctx, k); err != nil || string(got) != string(v) {
			t.Fatalf("Get(%q) after a restart = %q, %v", k, got, err)
		}
	}

	if err := sw.Replace(); err != nil {
		t.Fatal(err)
	}
	for k := range values {
		if _, err := s.Get(ctx, k); !errors.Is(err, backends.ErrKeyLost) {
			t.Errorf("Get(%q) after the TPM was replaced = %v, want ErrKeyLost", k, err)
		}
		if _, err := s.Get(ctx, k); !errors.Is(err, backends.ErrNotFound) {
			t.Errorf("Get(%q) again = %v, want ErrNotFound: the stale entry must be gone", k, err)
		}
	}
	if entries, _ := os.ReadDir(dirPath); len(entries) != 0 {
		t.Errorf("%d files left after every entry was found lost", len(entries))
	}
	if err := s.Set(ctx, "session/work", []byte("after sign-in")); err != nil {
		t.Fatalf("Set on the new TPM: %v", err)
	}
	if got, err := s.Get(ctx, "session/work"); err != nil || string(got) != "after sign-in" {
		t.Errorf("Get on the new TPM = %q, %v", got, err)
	}
}

// A copy of an envelope file is useless with another TPM.
func TestSWTPMCopiedEnvelope(t *testing.T) {
	tpA, _ := openSWTPM(t)
	tpB, _ := openSWTPM(t)
	dirA, dirB := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	a, err := Open(tpA, dirA)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(tpB, dirB)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := a.Set(ctx, "session/work", []byte("stolen-refresh-token")); err != nil {
		t.Fatal(err)
	}
	name := filepath.Base((&dir{path: dirA}).file("session/work"))
	raw, err := os.ReadFile(filepath.Join(dirA, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dirB, name), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if v, err := b.Get(ctx, "session/work"); !errors.Is(err, backends.ErrKeyLost) {
		t.Fatalf("Get of a copied envelope on another TPM = %q, %v; want ErrKeyLost", v, err)
	}
	if got, err := a.Get(ctx, "session/work"); err != nil || string(got) != "stolen-refresh-token" {
		t.Errorf("the original still reads on its own TPM: %q, %v", got, err)
	}
}
