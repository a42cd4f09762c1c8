package keychain

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/mayflyhq/mayfly/backends"
)

// libError stands in for go-keychain's error type, which exists only in
// darwin cgo builds.
type libError int

func (e libError) Error() string { return "keychain error" }

func TestStatusError(t *testing.T) {
	tests := []struct {
		status int
		is     []error // the returned error matches each
		isNot  []error
		text   string // in the message
	}{
		{errSecItemNotFound, []error{backends.ErrNotFound}, []error{ErrInteractionNotAllowed, backends.ErrUnsupported}, ""},
		{errSecInteractionNotAllowed, []error{ErrInteractionNotAllowed, libError(errSecInteractionNotAllowed)}, []error{backends.ErrNotFound, backends.ErrUnsupported}, "security unlock-keychain"},
		{errSecNoSuchKeychain, []error{backends.ErrUnsupported}, []error{backends.ErrNotFound}, "no default keychain"},
		{errSecNoDefaultKeychain, []error{backends.ErrUnsupported}, nil, "no default keychain"},
		{errSecNotAvailable, []error{backends.ErrUnsupported}, nil, "no default keychain"},
		{errSecMissingEntitlement, []error{backends.ErrUnsupported}, nil, "unsigned"},
		{errSecUserCanceled, []error{libError(errSecUserCanceled)}, []error{backends.ErrNotFound, backends.ErrUnsupported}, "denied"},
		{errSecAuthFailed, []error{libError(errSecAuthFailed)}, []error{backends.ErrNotFound, backends.ErrUnsupported}, "denied"},
		{errSecDuplicateItem, []error{libError(errSecDuplicateItem)}, []error{backends.ErrNotFound}, ""},
		{-50, []error{libError(-50)}, []error{backends.ErrNotFound, backends.ErrUnsupported, ErrInteractionNotAllowed}, ""},
	}
	for _, tt := range tests {
		err := statusError(tt.status, libError(tt.status))
		for _, target := range tt.is {
			if !errors.Is(err, target) {
				t.Errorf("statusError(%d) = %v, does not match %v", tt.status, err, target)
			}
		}
		for _, target := range tt.isNot {
			if errors.Is(err, target) {
				t.Errorf("statusError(%d) = %v, matches %v", tt.status, err, target)
			}
		}
		if !strings.Contains(err.Error(), tt.text) {
			t.Errorf("statusError(%d) = %q, does not say %q", tt.status, err, tt.text)
		}
	}
}

func TestInteractionMessage(t *testing.T) {
	// The message users see over SSH with a locked keychain.
	want := "the login keychain is locked and this session cannot unlock it (SSH?): run `security unlock-keychain` or sign in at the console"
	if ErrInteractionNotAllowed.Error() != want {
		t.Errorf("ErrInteractionNotAllowed = %q, want %q", ErrInteractionNotAllowed, want)
	}
}

func TestValueFormat(t *testing.T) {
	for _, v := range [][]byte{nil, {}, {0}, []byte("refresh-token"), bytes.Repeat([]byte{0xff}, 16<<10)} {
		data := encodeValue(v)
		if len(data) != 1+len(v) || data[0] != formatV1 {
			t.Fatalf("encodeValue(%d bytes) = %d bytes starting %x", len(v), len(data), data[:1])
		}
		got, err := decodeValue(data)
		if err != nil || got == nil || !bytes.Equal(got, v) {
			t.Fatalf("decodeValue(encodeValue(%d bytes)) = %d bytes (nil: %v), %v", len(v), len(got), got == nil, err)
		}
		// The value does not alias the item data, which the store clears.
		if len(got) > 0 {
			data[1] ^= 1
			if got[0] == data[1] {
				t.Fatal("decodeValue returned a slice of its input")
			}
		}
	}
	for _, data := range [][]byte{nil, {}, []byte("plain password"), {0x02, 'v'}} {
		if v, err := decodeValue(data); err == nil {
			t.Errorf("decodeValue(%q) = %q, nil; want an error", data, v)
		}
	}
}

func TestCheckService(t *testing.T) {
	for _, ok := range []string{DefaultService, "mayfly-test-abc", "ключ"} {
		if err := checkService(ok); err != nil {
			t.Errorf("checkService(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a\x00b", "\xff", strings.Repeat("s", maxServiceLen+1)} {
		if err := checkService(bad); err == nil {
			t.Errorf("checkService(%q) = nil, want an error", bad)
		}
	}
}
