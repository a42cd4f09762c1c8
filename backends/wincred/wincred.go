// Package wincred stores values in Windows Credential Manager, as generic
// credentials of the signed-in user.
//
// A [Store] keeps the value of key k in the generic credential named
// prefix + k, with k escaped as described below (by default "mayfly:" + k;
// see [DefaultPrefix]), written with
// CRED_PERSIST_LOCAL_MACHINE: the credential outlives the logon session and
// stays on this computer. It does not roam to the user's other computers,
// as CRED_PERSIST_ENTERPRISE credentials do with a roaming profile
// (https://learn.microsoft.com/en-us/windows/win32/api/wincred/ns-wincred-credentialw).
// Credential Manager keeps each user's credentials apart and encrypts them
// with the user's logon secret; any process running as the user can read
// them, hence [backends.ProtectionOSUser].
//
// Credential Manager holds at most 2,560 bytes per credential. A larger
// value is split across credentials named prefix+k#1 ... prefix+k#n, with a
// header in prefix+k that records the number of parts and a SHA-256 of the
// value; a write that was interrupted half-way is detected and reported as
// [ErrCorrupt], never returned as a value. Since Credential Manager
// compares names without regard to case, keys are written with every
// character other than lowercase letters, digits and "-._/:@" escaped as
// %XX, so "Work" and "work" stay distinct.
//
// A store follows the contract of [github.com/mayflyhq/mayfly/backends];
// [Available] reports whether Credential Manager works for this process.
// On systems other than Windows every operation returns an error matching
// [backends.ErrUnsupported].
package wincred

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mayflyhq/mayfly/backends"
)

// DefaultPrefix is the target name prefix of Mayfly's credentials.
const DefaultPrefix = "mayfly:"

// maxPrefixLen keeps target names well within CRED_MAX_GENERIC_TARGET_NAME_LENGTH
// (32767 characters): an encoded key takes at most 3*512 bytes, and a part
// suffix a few more.
const maxPrefixLen = 1024

// ErrCorrupt means the entry of a key exists but does not hold a whole
// value: a part is missing or does not match the header's hash (a write
// was interrupted), or the header is not Mayfly's. Setting the key again
// repairs it; deleting it removes every part.
var ErrCorrupt = errors.New("wincred: entry damaged or incomplete")

// credAPI is the part of Credential Manager's API that a Store uses:
// generic credentials by target name. On Windows it is CredReadW,
// CredWriteW, CredDeleteW and CredEnumerateW; tests use an in-memory fake.
type credAPI interface {
	// read returns the CredentialBlob of the credential named target, or an
	// error matching backends.ErrNotFound.
	read(target string) ([]byte, error)
	// write creates or replaces the credential named target.
	write(target string, blob []byte) error
	// remove deletes the credential named target, or returns an error
	// matching backends.ErrNotFound.
	remove(target string) error
	// enumerate returns the names of the credentials whose name starts
	// with prefix, compared without regard to case; none is not an error.
	enumerate(prefix string) ([]string, error)
}

// Store is a store in Windows Credential Manager. A Store is safe for
// concurrent use. Stores in several processes may share a prefix: a reader
// that meets another process's half-finished write of a split value retries
// briefly, then reports [ErrCorrupt].
type Store struct {
	prefix string
	api    credAPI
	err    error // non-nil: every operation fails with it

	// mu orders this process's writers against its readers, so they never
	// see each other's half-finished multi-part writes.
	mu sync.RWMutex
}

// newStore returns a store over api. A bad prefix makes every operation
// fail.
func newStore(prefix string, api credAPI) *Store {
	s := &Store{prefix: prefix, api: api}
	switch {
	case prefix == "":
		s.err = errors.New("empty target name prefix")
	case len(prefix) > maxPrefixLen:
		s.err = fmt.Errorf("target name prefix of %d bytes, more than %d", len(prefix), maxPrefixLen)
	case !utf8.ValidString(prefix) || strings.IndexByte(prefix, 0) >= 0:
		s.err = fmt.Errorf("target name prefix %q: not valid UTF-8 without NUL", prefix)
	case strings.ContainsRune(prefix, '*'):
		// CredEnumerate would take it for its wildcard.
		s.err = fmt.Errorf("target name prefix %q contains '*'", prefix)
	}
	return s
}

// target returns the target name of key's header.
func (s *Store) target(key string) string {
	return s.prefix + encodeKey(key)
}

func (s *Store) check(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.err != nil {
		return s.err
	}
	return backends.ValidKey(key)
}

// Get returns the value stored under key. It returns an error matching
// [backends.ErrNotFound] if there is none, and one matching [ErrCorrupt] if
// the entry is damaged or incomplete.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.check(ctx, key); err != nil {
		return nil, fmt.Errorf("wincred: get %q: %w", key, err)
	}
	target := s.target(key)
	// Another process may be writing a split value under the same name:
	// give it a moment to finish before calling the entry damaged.
	delays := []time.Duration{20 * time.Millisecond, 100 * time.Millisecond}
	for attempt := 0; ; attempt++ {
		v, err := s.get(target)
		if err == nil {
			return v, nil
		}
		if !errors.Is(err, errTorn) || attempt == len(delays) {
			return nil, fmt.Errorf("wincred: get %q: %w", key, err)
		}
		if err := sleep(ctx, delays[attempt]); err != nil {
			return nil, fmt.Errorf("wincred: get %q: %w", key, err)
		}
	}
}

// get reads and checks the value whose header is at target.
func (s *Store) get(target string) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	head, err := s.api.read(target)
	if err != nil {
		return nil, err
	}
	h, inline, err := decodeHeader(head)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	parts := make([][]byte, 0, h.parts)
	for i := 1; i <= h.parts; i++ {
		p, err := s.api.read(partName(target, i))
		if errors.Is(err, backends.ErrNotFound) {
			return nil, fmt.Errorf("%w: %w: part %d of %d is missing", ErrCorrupt, errTorn, i, h.parts)
		}
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
	}
	v, err := join(h, inline, parts)
	for _, p := range parts {
		clear(p)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return v, nil
}

// Set stores value under key, replacing any previous value. A value longer
// than [MaxValueSize] gives an error matching [backends.ErrTooLarge].
//
// A value that does not fit in one credential is written part by part,
// then its header; an error part-way leaves the key reading as
// [ErrCorrupt] (or missing, if it had no value) until the next Set.
func (s *Store) Set(ctx context.Context, key string, value []byte) error {
	if err := s.check(ctx, key); err != nil {
		return fmt.Errorf("wincred: set %q: %w", key, err)
	}
	if len(value) > MaxValueSize {
		return fmt.Errorf("wincred: set %q: %d bytes, more than %d: %w", key, len(value), MaxValueSize, backends.ErrTooLarge)
	}
	target := s.target(key)
	head, parts := split(value)
	defer func() {
		clear(head)
		for _, p := range parts {
			clear(p)
		}
	}()

	s.mu.Lock()
	defer s.mu.Unlock()
	for i, p := range parts {
		if err := s.api.write(partName(target, i+1), p); err != nil {
			return fmt.Errorf("wincred: set %q: part %d of %d: %w", key, i+1, len(parts), err)
		}
	}
	if err := s.api.write(target, head); err != nil {
		return fmt.Errorf("wincred: set %q: %w", key, err)
	}
	// The new value is whole. Parts left over from a longer value (or from
	// an interrupted write) are unreachable from the header now; failing
	// to remove them loses nothing, and the next Set or Delete tries again.
	_ = s.removeParts(target, len(parts))
	return nil
}

// removeParts deletes the parts of target numbered above keep.
func (s *Store) removeParts(target string, keep int) error {
	names, err := s.api.enumerate(target + "#")
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		i, ok := partIndex(name, target)
		if !ok || i <= keep {
			continue
		}
		if err := s.api.remove(name); err != nil && !errors.Is(err, backends.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Delete removes key and every part of its value. It returns an error
// matching [backends.ErrNotFound] if there was no value.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.check(ctx, key); err != nil {
		return fmt.Errorf("wincred: delete %q: %w", key, err)
	}
	target := s.target(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	// The header first: from then on readers find nothing rather than a
	// value with parts missing.
	headErr := s.api.remove(target)
	if headErr != nil && !errors.Is(headErr, backends.ErrNotFound) {
		return fmt.Errorf("wincred: delete %q: %w", key, headErr)
	}
	// Parts go even when the header was missing: they are what an
	// interrupted first write leaves behind.
	if err := s.removeParts(target, 0); err != nil {
		return fmt.Errorf("wincred: delete %q: parts: %w", key, err)
	}
	if headErr != nil {
		return fmt.Errorf("wincred: delete %q: %w", key, headErr)
	}
	return nil
}

// List returns the stored keys in sorted order. Credentials under the
// prefix that the store did not write are left out.
func (s *Store) List(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("wincred: list: %w", err)
	}
	if s.err != nil {
		return nil, fmt.Errorf("wincred: list: %w", s.err)
	}
	s.mu.RLock()
	names, err := s.api.enumerate(s.prefix)
	s.mu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("wincred: list: %w", err)
	}
	keys := make([]string, 0, len(names))
	for _, name := range names {
		if len(name) < len(s.prefix) || !strings.EqualFold(name[:len(s.prefix)], s.prefix) {
			continue
		}
		rest := name[len(s.prefix):]
		if strings.IndexByte(rest, '#') >= 0 {
			continue // a part
		}
		key, ok := decodeKey(rest)
		if !ok || backends.ValidKey(key) != nil {
			continue
		}
		keys = append(keys, key)
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

// Describe reports Credential Manager and how entries are named.
func (s *Store) Describe() backends.Description {
	return backends.Description{
		Name:       "wincred",
		Protection: backends.ProtectionOSUser,
		Detail:     detail(s.prefix),
	}
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
