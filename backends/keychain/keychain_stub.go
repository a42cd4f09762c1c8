//go:build !darwin || !cgo

package keychain

import (
	"context"
	"fmt"
	"runtime"

	"github.com/mayflyhq/mayfly/backends"
)

// Store is a store in the macOS Keychain. In this build it does not work:
// every operation returns an error matching [backends.ErrUnsupported].
type Store struct {
	service string
}

// New returns a store whose operations fail with [backends.ErrUnsupported].
func New(service string) *Store {
	return &Store{service: service}
}

// errUnsupported says why: another OS, or a macOS binary without cgo.
var errUnsupported = func() error {
	if runtime.GOOS == "darwin" {
		return fmt.Errorf("this binary was built without cgo (CGO_ENABLED=0), and the Keychain is reached through cgo: rebuild with CGO_ENABLED=1: %w", backends.ErrUnsupported)
	}
	return fmt.Errorf("the macOS Keychain exists only on macOS, not %s: %w", runtime.GOOS, backends.ErrUnsupported)
}()

// Available returns an error matching [backends.ErrUnsupported].
func Available() error {
	return fmt.Errorf("keychain: %w", errUnsupported)
}

// Get returns an error matching [backends.ErrUnsupported].
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	return nil, fmt.Errorf("keychain: get %q: %w", key, errUnsupported)
}

// Set returns an error matching [backends.ErrUnsupported].
func (s *Store) Set(ctx context.Context, key string, value []byte) error {
	return fmt.Errorf("keychain: set %q: %w", key, errUnsupported)
}

// Delete returns an error matching [backends.ErrUnsupported].
func (s *Store) Delete(ctx context.Context, key string) error {
	return fmt.Errorf("keychain: delete %q: %w", key, errUnsupported)
}

// List returns an error matching [backends.ErrUnsupported].
func (s *Store) List(ctx context.Context) ([]string, error) {
	return nil, fmt.Errorf("keychain: list: %w", errUnsupported)
}

// Describe reports the store, and that it does not work in this build.
func (s *Store) Describe() backends.Description {
	why := "not supported on " + runtime.GOOS
	if runtime.GOOS == "darwin" {
		why = "not supported by this build (no cgo)"
	}
	return backends.Description{
		Name:       "keychain",
		Protection: backends.ProtectionOSUser,
		Detail:     "macOS login keychain; " + why,
	}
}
