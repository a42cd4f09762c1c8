//go:build !linux && !freebsd

package secretservice

import (
	"context"
	"fmt"
	"runtime"

	"github.com/mayflyhq/mayfly/backends"
)

// Store is a store in the Secret Service. On this system it does not work:
// every operation returns an error matching [backends.ErrUnsupported].
type Store struct{}

// New returns a store whose operations fail with [backends.ErrUnsupported].
func New(opts Options) *Store {
	return &Store{}
}

var errUnsupported = fmt.Errorf("the Secret Service is used only on Linux and FreeBSD, not %s: %w", runtime.GOOS, backends.ErrUnsupported)

// Available returns an error matching [backends.ErrUnsupported].
func (s *Store) Available(ctx context.Context) error {
	return fmt.Errorf("secretservice: %w", errUnsupported)
}

// Get returns an error matching [backends.ErrUnsupported].
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	return nil, fmt.Errorf("secretservice: get %q: %w", key, errUnsupported)
}

// Set returns an error matching [backends.ErrUnsupported].
func (s *Store) Set(ctx context.Context, key string, value []byte) error {
	return fmt.Errorf("secretservice: set %q: %w", key, errUnsupported)
}

// Delete returns an error matching [backends.ErrUnsupported].
func (s *Store) Delete(ctx context.Context, key string) error {
	return fmt.Errorf("secretservice: delete %q: %w", key, errUnsupported)
}

// List returns an error matching [backends.ErrUnsupported].
func (s *Store) List(ctx context.Context) ([]string, error) {
	return nil, fmt.Errorf("secretservice: list: %w", errUnsupported)
}

// Describe reports the store, and that it does not work on this system.
func (s *Store) Describe() backends.Description {
	return backends.Description{
		Name:       "secret-service",
		Protection: backends.ProtectionOSUser,
		Detail:     fmt.Sprintf("freedesktop.org Secret Service over D-Bus; not supported on %s", runtime.GOOS),
	}
}
