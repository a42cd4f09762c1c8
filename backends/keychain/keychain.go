// Package keychain stores values in the macOS Keychain, as generic password
// items in the user's default (login) keychain.
//
// A [Store] keeps the value of key k in the generic password item whose
// service is the store's service (by default "mayfly"; see
// [DefaultService]) and whose account is k. Items are written through
// Security.framework (SecItemAdd, SecItemUpdate, SecItemCopyMatching,
// SecItemDelete) by way of github.com/keybase/go-keychain, never through
// /usr/bin/security, so that the value never appears on a command line and
// the item's access list names the Mayfly binary rather than a tool any
// process can run. Items are marked not synchronizable (they never go to
// iCloud Keychain) and accessible after first unlock on this device only
// (an attribute macOS enforces in its data-protection keychain, not in the
// file-based login keychain). An item's data is the value behind a
// one-byte format tag.
//
// The Keychain encrypts items with the user's login password; processes of
// the same user can read them, though macOS asks the user first when the
// item's access list does not name the reading application, hence
// [backends.ProtectionOSUser]. A rebuilt or updated Mayfly binary that is
// not signed by the same identity counts as another application: macOS
// asks once ("Always Allow") before it reads items the old binary wrote.
//
// Over SSH, or in any session without access to the user's login window,
// a locked login keychain cannot be unlocked by a dialog: operations then
// fail with an error matching [ErrInteractionNotAllowed], which says to
// run `security unlock-keychain` or to sign in at the console.
//
// The Keychain is reached through cgo. In a binary built without cgo
// (CGO_ENABLED=0), or on another OS, every operation returns an error
// matching [backends.ErrUnsupported].
//
// A store follows the contract of [github.com/mayflyhq/mayfly/backends];
// [Available] reports whether the Keychain answers this process.
package keychain

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mayflyhq/mayfly/backends"
)

// DefaultService is the service attribute of Mayfly's items.
const DefaultService = "mayfly"

// maxServiceLen bounds the service attribute; it has no documented limit,
// and nothing needs a long one.
const maxServiceLen = 256

// ErrInteractionNotAllowed means that the Keychain needs the user (to
// unlock the login keychain, or to confirm access to an item) and this
// session cannot show a dialog: errSecInteractionNotAllowed, typically over
// SSH with a locked login keychain.
// https://developer.apple.com/documentation/security/errsecinteractionnotallowed
var ErrInteractionNotAllowed = errors.New("the login keychain is locked and this session cannot unlock it (SSH?): run `security unlock-keychain` or sign in at the console")

// OSStatus result codes from Security.framework's SecBase.h that the store
// acts on. https://developer.apple.com/documentation/security/security-framework-result-codes
// (keychain_darwin_test.go checks those that go-keychain names against the
// SDK's values on macOS.)
const (
	errSecUserCanceled          = -128
	errSecNotAvailable          = -25291
	errSecAuthFailed            = -25293
	errSecNoSuchKeychain        = -25294
	errSecDuplicateItem         = -25299
	errSecItemNotFound          = -25300
	errSecNoDefaultKeychain     = -25307
	errSecInteractionNotAllowed = -25308
	errSecMissingEntitlement    = -34018
)

// statusError returns the error to wrap for the failed Security call whose
// result code is status; cause is the library's error for it.
func statusError(status int, cause error) error {
	switch status {
	case errSecItemNotFound:
		return backends.ErrNotFound
	case errSecInteractionNotAllowed:
		return fmt.Errorf("%w (%w)", ErrInteractionNotAllowed, cause)
	case errSecNotAvailable, errSecNoSuchKeychain, errSecNoDefaultKeychain:
		// No keychain to use: a daemon outside any user session, or a
		// user whose login keychain is missing.
		return fmt.Errorf("this session has no default keychain (a daemon, or a missing login keychain?): %w: %w", backends.ErrUnsupported, cause)
	case errSecMissingEntitlement:
		return fmt.Errorf("the keychain refused this unsigned program: %w: %w", backends.ErrUnsupported, cause)
	case errSecUserCanceled, errSecAuthFailed:
		return fmt.Errorf("access to the keychain item was denied (or its dialog canceled): %w", cause)
	}
	return cause
}

// checkService reports whether service can name a store's items.
func checkService(service string) error {
	switch {
	case service == "":
		return errors.New("empty service")
	case len(service) > maxServiceLen:
		return fmt.Errorf("service of %d bytes, more than %d", len(service), maxServiceLen)
	case !utf8.ValidString(service) || strings.IndexByte(service, 0) >= 0:
		return fmt.Errorf("service %q: not valid UTF-8 without NUL", service)
	}
	return nil
}

// formatV1 is the first byte of every item's data: version 1, the value
// follows verbatim. Apart from versioning, it keeps the data of an empty
// value non-empty, so that it never meets the corner cases of zero-length
// kSecValueData (an item without data, a query that returns no data).
const formatV1 = 0x01

// encodeValue returns the item data for value.
func encodeValue(value []byte) []byte {
	data := make([]byte, 1+len(value))
	data[0] = formatV1
	copy(data[1:], value)
	return data
}

// decodeValue returns the value in an item's data, as a new slice.
func decodeValue(data []byte) ([]byte, error) {
	if len(data) == 0 || data[0] != formatV1 {
		return nil, errors.New("unrecognized item data (not written by Mayfly): delete the item or set the key again")
	}
	return append([]byte{}, data[1:]...), nil
}
