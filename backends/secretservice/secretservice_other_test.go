//go:build !linux && !freebsd

package secretservice_test

import (
	"errors"
	"testing"

	"github.com/mayflyhq/mayfly/backends"
	"github.com/mayflyhq/mayfly/backends/backendtest"
	"github.com/mayflyhq/mayfly/backends/secretservice"
)

var _ backendtest.Store = (*secretservice.Store)(nil)

func TestUnsupported(t *testing.T) {
	s := secretservice.New(secretservice.Options{})
	if err := s.Available(t.Context()); !errors.Is(err, backends.ErrUnsupported) {
		t.Errorf("Available() = %v, want an error matching backends.ErrUnsupported", err)
	}
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
	if d := s.Describe(); d.Name != "secret-service" || d.Protection != backends.ProtectionOSUser {
		t.Errorf("Describe() = %+v", d)
	}
}
