// Package backendtest implements a conformance suite for the stores of
// [github.com/mayflyhq/mayfly/backends], on the model of
// [testing/fstest.TestFS].
//
// A store's test calls [Run] with a constructor:
//
//	func TestConformance(t *testing.T) {
//		backendtest.Run(t, func(t *testing.T) backendtest.Store { return memory.New() })
//	}
//
// The suite may run against a shared OS store, such as the user's kernel
// keyring. It therefore runs its subtests one after the other (never with
// t.Parallel), uses keys that carry a random per-run suffix so that two runs
// never collide, and deletes what it created in t.Cleanup.
package backendtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mayflyhq/mayfly/backends"
)

// Store is the part of a backend the suite exercises.
type Store interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Set(ctx context.Context, key string, value []byte) error
	Delete(ctx context.Context, key string) error
}

// lister is the optional capability the suite checks when a store has it.
type lister interface {
	List(ctx context.Context) ([]string, error)
}

// Run runs the conformance suite. newStore is called once per subtest and
// must return a store ready for use; it may register its own t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	t.Helper()
	s := &suite{newStore: newStore, suffix: rand.Text()[:12]}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"SetGet", s.testSetGet},
		{"Overwrite", s.testOverwrite},
		{"DeleteThenGet", s.testDeleteThenGet},
		{"GetMissing", s.testGetMissing},
		{"DeleteMissing", s.testDeleteMissing},
		{"EmptyValue", s.testEmptyValue},
		{"BinaryValue", s.testBinaryValue},
		{"LargeJWT", s.testLargeJWT},
		{"ValueIsolation", s.testValueIsolation},
		{"UnicodeKey", s.testUnicodeKey},
		{"MaxLengthKey", s.testMaxLengthKey},
		{"CaseSensitiveKeys", s.testCaseSensitiveKeys},
		{"InvalidKeys", s.testInvalidKeys},
		{"Concurrent", s.testConcurrent},
		{"List", s.testList},
	}
	for _, tt := range tests {
		// Sequential on purpose: the store may be shared by the whole OS
		// user, and List checks would race with each other.
		t.Run(tt.name, tt.fn)
	}
}

type suite struct {
	newStore func(t *testing.T) Store
	suffix   string // random, shared by all keys of one Run
}

// key returns a per-run key for name.
func (s *suite) key(name string) string {
	return "backendtest/" + name + "-" + s.suffix
}

// open returns a fresh store.
func (s *suite) open(t *testing.T) Store {
	t.Helper()
	st := s.newStore(t)
	if st == nil {
		t.Fatal("newStore returned nil")
	}
	return st
}

// cleanup deletes key from st when t ends. It uses a fresh context because
// t.Context is already canceled when cleanups run.
func cleanup(t *testing.T, st Store, key string) {
	t.Helper()
	t.Cleanup(func() {
		err := st.Delete(context.Background(), key)
		if err != nil && !errors.Is(err, backends.ErrNotFound) {
			t.Errorf("cleanup: Delete(%q): %v", key, err)
		}
	})
}

func mustSet(t *testing.T, st Store, key string, value []byte) {
	t.Helper()
	if err := st.Set(t.Context(), key, value); err != nil {
		t.Fatalf("Set(%q, %d bytes): %v", key, len(value), err)
	}
}

func wantValue(t *testing.T, st Store, key string, want []byte) {
	t.Helper()
	got, err := st.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %s, want %s", key, describe(got), describe(want))
	}
}

func wantNotFound(t *testing.T, st Store, key string) {
	t.Helper()
	got, err := st.Get(t.Context(), key)
	if !errors.Is(err, backends.ErrNotFound) {
		t.Fatalf("Get(%q) = %s, %v; want an error matching backends.ErrNotFound", key, describe(got), err)
	}
}

// describe summarizes a value for failure messages without dumping 16 KiB.
func describe(v []byte) string {
	if v == nil {
		return "nil"
	}
	if len(v) <= 64 {
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprintf("%d bytes %q...%q", len(v), v[:24], v[len(v)-24:])
}

func (s *suite) testSetGet(t *testing.T) {
	st := s.open(t)
	k := s.key("set-get")
	cleanup(t, st, k)
	mustSet(t, st, k, []byte("refresh-token-1"))
	wantValue(t, st, k, []byte("refresh-token-1"))
	// A second Get sees the same value: Get does not consume it.
	wantValue(t, st, k, []byte("refresh-token-1"))
}

func (s *suite) testOverwrite(t *testing.T) {
	st := s.open(t)
	k := s.key("overwrite")
	cleanup(t, st, k)
	long := bytes.Repeat([]byte("long-value/"), 20)
	mustSet(t, st, k, long)
	wantValue(t, st, k, long)
	// A shorter value must not keep the old value's tail.
	mustSet(t, st, k, []byte("short"))
	wantValue(t, st, k, []byte("short"))
	mustSet(t, st, k, long)
	wantValue(t, st, k, long)
}

func (s *suite) testDeleteThenGet(t *testing.T) {
	st := s.open(t)
	k := s.key("delete")
	cleanup(t, st, k)
	mustSet(t, st, k, []byte("doomed"))
	if err := st.Delete(t.Context(), k); err != nil {
		t.Fatalf("Delete(%q): %v", k, err)
	}
	wantNotFound(t, st, k)
	if err := st.Delete(t.Context(), k); !errors.Is(err, backends.ErrNotFound) {
		t.Fatalf("second Delete(%q) = %v, want an error matching backends.ErrNotFound", k, err)
	}
	// The key can be used again after a delete.
	mustSet(t, st, k, []byte("reborn"))
	wantValue(t, st, k, []byte("reborn"))
}

func (s *suite) testGetMissing(t *testing.T) {
	st := s.open(t)
	wantNotFound(t, st, s.key("never-set"))
}

func (s *suite) testDeleteMissing(t *testing.T) {
	st := s.open(t)
	k := s.key("never-set")
	if err := st.Delete(t.Context(), k); !errors.Is(err, backends.ErrNotFound) {
		t.Fatalf("Delete(%q) = %v, want an error matching backends.ErrNotFound", k, err)
	}
}

func (s *suite) testEmptyValue(t *testing.T) {
	st := s.open(t)
	k := s.key("empty")
	cleanup(t, st, k)
	for _, v := range [][]byte{{}, nil} {
		mustSet(t, st, k, v)
		got, err := st.Get(t.Context(), k)
		if err != nil {
			// An empty value is a value, not a missing key.
			t.Fatalf("Get(%q) after Set of an empty value: %v", k, err)
		}
		if len(got) != 0 {
			t.Fatalf("Get(%q) = %s, want an empty value", k, describe(got))
		}
	}
}

func (s *suite) testBinaryValue(t *testing.T) {
	st := s.open(t)
	k := s.key("binary")
	cleanup(t, st, k)
	v := []byte{0, 0xff, 0, '\n', 0xfe, 0x80, 0}
	for b := range 256 {
		v = append(v, byte(b))
	}
	v = append(v, 0xff, 0)
	mustSet(t, st, k, v)
	wantValue(t, st, k, v)
	for _, v := range [][]byte{{0}, {0xff}, {0, 0, 0}} {
		mustSet(t, st, k, v)
		wantValue(t, st, k, v)
	}
}

// jwtLike returns an n-byte string shaped like a signed JWT.
func jwtLike(n int) []byte {
	raw := make([]byte, n)
	rand.Read(raw)
	body := base64.RawURLEncoding.EncodeToString(raw)
	v := []byte("eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9." + body)
	v = v[:n]
	v[n-87] = '.' // header.payload.signature
	return v
}

func (s *suite) testLargeJWT(t *testing.T) {
	st := s.open(t)
	k := s.key("jwt-16k")
	cleanup(t, st, k)
	v := jwtLike(16 << 10)
	mustSet(t, st, k, v)
	wantValue(t, st, k, v)
}

func (s *suite) testValueIsolation(t *testing.T) {
	st := s.open(t)
	k := s.key("isolation")
	cleanup(t, st, k)
	in := []byte("original")
	mustSet(t, st, k, in)
	copy(in, "MUTATED!")
	wantValue(t, st, k, []byte("original"))

	out, err := st.Get(t.Context(), k)
	if err != nil {
		t.Fatalf("Get(%q): %v", k, err)
	}
	copy(out, "MUTATED!")
	wantValue(t, st, k, []byte("original"))
}

func (s *suite) testUnicodeKey(t *testing.T) {
	st := s.open(t)
	k := s.key("ключ/秘密/🔑")
	cleanup(t, st, k)
	mustSet(t, st, k, []byte("unicode"))
	wantValue(t, st, k, []byte("unicode"))
	if err := st.Delete(t.Context(), k); err != nil {
		t.Fatalf("Delete(%q): %v", k, err)
	}
	wantNotFound(t, st, k)
}

func (s *suite) testMaxLengthKey(t *testing.T) {
	st := s.open(t)
	base := s.key("max-")
	k := base + strings.Repeat("m", backends.MaxKeyLen-len(base))
	cleanup(t, st, k)
	mustSet(t, st, k, []byte("longest key"))
	wantValue(t, st, k, []byte("longest key"))
}

func (s *suite) testCaseSensitiveKeys(t *testing.T) {
	st := s.open(t)
	upper, lower := s.key("CaseKey"), s.key("casekey")
	if upper == lower || !strings.EqualFold(upper, lower) {
		t.Fatalf("test bug: %q and %q must differ only in case", upper, lower)
	}
	cleanup(t, st, upper)
	cleanup(t, st, lower)
	mustSet(t, st, upper, []byte("upper"))
	wantNotFound(t, st, lower)
	mustSet(t, st, lower, []byte("lower"))
	wantValue(t, st, upper, []byte("upper"))
	wantValue(t, st, lower, []byte("lower"))
	if err := st.Delete(t.Context(), upper); err != nil {
		t.Fatalf("Delete(%q): %v", upper, err)
	}
	wantValue(t, st, lower, []byte("lower"))
}

func (s *suite) testInvalidKeys(t *testing.T) {
	st := s.open(t)
	nulHead := s.key("nul")
	long := s.key("long") + strings.Repeat("x", backends.MaxKeyLen)
	tests := []struct {
		name string
		key  string
		// alias is what a careless store might store instead (a C string
		// cut at the NUL, a truncated key); it must stay missing.
		alias string
	}{
		{"empty", "", ""},
		{"NUL", nulHead + "\x00tail", nulHead},
		{"only NUL", "\x00", ""},
		{"too long", long, long[:backends.MaxKeyLen]},
		{"invalid UTF-8", s.key("bad-utf8-\xff\xfe"), ""},
	}
	var before []string
	l, isLister := st.(lister)
	if isLister {
		var err error
		if before, err = l.List(t.Context()); err != nil {
			t.Fatalf("List: %v", err)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.alias != "" {
				cleanup(t, st, tt.alias)
			}
			if err := st.Set(t.Context(), tt.key, []byte("must not be stored")); err == nil {
				cleanup(t, st, tt.key)
				t.Errorf("Set(%q) succeeded, want an error", tt.key)
			}
			if got, err := st.Get(t.Context(), tt.key); err == nil {
				t.Errorf("Get(%q) = %s, nil; want an error", tt.key, describe(got))
			}
			if err := st.Delete(t.Context(), tt.key); err == nil {
				t.Errorf("Delete(%q) succeeded, want an error", tt.key)
			}
			if tt.alias != "" {
				wantNotFound(t, st, tt.alias)
			}
		})
	}
	if isLister {
		after, err := l.List(t.Context())
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		for _, k := range after {
			if !slices.Contains(before, k) && strings.Contains(k, s.suffix) {
				t.Errorf("List after refused Sets contains new key %q", k)
			}
		}
	}
}

// testConcurrent has writers overwrite one key with distinct complete values
// while readers read it. Every read must return one whole written value.
func (s *suite) testConcurrent(t *testing.T) {
	const (
		writers = 16
		sets    = 20
		readers = 8
	)
	st := s.open(t)
	k := s.key("concurrent")
	cleanup(t, st, k)

	// value returns a self-describing value of a length that depends on
	// (w, i), so that a mix of two values, or a torn length, is not among
	// the written values.
	value := func(w, i int) []byte {
		unit := fmt.Sprintf("[w%02d i%02d]", w, i)
		n := 300 + 37*w + 5*i
		return bytes.Repeat([]byte(unit), n/len(unit)+1)[:n]
	}
	initial := []byte("initial value")
	valid := map[string]bool{string(initial): true}
	for w := range writers {
		for i := range sets {
			valid[string(value(w, i))] = true
		}
	}
	mustSet(t, st, k, initial)

	ctx := t.Context()
	var (
		wg       sync.WaitGroup
		done     = make(chan struct{})
		mu       sync.Mutex
		failures int
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if failures++; failures <= 5 {
			t.Errorf(format, args...)
		}
	}
	var rg sync.WaitGroup
	for range readers {
		rg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				got, err := st.Get(ctx, k)
				if err != nil {
					fail("concurrent Get(%q): %v", k, err)
					return
				}
				if !valid[string(got)] {
					fail("concurrent Get(%q) = %s, which no writer wrote", k, describe(got))
				}
				// Let writers in: an in-memory store could otherwise
				// spend seconds under the race detector here.
				runtime.Gosched()
			}
		})
	}
	for w := range writers {
		wg.Go(func() {
			for i := range sets {
				if err := st.Set(ctx, k, value(w, i)); err != nil {
					fail("concurrent Set(%q) by writer %d: %v", k, w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	rg.Wait()
	if t.Failed() {
		return
	}

	got, err := st.Get(ctx, k)
	if err != nil {
		t.Fatalf("Get(%q) after concurrent Sets: %v", k, err)
	}
	if !valid[string(got)] || bytes.Equal(got, initial) {
		t.Fatalf("Get(%q) after concurrent Sets = %s, want one of the written values", k, describe(got))
	}
}

func (s *suite) testList(t *testing.T) {
	st := s.open(t)
	l, ok := st.(lister)
	if !ok {
		t.Skipf("%T has no List method", st)
	}
	keep1, keep2, gone := s.key("list-a"), s.key("list-ключ"), s.key("list-deleted")
	for _, k := range []string{keep1, keep2, gone} {
		cleanup(t, st, k)
		mustSet(t, st, k, []byte("listed"))
	}
	if err := st.Delete(t.Context(), gone); err != nil {
		t.Fatalf("Delete(%q): %v", gone, err)
	}
	keys, err := l.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, k := range []string{keep1, keep2} {
		if !slices.Contains(keys, k) {
			t.Errorf("List = %q, missing %q", keys, k)
		}
	}
	if slices.Contains(keys, gone) {
		t.Errorf("List = %q, contains deleted key %q", keys, gone)
	}
	if !slices.IsSorted(keys) {
		t.Errorf("List = %q, not sorted", keys)
	}
	if i := slices.Index(keys, ""); i >= 0 {
		t.Errorf("List = %q, contains an empty key", keys)
	}
}
