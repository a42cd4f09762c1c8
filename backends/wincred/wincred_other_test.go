//go:build !windows

package wincred_test

import (
	"errors"
	"testing"

	"github.com/mayflyhq/mayfly/backends"
	"github.com/mayflyhq/mayfly/backends/wincred"
)

func TestUnsupported(t *testing.T) {
	if err := wincred.Available(); !errors.Is(err, backends.ErrUnsupported) {
		t.Errorf("Available() = %v, want an error matching backends.ErrUnsupported", err)
	}
	for _, prefix := range []string{wincred.DefaultPrefix, ""} {
		s := wincred.New(prefix)
		if _, err := s.Get(t.Context(), "k"); !errors.Is(err, backends.ErrUnsupported) {
			t.Errorf("Get = %v, want an error matching backends.ErrUnsupported", err)
		}
		if err := s.Set(t.Context(), "k", []byte("v")); !errors.Is(err, backends.ErrUnsupported) {
			t.Errorf("Set = %v, want an error matching backends.ErrUnsupported", err)
		}
		if err := s.Delete(t.Context(), "k"); !errors.Is(err, backends.ErrUnsupported) {
			t.Errorf("Delete = %v, want an error matching backends.ErrUnsupported", err)
		}
		if _, err := s.List(t.Context()); !errors.Is(err, backends.ErrUnsupported) {
			t.Errorf("List = %v, want an error matching backends.ErrUnsupported", err)
		}
	}
}
