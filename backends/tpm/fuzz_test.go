package tpm

import (
	"context"
	"errors"
	"testing"

	"github.com/mayflyhq/mayfly/backends"
)

// FuzzEnvelope: whatever a file holds, Get never panics and never returns
// a value the store did not write. A damaged envelope is reported as lost
// and removed; anything else is left alone.
func FuzzEnvelope(f *testing.F) {
	s, _, m := newStore(f)
	if err := s.Set(context.Background(), "k", []byte("value")); err != nil {
		f.Fatal(err)
	}
	good, _ := m.Get(context.Background(), "k")
	f.Add(good)
	f.Add([]byte(`{"v":1,"alg":"A256GCM","key":"k","seal":{"pub":"","priv":""},"nonce":"","ct":""}`))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`{"v":1e999}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ctx := context.Background()
		s, _, m := newStore(t)
		m.Set(ctx, "k", raw)
		v, err := s.Get(ctx, "k")
		if err == nil {
			t.Fatalf("Get of an envelope this store never wrote = %q", v)
		}
		_, gone := m.Get(ctx, "k")
		if lost := errors.Is(err, backends.ErrKeyLost); lost != errors.Is(gone, backends.ErrNotFound) {
			t.Fatalf("Get = %v, but the entry gone: %v", err, gone)
		}
	})
}
