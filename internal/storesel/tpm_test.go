package storesel

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/mayflyhq/mayfly/attest/tpm"
	"github.com/mayflyhq/mayfly/backends"
	"github.com/mayflyhq/mayfly/internal/testpeers"
)

// startSWTPM starts an swtpm for t and points the state folder at a
// temporary one, so the store's envelopes land there.
func startSWTPM(t *testing.T) (*testpeers.SWTPM, string) {
	t.Helper()
	sw, err := testpeers.StartSWTPM(t.Context(), t.TempDir())
	if errors.Is(err, exec.ErrNotFound) && os.Getenv("MAYFLY_REQUIRE_PEERS") != "1" {
		t.Skipf("%v (run scripts/install-peers.sh)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sw.Close() })
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	return sw, filepath.Join(state, "mayfly", "tpm")
}

func report(t *testing.T, reports []Report, name string) Report {
	t.Helper()
	for _, r := range reports {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no %s in the reports %+v", name, reports)
	return Report{}
}

func TestTPMUnusable(t *testing.T) {
	opt := Options{TPM: "tcp:127.0.0.1:1"}
	r := report(t, Probe(context.Background(), opt), "tpm")
	if r.Available || !strings.Contains(r.Reason, "no usable TPM") || r.Fix == "" || r.Protection != backends.ProtectionHardware.String() {
		t.Errorf("tpm report with nothing at the address = %+v", r)
	}
	if r.Auto != (runtime.GOOS == "linux") {
		t.Errorf("tpm is auto: %v on %s", r.Auto, runtime.GOOS)
	}
	if _, err := Open(context.Background(), "tpm", opt); err == nil || !strings.Contains(err.Error(), `store "tpm" is not usable`) {
		t.Errorf("Open(tpm) = %v", err)
	}
	// "auto" falls back and still says nothing of plaintext.
	if s, err := Open(context.Background(), "auto", opt); err == nil && s.Describe().Name == "tpm" {
		t.Error("auto picked an unusable TPM")
	}
}

func TestTPMWithSWTPM(t *testing.T) {
	sw, dir := startSWTPM(t)
	opt := Options{TPM: sw.Spec()}
	// Probe leaves no connection open: swtpm serves one client at a time,
	// so a leak would make the Open below time out.
	if r := report(t, Probe(context.Background(), opt), "tpm"); !r.Available {
		t.Fatalf("tpm report = %+v", r)
	}
	name := "tpm"
	if runtime.GOOS == "linux" {
		name = "auto" // the TPM comes first
	}
	s, err := Open(context.Background(), name, opt)
	if err != nil {
		t.Fatalf("Open(%s): %v", name, err)
	}
	d := s.Describe()
	if d.Name != "tpm" || !strings.Contains(d.Detail, "IBM TPM") || !strings.Contains(d.Detail, dir) {
		t.Errorf("Describe = %+v", d)
	}
	dev := TPMOf(s)
	if dev == nil {
		t.Fatal("TPMOf(the tpm store) = nil")
	}
	t.Cleanup(func() { dev.Close() })
	ctx := context.Background()
	if err := s.Set(ctx, "session/work", []byte("refresh")); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get(ctx, "session/work"); err != nil || string(v) != "refresh" {
		t.Errorf("Get = %q, %v", v, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files in %s, want 1", len(entries), dir)
	}
	// The same connection serves the device key.
	kb, err := dev.CreateKey()
	if err != nil {
		t.Fatalf("CreateKey on the store's TPM: %v", err)
	}
	k, err := dev.LoadKey(kb)
	if err != nil {
		t.Fatal(err)
	}
	k.Close()
	if TPMOf(&Unavailable{Err: errors.New("x")}) != nil {
		t.Error("TPMOf(another store) != nil")
	}
}

// A TPM the caller opened is used as it is, and never closed by storesel.
func TestTPMDevice(t *testing.T) {
	sw, _ := startSWTPM(t)
	dev, err := tpm.Open(sw.Spec())
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	opt := Options{TPM: "tcp:127.0.0.1:1", Device: dev} // Device wins
	if r := report(t, Probe(context.Background(), opt), "tpm"); !r.Available {
		t.Fatalf("tpm report with a Device = %+v", r)
	}
	s, err := Open(context.Background(), "tpm", opt)
	if err != nil {
		t.Fatal(err)
	}
	if TPMOf(s) != dev {
		t.Error("TPMOf is not the caller's Device")
	}
	if _, err := dev.Info(context.Background()); err != nil {
		t.Errorf("the caller's Device was closed: %v", err)
	}
}
