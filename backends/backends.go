// Package backends defines the contract shared by the stores in which Mayfly
// keeps OAuth refresh tokens, and the sentinel errors they return.
//
// Mayfly keeps refresh tokens only in stores that the operating system or
// hardware protects, never in a plaintext file. Each store lives in its own
// subpackage (for example [github.com/mayflyhq/mayfly/backends/keyring] and
// [github.com/mayflyhq/mayfly/backends/memory]) and exports a concrete type;
// interfaces are declared by the packages that consume stores.
//
// Every store follows the same contract:
//
//   - Values are opaque bytes. An empty value is a value, distinct from a
//     missing key. Stores copy values in and out: the caller may modify a
//     slice it passed to Set, or got from Get, without affecting the store.
//   - Keys are non-empty UTF-8 strings of at most [MaxKeyLen] bytes that
//     contain no NUL byte (see [ValidKey]). Keys are compared byte for byte,
//     so keys that differ only in case are distinct. Operations on an invalid
//     key fail and store nothing.
//   - Set overwrites atomically: a concurrent or later reader sees either the
//     old value or the new one, never a mix of the two.
//   - Get of a missing key returns an error matching [ErrNotFound] with
//     [errors.Is]. So does Delete of a missing key.
//   - A store that cannot hold a value returns an error matching
//     [ErrTooLarge]; a store that cannot work on this system returns an error
//     matching [ErrUnsupported].
//   - Implementations are safe for concurrent use by multiple goroutines.
//
// Stores that can enumerate their keys also implement the optional method
// List(ctx context.Context) ([]string, error), which returns the keys in
// sorted order.
//
// The conformance suite in [github.com/mayflyhq/mayfly/backends/backendtest]
// checks all of the above.
package backends

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Sentinel errors. Stores wrap them with context ("keyring: get "k": ..."), so
// match them with [errors.Is].
var (
	// ErrNotFound means the key has no value in the store.
	ErrNotFound = errors.New("backends: not found")

	// ErrUnsupported means the store cannot work on this system: wrong
	// operating system, a kernel without the feature, or access blocked by a
	// sandbox. Callers fall back to another store.
	ErrUnsupported = errors.New("backends: not supported on this system")

	// ErrTooLarge means the value does not fit in the store.
	ErrTooLarge = errors.New("backends: value too large for this store")

	// ErrKeyLost means the hardware key that protected the value is gone
	// (the TPM was cleared or replaced): the value can never be read
	// again, the store has removed it, and the cure is to sign in again.
	ErrKeyLost = errors.New("backends: the hardware key that protected this value is gone; sign in again")

	// ErrLocked means the hardware refuses for now (TPM dictionary-attack
	// lockout): retry later; nothing was removed.
	ErrLocked = errors.New("backends: the hardware is locked out for now; retry later")
)

// MaxKeyLen is the maximum length of a key in bytes.
const MaxKeyLen = 512

// ValidKey reports whether key satisfies the key rule of the package
// contract: non-empty, valid UTF-8, at most [MaxKeyLen] bytes, and no NUL
// byte. It returns nil for a valid key.
func ValidKey(key string) error {
	switch {
	case key == "":
		return errors.New("backends: invalid key: empty")
	case len(key) > MaxKeyLen:
		return fmt.Errorf("backends: invalid key: %d bytes, more than %d", len(key), MaxKeyLen)
	case strings.IndexByte(key, 0) >= 0:
		return fmt.Errorf("backends: invalid key %q: contains a NUL byte", key)
	case !utf8.ValidString(key):
		return fmt.Errorf("backends: invalid key %q: not valid UTF-8", key)
	}
	return nil
}

// Protection says who, besides Mayfly, can read what a store holds.
type Protection int

const (
	// ProtectionMemory: the value lives only in process memory and is lost
	// when the process exits.
	ProtectionMemory Protection = iota
	// ProtectionOSUser: the operating system keeps the value for the user;
	// any process running as that user can read it.
	ProtectionOSUser
	// ProtectionHardware: the value is bound to this device by a
	// non-exportable hardware key (TPM, Secure Enclave, ...).
	ProtectionHardware
)

// String returns a short human-readable name for p.
func (p Protection) String() string {
	switch p {
	case ProtectionMemory:
		return "memory"
	case ProtectionOSUser:
		return "OS user store"
	case ProtectionHardware:
		return "hardware-bound"
	}
	return fmt.Sprintf("Protection(%d)", int(p))
}

// Description identifies a store and its protection level, so that the
// active store can be reported to the user rather than silently chosen.
type Description struct {
	// Name is a short stable identifier, such as "kernel-keyring".
	Name string
	// Protection is the store's protection level.
	Protection Protection
	// Detail is a human-readable sentence, such as "Linux kernel user
	// keyring of uid 1000; entries are lost at reboot".
	Detail string
}
