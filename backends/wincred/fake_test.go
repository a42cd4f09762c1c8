package wincred

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf16"

	"github.com/mayflyhq/mayfly/backends"
)

// fakeCredman is an in-memory Credential Manager with the properties the
// store depends on: names compare without regard to case (and keep the
// spelling of the first write), blobs hold at most 2,560 bytes, a write
// replaces a credential whole, and enumerate filters by a case-insensitive
// prefix.
type fakeCredman struct {
	mu sync.Mutex
	m  map[string]fakeCred // by upper-cased name

	// Hooks for fault injection; nil means none. beforeWrite may fail a
	// write; onRead may replace what a read returns.
	beforeWrite func(name string) error
	onRead      func(name string, blob []byte) []byte
}

type fakeCred struct {
	name string
	blob []byte
}

func newFake() *fakeCredman {
	return &fakeCredman{m: make(map[string]fakeCred)}
}

var _ credAPI = (*fakeCredman)(nil)

// fold is how the fake compares names. Windows upper-cases both sides.
func fold(s string) string { return strings.ToUpper(s) }

func (f *fakeCredman) read(name string) ([]byte, error) {
	f.mu.Lock()
	c, ok := f.m[fold(name)]
	hook := f.onRead
	f.mu.Unlock()
	if !ok {
		return nil, backends.ErrNotFound
	}
	b := slices.Clone(c.blob)
	if hook != nil {
		b = hook(c.name, b)
	}
	return b, nil
}

func (f *fakeCredman) write(name string, blob []byte) error {
	if len(blob) > blobMax {
		return fmt.Errorf("fake CredWriteW(%q): blob of %d bytes: ERROR_INVALID_PARAMETER", name, len(blob))
	}
	if n := len(utf16.Encode([]rune(name))); n > 32767 {
		return fmt.Errorf("fake CredWriteW: name of %d characters: ERROR_INVALID_PARAMETER", n)
	}
	f.mu.Lock()
	hook := f.beforeWrite
	f.mu.Unlock()
	if hook != nil {
		if err := hook(name); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.m[fold(name)]
	if !ok {
		c.name = name
	}
	c.blob = slices.Clone(blob)
	f.m[fold(name)] = c
	return nil
}

func (f *fakeCredman) remove(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.m[fold(name)]; !ok {
		return backends.ErrNotFound
	}
	delete(f.m, fold(name))
	return nil
}

func (f *fakeCredman) enumerate(prefix string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for k, c := range f.m {
		if strings.HasPrefix(k, fold(prefix)) {
			names = append(names, c.name)
		}
	}
	// Credential Manager promises no order.
	slices.Sort(names)
	slices.Reverse(names)
	return names, nil
}

// names returns every credential's name, sorted.
func (f *fakeCredman) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for _, c := range f.m {
		names = append(names, c.name)
	}
	slices.Sort(names)
	return names
}

// blob returns the blob of name, or nil.
func (f *fakeCredman) blob(name string) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.m[fold(name)].blob)
}

// put writes a credential directly, bypassing hooks and limits.
func (f *fakeCredman) put(name string, blob []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m[fold(name)] = fakeCred{name: name, blob: slices.Clone(blob)}
}

var errInjected = errors.New("injected write failure")
