package wincred

// These tests run the store over fakeCredman, on every OS. The same store
// runs over the real Credential Manager in wincred_windows_test.go (build
// tag wincredtest, set by CI on its Windows runner).

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mayflyhq/mayfly/backends"
	"github.com/mayflyhq/mayfly/backends/backendtest"
)

var _ backendtest.Store = (*Store)(nil)

const testPrefix = "mayfly-test:"

func TestConformanceOverFake(t *testing.T) {
	// One fake for the whole run, like the one Credential Manager of a
	// user that every store opened by the suite shares.
	f := newFake()
	backendtest.Run(t, func(t *testing.T) backendtest.Store { return newStore(testPrefix, f) })
	if names := f.names(); len(names) > 0 {
		t.Errorf("the suite left credentials behind: %q", names)
	}
}

func TestFakeIsCaseInsensitive(t *testing.T) {
	// The reason for encodeKey: without it, these two keys would share a
	// credential. Check that the fake really models that.
	f := newFake()
	if err := f.write("mayfly:Work", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if b, err := f.read("MAYFLY:work"); err != nil || string(b) != "1" {
		t.Fatalf("fake read of a name differing in case = %q, %v", b, err)
	}
	if err := f.write("mayfly:work", []byte("2")); err != nil {
		t.Fatal(err)
	}
	if got := f.names(); !slices.Equal(got, []string{"mayfly:Work"}) {
		t.Fatalf("fake names = %q, want the first spelling only", got)
	}
}

func TestLayout(t *testing.T) {
	f := newFake()
	s := newStore("mayfly:", f)
	ctx := t.Context()
	key := "session/Work/ab"
	target := "mayfly:session/%57ork/ab"

	big := randomBytes(16 << 10)
	if err := s.Set(ctx, key, big); err != nil {
		t.Fatal(err)
	}
	want := []string{target}
	for i := 1; i <= 7; i++ {
		want = append(want, partName(target, i))
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, f.names()); diff != "" {
		t.Fatalf("credentials after a 16 KiB Set (-want +got):\n%s", diff)
	}
	if h := f.blob(target); len(h) != headerLen {
		t.Errorf("header credential holds %d bytes, want %d", len(h), headerLen)
	}
	for i := 1; i <= 7; i++ {
		p := f.blob(partName(target, i))
		if !bytes.Equal(p, big[(i-1)*blobMax:min(i*blobMax, len(big))]) {
			t.Errorf("part %d does not hold bytes %d.. of the value", i, (i-1)*blobMax)
		}
	}

	// A shorter value that still needs parts: the extra parts go.
	mid := randomBytes(3 * blobMax)
	if err := s.Set(ctx, key, mid); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{target, target + "#1", target + "#2", target + "#3"}, f.names()); diff != "" {
		t.Errorf("credentials after a 3-part Set (-want +got):\n%s", diff)
	}

	// A small value lives in the header's credential alone.
	if err := s.Set(ctx, key, []byte("small")); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{target}, f.names()); diff != "" {
		t.Errorf("credentials after a small Set (-want +got):\n%s", diff)
	}
	if h := f.blob(target); len(h) != headerLen+len("small") || !bytes.HasSuffix(h, []byte("small")) {
		t.Errorf("header credential = %q", h)
	}

	// Delete removes every part.
	if err := s.Set(ctx, key, big); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if names := f.names(); len(names) > 0 {
		t.Errorf("credentials after Delete: %q", names)
	}
}

func TestTornWrite(t *testing.T) {
	ctx := t.Context()
	a, b := randomBytes(10000), randomBytes(10000) // 4 parts each
	tests := []struct {
		name string
		// failAt is the number of the write that fails, counting from 1
		// within the second Set: 1-4 are parts, 5 the header.
		failAt int
	}{
		{"after one part", 2},
		{"after three parts", 4},
		{"at the header", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			s := newStore("mayfly:", f)
			if err := s.Set(ctx, "k", a); err != nil {
				t.Fatal(err)
			}
			var n atomic.Int32
			f.beforeWrite = func(string) error {
				if int(n.Add(1)) == tt.failAt {
					return errInjected
				}
				return nil
			}
			if err := s.Set(ctx, "k", b); !errors.Is(err, errInjected) {
				t.Fatalf("Set with a failing write = %v, want the injected error", err)
			}
			f.beforeWrite = nil
			v, err := s.Get(ctx, "k")
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Get after a torn Set = %d bytes (old value: %v, new value: %v), %v; want an error matching ErrCorrupt",
					len(v), bytes.Equal(v, a), bytes.Equal(v, b), err)
			}
			if errors.Is(err, backends.ErrNotFound) {
				t.Errorf("Get after a torn Set = %v, which also matches ErrNotFound", err)
			}
			// The next Set repairs the key.
			if err := s.Set(ctx, "k", b); err != nil {
				t.Fatal(err)
			}
			if v, err := s.Get(ctx, "k"); err != nil || !bytes.Equal(v, b) {
				t.Fatalf("Get after a repairing Set = %d bytes, %v", len(v), err)
			}
		})
	}
}

func TestInterruptedFirstWrite(t *testing.T) {
	ctx := t.Context()
	f := newFake()
	s := newStore("mayfly:", f)
	var n atomic.Int32
	f.beforeWrite = func(string) error {
		if n.Add(1) == 3 {
			return errInjected
		}
		return nil
	}
	if err := s.Set(ctx, "k", randomBytes(10000)); !errors.Is(err, errInjected) {
		t.Fatalf("Set = %v, want the injected error", err)
	}
	f.beforeWrite = nil
	if _, err := s.Get(ctx, "k"); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("Get after an interrupted first Set = %v, want ErrNotFound (no header was written)", err)
	}
	if keys, err := s.List(ctx); err != nil || len(keys) > 0 {
		t.Errorf("List = %q, %v; want no keys", keys, err)
	}
	if len(f.names()) == 0 {
		t.Fatal("test bug: the interrupted Set left no parts behind")
	}
	if err := s.Delete(ctx, "k"); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("Delete = %v, want ErrNotFound", err)
	}
	if names := f.names(); len(names) > 0 {
		t.Errorf("Delete left the orphaned parts %q", names)
	}
}

func TestDamagedEntries(t *testing.T) {
	ctx := t.Context()
	big := randomBytes(10000)
	tests := []struct {
		name   string
		damage func(f *fakeCredman, target string)
	}{
		{"part removed", func(f *fakeCredman, target string) { f.remove(target + "#2") }},
		{"part altered", func(f *fakeCredman, target string) { f.put(target+"#3", flip(f.blob(target+"#3"))) }},
		{"part truncated", func(f *fakeCredman, target string) { f.put(target+"#1", f.blob(target + "#1")[:10]) }},
		{"header altered", func(f *fakeCredman, target string) { f.put(target, flip(f.blob(target))) }},
		{"header replaced by a bare token", func(f *fakeCredman, target string) { f.put(target, []byte("eyJhbGciOi.payload.sig")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			s := newStore("mayfly:", f)
			if err := s.Set(ctx, "k", big); err != nil {
				t.Fatal(err)
			}
			tt.damage(f, "mayfly:k")
			if v, err := s.Get(ctx, "k"); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Get = %d bytes, %v; want an error matching ErrCorrupt", len(v), err)
			}
			if err := s.Delete(ctx, "k"); err != nil {
				t.Fatalf("Delete of a damaged entry: %v", err)
			}
			if names := f.names(); len(names) > 0 {
				t.Errorf("Delete left %q", names)
			}
		})
	}
}

func TestGetRetriesAConcurrentWrite(t *testing.T) {
	// Another process rewriting the parts while we read: the first read of
	// part 2 sees its new bytes, later reads see the value settle.
	ctx := t.Context()
	f := newFake()
	s := newStore("mayfly:", f)
	v := randomBytes(10000)
	if err := s.Set(ctx, "k", v); err != nil {
		t.Fatal(err)
	}
	var headerReads, raced atomic.Int32
	f.onRead = func(name string, b []byte) []byte {
		switch name {
		case "mayfly:k":
			headerReads.Add(1)
		case "mayfly:k#2":
			if raced.Add(1) == 1 {
				return randomBytes(len(b))
			}
		}
		return b
	}
	got, err := s.Get(ctx, "k")
	if err != nil || !bytes.Equal(got, v) {
		t.Fatalf("Get = %d bytes, %v; want the value", len(got), err)
	}
	if n := headerReads.Load(); n != 2 {
		t.Errorf("Get read the header %d times, want 2 (one retry)", n)
	}

	// A value that stays torn is reported after the retries.
	f.onRead = func(name string, b []byte) []byte {
		if name == "mayfly:k#2" {
			return randomBytes(len(b))
		}
		return b
	}
	if _, err := s.Get(ctx, "k"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Get of a value that stays torn = %v, want ErrCorrupt", err)
	}

	// And a canceled context stops the retries.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Get(cctx, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a canceled context = %v", err)
	}
}

func TestListSkipsForeignEntries(t *testing.T) {
	ctx := t.Context()
	f := newFake()
	s := newStore("mayfly:", f)
	for _, k := range []string{"b", "A", "ключ"} {
		if err := s.Set(ctx, k, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Set(ctx, "split", randomBytes(6000)); err != nil {
		t.Fatal(err)
	}
	f.put("mayfly:Upper", []byte("someone else's"))    // not an encoding
	f.put("mayfly:50%", []byte("someone else's"))      // not an encoding
	f.put("mayfly:x#1", []byte("an orphaned part"))    // a part
	f.put("other:a", []byte("another program's"))      // another prefix
	f.put("git:https://example.com", []byte("secret")) // another program
	keys, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"A", "b", "split", "ключ"}, keys); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
}

func TestTooLarge(t *testing.T) {
	ctx := t.Context()
	f := newFake()
	s := newStore("mayfly:", f)
	if err := s.Set(ctx, "k", make([]byte, MaxValueSize+1)); !errors.Is(err, backends.ErrTooLarge) {
		t.Errorf("Set of MaxValueSize+1 bytes = %v, want ErrTooLarge", err)
	}
	if names := f.names(); len(names) > 0 {
		t.Errorf("a refused Set wrote %q", names)
	}
	v := randomBytes(MaxValueSize)
	if err := s.Set(ctx, "k", v); err != nil {
		t.Fatalf("Set of MaxValueSize bytes: %v", err)
	}
	if got, err := s.Get(ctx, "k"); err != nil || !bytes.Equal(got, v) {
		t.Fatalf("Get = %d bytes, %v", len(got), err)
	}
}

func TestBadPrefix(t *testing.T) {
	for _, p := range []string{"", "a*", "a\x00b", "\xff", strings.Repeat("p", maxPrefixLen+1)} {
		s := newStore(p, newFake())
		if err := s.Set(t.Context(), "k", []byte("v")); err == nil {
			t.Errorf("Set with prefix %q succeeded", p)
		}
		if _, err := s.Get(t.Context(), "k"); err == nil {
			t.Errorf("Get with prefix %q succeeded", p)
		}
		if _, err := s.List(t.Context()); err == nil {
			t.Errorf("List with prefix %q succeeded", p)
		}
	}
}

func TestDescribe(t *testing.T) {
	d := New(DefaultPrefix).Describe()
	if d.Name != "wincred" || d.Protection != backends.ProtectionOSUser || d.Detail == "" {
		t.Errorf("Describe = %+v", d)
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
