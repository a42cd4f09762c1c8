//go:build windows && wincredtest

package wincred_test

// These tests write to the real Credential Manager of the user running
// them, under a prefix of their own that they empty again. They run only
// with -tags wincredtest (CI's Windows runner sets it):
//
//	go test -tags wincredtest ./backends/wincred/...

import (
	"bytes"
	"context"
	"crypto/rand"
	"slices"
	"testing"

	winc "github.com/danieljoos/wincred"

	"github.com/mayflyhq/mayfly/backends/backendtest"
	"github.com/mayflyhq/mayfly/backends/wincred"
)

// testPrefix returns a prefix no other run uses, and checks when the test
// ends that no credential under it is left, parts included.
func testPrefix(t *testing.T) string {
	t.Helper()
	if err := wincred.Available(); err != nil {
		t.Fatalf("Credential Manager is not available to this process: %v", err)
	}
	p := "mayfly-test-" + rand.Text()[:12] + ":"
	t.Cleanup(func() {
		creds, err := winc.FilteredList(p + "*")
		if err != nil {
			t.Errorf("FilteredList(%q) after the test: %v", p+"*", err)
			return
		}
		for _, c := range creds {
			t.Errorf("test left credential %q", c.TargetName)
			_ = winc.NewGenericCredential(c.TargetName).Delete()
		}
	})
	return p
}

func TestConformance(t *testing.T) {
	p := testPrefix(t)
	backendtest.Run(t, func(t *testing.T) backendtest.Store { return wincred.New(p) })
}

// TestTargetNamesIgnoreCase checks the property of Credential Manager that
// the key encoding exists for: two names that differ only in case are one
// credential.
func TestTargetNamesIgnoreCase(t *testing.T) {
	p := testPrefix(t)
	c := winc.NewGenericCredential(p + "CaseProbe")
	c.CredentialBlob = []byte("probe")
	c.Persist = winc.PersistLocalMachine
	if err := c.Write(); err != nil {
		t.Fatal(err)
	}
	defer c.Delete()
	got, err := winc.GetGenericCredential(p + "caseprobe")
	if err != nil {
		t.Fatalf("reading %q back as %q: %v (Credential Manager is case-sensitive after all?)", p+"CaseProbe", p+"caseprobe", err)
	}
	if string(got.CredentialBlob) != "probe" {
		t.Fatalf("read %q", got.CredentialBlob)
	}
}

// TestSplitOnCredentialManager checks how a large value lands: a header
// and parts, each within CredentialBlob's limit, all persisted for the
// local machine (not roaming), and all gone after Delete.
func TestSplitOnCredentialManager(t *testing.T) {
	ctx := context.Background()
	p := testPrefix(t)
	s := wincred.New(p)
	v := make([]byte, 16<<10)
	rand.Read(v)
	if err := s.Set(ctx, "Big/Value", v); err != nil {
		t.Fatal(err)
	}
	defer s.Delete(ctx, "Big/Value")

	creds, err := winc.FilteredList(p + "*")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range creds {
		names = append(names, c.TargetName)
		if len(c.CredentialBlob) > 2560 {
			t.Errorf("%q holds %d bytes", c.TargetName, len(c.CredentialBlob))
		}
		if c.Persist != winc.PersistLocalMachine {
			t.Errorf("%q persists as %d, want CRED_PERSIST_LOCAL_MACHINE (%d)", c.TargetName, c.Persist, winc.PersistLocalMachine)
		}
	}
	slices.Sort(names)
	want := []string{p + "%42ig/%56alue"}
	for i := 1; i <= 7; i++ {
		want = append(want, p+"%42ig/%56alue#"+string(rune('0'+i)))
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("credentials = %q, want %q", names, want)
	}

	got, err := s.Get(ctx, "Big/Value")
	if err != nil || !bytes.Equal(got, v) {
		t.Fatalf("Get = %d bytes, %v", len(got), err)
	}
	if err := s.Delete(ctx, "Big/Value"); err != nil {
		t.Fatal(err)
	}
	if creds, err := winc.FilteredList(p + "*"); err != nil || len(creds) > 0 {
		t.Fatalf("after Delete: %d credentials, %v", len(creds), err)
	}
}
