//go:build !windows

package wincred

import (
	"fmt"
	"runtime"

	"github.com/mayflyhq/mayfly/backends"
)

var errUnsupported = fmt.Errorf("the Windows Credential Manager exists only on Windows, not %s: %w", runtime.GOOS, backends.ErrUnsupported)

// New returns a store whose operations fail with [backends.ErrUnsupported]:
// Credential Manager exists only on Windows.
func New(prefix string) *Store {
	s := newStore(prefix, nil)
	s.err = errUnsupported // whatever the prefix, so that callers fall back
	return s
}

// Available returns an error matching [backends.ErrUnsupported].
func Available() error {
	return fmt.Errorf("wincred: %w", errUnsupported)
}

func detail(prefix string) string {
	return fmt.Sprintf("Windows Credential Manager; not supported on %s", runtime.GOOS)
}
