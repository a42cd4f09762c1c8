// Package memory provides a store that keeps values in process memory.
//
// A [Store] forgets everything when the process exits. It is meant for tests
// and for callers that want a token to live no longer than the process. It
// follows the contract of [github.com/mayflyhq/mayfly/backends].
package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/mayflyhq/mayfly/backends"
)

// Store is an in-memory store. The zero value is not ready for use; call
// [New]. A Store is safe for concurrent use.
type Store struct {
	mu sync.RWMutex
	m  map[string][]byte
}

// New returns an empty store.
func New() *Store {
	return &Store{m: make(map[string][]byte)}
}

// Get returns a copy of the value stored under key. It returns an error
// matching [backends.ErrNotFound] if there is none.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := check(ctx, key); err != nil {
		return nil, fmt.Errorf("memory: get %q: %w", key, err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.m[key]
	if !ok {
		return nil, fmt.Errorf("memory: get %q: %w", key, backends.ErrNotFound)
	}
	return append([]byte{}, v...), nil
}

// Set stores a copy of value under key, replacing any previous value.
func (s *Store) Set(ctx context.Context, key string, value []byte) error {
	if err := check(ctx, key); err != nil {
		return fmt.Errorf("memory: set %q: %w", key, err)
	}
	v := append([]byte{}, value...)
	s.mu.Lock()
	defer s.mu.Unlock()
	// Readers copy under the read lock, so nobody else holds the old slice:
	// wipe it rather than leave a secret for the garbage collector.
	clear(s.m[key])
	s.m[key] = v
	return nil
}

// Delete removes key. It returns an error matching [backends.ErrNotFound] if
// there is nothing to remove.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := check(ctx, key); err != nil {
		return fmt.Errorf("memory: delete %q: %w", key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok {
		return fmt.Errorf("memory: delete %q: %w", key, backends.ErrNotFound)
	}
	clear(v)
	delete(s.m, key)
	return nil
}

// List returns the stored keys in sorted order.
func (s *Store) List(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: list: %w", err)
	}
	s.mu.RLock()
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	s.mu.RUnlock()
	slices.Sort(keys)
	return keys, nil
}

// Describe reports that values live in process memory only.
func (s *Store) Describe() backends.Description {
	return backends.Description{
		Name:       "memory",
		Protection: backends.ProtectionMemory,
		Detail:     "process memory; entries are lost when the process exits",
	}
}

func check(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return backends.ValidKey(key)
}
