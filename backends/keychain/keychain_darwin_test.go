//go:build darwin && cgo

package keychain

// Tests that need the Security framework's headers but do not touch the
// Keychain; they run on every macOS build with cgo. The tests that write
// to the login keychain are in keychaintest_darwin_test.go.

import (
	"errors"
	"testing"

	gokeychain "github.com/keybase/go-keychain"

	"github.com/mayflyhq/mayfly/backends"
	"github.com/mayflyhq/mayfly/backends/backendtest"
)

var _ backendtest.Store = (*Store)(nil)

// TestStatusCodes checks the result codes in keychain.go, which every OS
// compiles, against the SDK's, which go-keychain exposes.
func TestStatusCodes(t *testing.T) {
	tests := []struct {
		name string
		ours int
		sdk  gokeychain.Error
	}{
		{"errSecUserCanceled", errSecUserCanceled, gokeychain.ErrorUserCanceled},
		{"errSecNotAvailable", errSecNotAvailable, gokeychain.ErrorNotAvailable},
		{"errSecAuthFailed", errSecAuthFailed, gokeychain.ErrorAuthFailed},
		{"errSecNoSuchKeychain", errSecNoSuchKeychain, gokeychain.ErrorNoSuchKeychain},
		{"errSecDuplicateItem", errSecDuplicateItem, gokeychain.ErrorDuplicateItem},
		{"errSecItemNotFound", errSecItemNotFound, gokeychain.ErrorItemNotFound},
		{"errSecInteractionNotAllowed", errSecInteractionNotAllowed, gokeychain.ErrorInteractionNotAllowed},
	}
	for _, tt := range tests {
		if tt.ours != int(tt.sdk) {
			t.Errorf("%s = %d here, %d in the SDK", tt.name, tt.ours, int(tt.sdk))
		}
	}
}

func TestMapErr(t *testing.T) {
	err := mapErr(gokeychain.ErrorInteractionNotAllowed)
	if !errors.Is(err, ErrInteractionNotAllowed) || !errors.Is(err, gokeychain.ErrorInteractionNotAllowed) {
		t.Errorf("mapErr(errSecInteractionNotAllowed) = %v", err)
	}
	if err := mapErr(gokeychain.ErrorItemNotFound); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("mapErr(errSecItemNotFound) = %v", err)
	}
}

// TestBadService checks that a store with a bad service fails before it
// reaches the Keychain.
func TestBadService(t *testing.T) {
	s := New("")
	if _, err := s.Get(t.Context(), "k"); err == nil {
		t.Error("Get with an empty service succeeded")
	}
	if err := s.Set(t.Context(), "k", []byte("v")); err == nil {
		t.Error("Set with an empty service succeeded")
	}
	if err := s.Delete(t.Context(), "k"); err == nil {
		t.Error("Delete with an empty service succeeded")
	}
	if _, err := s.List(t.Context()); err == nil {
		t.Error("List with an empty service succeeded")
	}
}
