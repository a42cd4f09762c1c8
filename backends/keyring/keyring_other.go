//go:build !linux

package keyring

import (
	"context"
	"fmt"
	"runtime"

	"github.com/mayflyhq/mayfly/backends"
)

// Store is a store in the kernel user keyring. On this system it does not
// work: every operation returns an error matching [backends.ErrUnsupported].
type Store struct{}

// New returns a store whose operations fail with [backends.ErrUnsupported].
func New(prefix string) *Store {
	return &Store{}
}

var errUnsupported = fmt.Errorf("the kernel keyring exists only on Linux, not %s: %w", runtime.GOOS, backends.ErrUnsupported)

// Available returns an error matching [backends.ErrUnsupported].
func Available() error {
	return fmt.Errorf("keyring: %w", errUnsupported)
}

// Get returns an error matching [backends.ErrUnsupported].
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	return nil, fmt.Errorf("keyring: get %q: %w", key, errUnsupported)
}

// Set returns an error matching [backends.ErrUnsupported].
func (s *Store) Set(ctx context.Context, key string, value []byte) error {
	return fmt.Errorf("keyring: set %q: %w", key, errUnsupported)
}

// Delete returns an error matching [backends.ErrUnsupported].
func (s *Store) Delete(ctx context.Context, key string) error {
	return fmt.Errorf("keyring: delete %q: %w", key, errUnsupported)
}

// List returns an error matching [backends.ErrUnsupported].
func (s *Store) List(ctx context.Context) ([]string, error) {
	return nil, fmt.Errorf("keyring: list: %w", errUnsupported)
}

// Describe reports the store, and that it does not work on this system.
func (s *Store) Describe() backends.Description {
	return backends.Description{
		Name:       "kernel-keyring",
		Protection: backends.ProtectionOSUser,
		Detail:     fmt.Sprintf("Linux kernel user keyring; not supported on %s", runtime.GOOS),
	}
}
