package tpm

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tpmdev "github.com/mayflyhq/mayfly/attest/tpm"
	"github.com/mayflyhq/mayfly/backends"
	"github.com/mayflyhq/mayfly/backends/backendtest"
	"github.com/mayflyhq/mayfly/backends/memory"
)

var (
	_ backendtest.Store = (*Store)(nil)
	_ Sealer            = (*tpmdev.TPM)(nil)
	_ Blobs             = (*memory.Store)(nil)
	_ Blobs             = (*dir)(nil)
)

// fakeSealer seals with AES-GCM under a key of its own, standing in for a
// TPM's storage key: clear gives it a new key, as clearing a TPM gives it
// new seeds.
type fakeSealer struct {
	mu       sync.Mutex
	key      []byte
	err      error  // returned by Seal and Unseal when set
	onUnseal func() // runs before Unseal answers
}

func newFakeSealer() *fakeSealer {
	f := &fakeSealer{}
	f.clear()
	return f
}

func (f *fakeSealer) clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.key = make([]byte, 32)
	rand.Read(f.key)
}

func (f *fakeSealer) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeSealer) aead() cipher.AEAD {
	b, _ := aes.NewCipher(f.key)
	a, _ := cipher.NewGCM(b)
	return a
}

func (f *fakeSealer) Seal(data []byte) (*tpmdev.Sealed, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	nonce := make([]byte, 12)
	rand.Read(nonce)
	return &tpmdev.Sealed{Public: nonce, Private: f.aead().Seal(nil, nonce, data, nil)}, nil
}

func (f *fakeSealer) Unseal(s *tpmdev.Sealed) ([]byte, error) {
	f.mu.Lock()
	hook, ferr := f.onUnseal, f.err
	var out []byte
	var err error
	switch {
	case ferr != nil:
	case len(s.Public) != 12:
		err = errors.New("bad nonce")
	default:
		out, err = f.aead().Open(nil, s.Public, s.Private, nil)
	}
	f.mu.Unlock()
	if hook != nil {
		hook()
	}
	switch {
	case ferr != nil:
		return nil, ferr
	case err != nil:
		return nil, fmt.Errorf("fake: %w", tpmdev.ErrKeyLost)
	}
	return out, nil
}

func (f *fakeSealer) String() string { return "fake TPM" }

func TestConformanceMemory(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backendtest.Store {
		return New(newFakeSealer(), memory.New(), "memory")
	})
}

func TestConformanceDir(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backendtest.Store {
		s, err := Open(newFakeSealer(), filepath.Join(t.TempDir(), "tpm"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// newStore returns a store on a fake TPM over memory blobs.
func newStore(t testing.TB) (*Store, *fakeSealer, *memory.Store) {
	t.Helper()
	f, m := newFakeSealer(), memory.New()
	return New(f, m, "memory"), f, m
}

func TestKeyLostRemovesTheEntry(t *testing.T) {
	s, f, _ := newStore(t)
	ctx := context.Background()
	if err := s.Set(ctx, "session/work", []byte("refresh-token")); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "session/other", []byte("other")); err != nil {
		t.Fatal(err)
	}
	f.clear() // the TPM was cleared
	_, err := s.Get(ctx, "session/work")
	if !errors.Is(err, backends.ErrKeyLost) || errors.Is(err, backends.ErrNotFound) {
		t.Fatalf("Get after the TPM was cleared = %v, want ErrKeyLost only", err)
	}
	if !strings.Contains(err.Error(), "sign in again") {
		t.Errorf("Get error %q does not say to sign in again", err)
	}
	if _, err := s.Get(ctx, "session/work"); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("second Get = %v, want ErrNotFound: the stale entry must be gone", err)
	}
	keys, err := s.List(ctx)
	if err != nil || !slices.Equal(keys, []string{"session/other"}) {
		t.Errorf("List = %q, %v; want only the entry not yet read", keys, err)
	}
	// Signing in again works.
	if err := s.Set(ctx, "session/work", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get(ctx, "session/work"); err != nil || string(v) != "new" {
		t.Errorf("Get after a new Set = %q, %v", v, err)
	}
}

func TestLockedKeepsTheEntry(t *testing.T) {
	s, f, _ := newStore(t)
	ctx := context.Background()
	if err := s.Set(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	f.fail(fmt.Errorf("tpm: unseal: %w: TPM_RC_LOCKOUT", tpmdev.ErrLocked))
	if _, err := s.Get(ctx, "k"); !errors.Is(err, backends.ErrLocked) || errors.Is(err, backends.ErrKeyLost) {
		t.Errorf("Get in lockout = %v, want ErrLocked", err)
	}
	if err := s.Set(ctx, "k2", []byte("v")); !errors.Is(err, backends.ErrLocked) {
		t.Errorf("Set in lockout = %v, want ErrLocked", err)
	}
	f.fail(nil)
	if v, err := s.Get(ctx, "k"); err != nil || string(v) != "v" {
		t.Errorf("Get after the lockout = %q, %v; the entry must survive", v, err)
	}
}

func TestUnavailableIsUnsupported(t *testing.T) {
	s, f, _ := newStore(t)
	ctx := context.Background()
	if err := s.Set(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	f.fail(fmt.Errorf("tpm: %w: no permission to use /dev/tpmrm0: add your user to the tss group", tpmdev.ErrUnavailable))
	if _, err := s.Get(ctx, "k"); !errors.Is(err, backends.ErrUnsupported) || !strings.Contains(err.Error(), "tss group") {
		t.Errorf("Get without a TPM = %v, want ErrUnsupported with the reason", err)
	}
	if err := s.Set(ctx, "k", []byte("w")); !errors.Is(err, backends.ErrUnsupported) {
		t.Errorf("Set without a TPM = %v, want ErrUnsupported", err)
	}
	// Delete needs no TPM.
	if err := s.Delete(ctx, "k"); err != nil {
		t.Errorf("Delete without a TPM = %v", err)
	}
}

func TestTamperedEnvelopes(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		tamper func(env map[string]any, raw []byte) []byte
	}{
		{"ciphertext bit", func(env map[string]any, _ []byte) []byte {
			ct, _ := base64.StdEncoding.DecodeString(env["ct"].(string))
			ct[0] ^= 1
			env["ct"] = ct
			return must(json.Marshal(env))
		}},
		{"nonce", func(env map[string]any, _ []byte) []byte {
			env["nonce"] = make([]byte, 12)
			return must(json.Marshal(env))
		}},
		{"short nonce", func(env map[string]any, _ []byte) []byte {
			env["nonce"] = make([]byte, 3)
			return must(json.Marshal(env))
		}},
		{"other key's envelope", func(env map[string]any, _ []byte) []byte {
			env["key"] = "victim" // as if renamed; the AAD still says "k"
			return must(json.Marshal(env))
		}},
		{"sealed blob", func(env map[string]any, _ []byte) []byte {
			seal := env["seal"].(map[string]any)
			seal["priv"] = []byte("garbage")
			return must(json.Marshal(env))
		}},
		{"alg", func(env map[string]any, _ []byte) []byte {
			env["alg"] = "none"
			return must(json.Marshal(env))
		}},
		{"version 0", func(env map[string]any, _ []byte) []byte {
			delete(env, "v")
			return must(json.Marshal(env))
		}},
		{"not JSON", func(_ map[string]any, raw []byte) []byte { return raw[:len(raw)/2] }},
		{"empty", func(map[string]any, []byte) []byte { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, m := newStore(t)
			key := "k"
			if tt.name == "other key's envelope" {
				key = "victim"
				if err := s.Set(ctx, "k", []byte("secret of k")); err != nil {
					t.Fatal(err)
				}
				raw, _ := m.Get(ctx, "k")
				var env map[string]any
				json.Unmarshal(raw, &env)
				m.Set(ctx, key, tt.tamper(env, raw))
			} else {
				if err := s.Set(ctx, key, []byte("secret")); err != nil {
					t.Fatal(err)
				}
				raw, _ := m.Get(ctx, key)
				var env map[string]any
				json.Unmarshal(raw, &env)
				m.Set(ctx, key, tt.tamper(env, raw))
			}
			v, err := s.Get(ctx, key)
			if !errors.Is(err, backends.ErrKeyLost) {
				t.Fatalf("Get of a tampered envelope = %q, %v; want ErrKeyLost", v, err)
			}
			if _, err := m.Get(ctx, key); !errors.Is(err, backends.ErrNotFound) {
				t.Errorf("the tampered envelope is still there (%v)", err)
			}
		})
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// An envelope from a newer Mayfly is not damaged: it is kept.
func TestNewerVersionKept(t *testing.T) {
	s, _, m := newStore(t)
	ctx := context.Background()
	m.Set(ctx, "k", []byte(`{"v":2,"alg":"X","key":"k"}`))
	_, err := s.Get(ctx, "k")
	if err == nil || errors.Is(err, backends.ErrKeyLost) || !strings.Contains(err.Error(), "upgrade Mayfly") {
		t.Errorf("Get of a v2 envelope = %v", err)
	}
	if _, err := m.Get(ctx, "k"); err != nil {
		t.Errorf("the v2 envelope was removed: %v", err)
	}
}

// A Get that finds its envelope lost must not remove a value that a
// concurrent Set wrote meanwhile.
func TestStaleRemovalSparesNewValue(t *testing.T) {
	s, f, _ := newStore(t)
	ctx := context.Background()
	if err := s.Set(ctx, "k", []byte("old")); err != nil {
		t.Fatal(err)
	}
	f.clear()
	var once sync.Once
	f.mu.Lock()
	f.onUnseal = func() {
		once.Do(func() {
			if err := s.Set(ctx, "k", []byte("new")); err != nil {
				t.Error(err)
			}
		})
	}
	f.mu.Unlock()
	if _, err := s.Get(ctx, "k"); !errors.Is(err, backends.ErrKeyLost) {
		t.Fatalf("Get = %v, want ErrKeyLost", err)
	}
	if v, err := s.Get(ctx, "k"); err != nil || string(v) != "new" {
		t.Errorf("Get after = %q, %v; the concurrent Set's value must survive", v, err)
	}
}

func TestTooLarge(t *testing.T) {
	s, _, _ := newStore(t)
	if err := s.Set(context.Background(), "k", make([]byte, MaxValueSize+1)); !errors.Is(err, backends.ErrTooLarge) {
		t.Errorf("Set(1 MiB + 1) = %v, want ErrTooLarge", err)
	}
}

func TestDescribe(t *testing.T) {
	dirPath := filepath.Join(t.TempDir(), "tpm")
	s, err := Open(newFakeSealer(), dirPath)
	if err != nil {
		t.Fatal(err)
	}
	d := s.Describe()
	if d.Name != "tpm" || d.Protection != backends.ProtectionHardware || !strings.Contains(d.Detail, "fake TPM") || !strings.Contains(d.Detail, dirPath) {
		t.Errorf("Describe = %+v", d)
	}
}

// checkOnDisk checks what the folder holds after values were set: files
// 0600 in a 0700 folder, named by hash, and none holds a value in the
// clear (nor in base64). values maps keys to what was stored.
func checkOnDisk(t *testing.T, dirPath string, values map[string][]byte) {
	t.Helper()
	fi, err := os.Stat(dirPath)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o700 {
		t.Errorf("folder mode %v, want 0700", fi.Mode().Perm())
	}
	entries, err := os.ReadDir(dirPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(values) {
		t.Errorf("%d files for %d values (temporary files left?)", len(entries), len(values))
	}
	d := &dir{path: dirPath}
	for k := range values {
		if _, err := os.Stat(d.file(k)); err != nil {
			t.Errorf("no file for %q: %v", k, err)
		}
	}
	for _, e := range entries {
		p := filepath.Join(dirPath, e.Name())
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range values {
			for _, form := range [][]byte{v, []byte(base64.StdEncoding.EncodeToString(v)), []byte(base64.RawURLEncoding.EncodeToString(v))} {
				if bytes.Contains(b, form) {
					t.Errorf("%s holds the value of %q in the clear", e.Name(), k)
				}
			}
		}
	}
}

func TestDirOnDisk(t *testing.T) {
	dirPath := filepath.Join(t.TempDir(), "tpm")
	s, err := Open(newFakeSealer(), dirPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	values := map[string][]byte{
		"session/work":    []byte("refresh-token-0123456789abcdef"),
		"ключ/🔑":          []byte("unicode-key-secret-value"),
		"../../etc/x":     []byte("a key that looks like a path"),
		"device-key/v1":   bytes.Repeat([]byte("Z"), 4096),
		"session/Work":    []byte("case-differs-secret-value"),
		"k with\nnewline": []byte("newline-key-secret-value"),
	}
	for k, v := range values {
		if err := s.Set(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	checkOnDisk(t, dirPath, values)
	keys, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for k := range values {
		want = append(want, k)
	}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("List = %q, want %q", keys, want)
	}
}

func TestOpenDir(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no POSIX modes")
	}
	dirPath := filepath.Join(t.TempDir(), "tpm")
	if err := os.Mkdir(dirPath, 0o755); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dirPath, tmpPrefix+"crashed")
	young := filepath.Join(dirPath, tmpPrefix+"in-progress")
	for _, p := range []string{old, young} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * time.Hour)
	os.Chtimes(old, past, past)
	if _, err := Open(newFakeSealer(), dirPath); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dirPath); fi.Mode().Perm() != 0o700 {
		t.Errorf("mode of an existing 0755 folder = %v, want 0700", fi.Mode().Perm())
	}
	if _, err := os.Stat(old); err == nil {
		t.Error("a temporary file from a crash two hours ago is still there")
	}
	if _, err := os.Stat(young); err != nil {
		t.Error("a temporary file of a write in progress was removed")
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := Open(newFakeSealer(), file); err == nil {
		t.Error("Open on a file succeeded")
	}
}
