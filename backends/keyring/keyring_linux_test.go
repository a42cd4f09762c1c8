package keyring_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/mayflyhq/mayfly/backends"
	"github.com/mayflyhq/mayfly/backends/backendtest"
	"github.com/mayflyhq/mayfly/backends/keyring"
)

var _ backendtest.Store = (*keyring.Store)(nil)

// wantPerm is the permission mask, as KEYCTL_DESCRIBE prints it, that the
// store gives its keys: possessor all, user view/read/write/search/link/setattr.
const wantPerm = "3f3f0000"

// trapEnv, when set, makes TestPossessionTrap run as the child process; its
// value is the parent's key prefix.
const trapEnv = "MAYFLY_KEYRING_TEST_TRAP_PREFIX"

// needKeyring skips the test if the kernel keyring does not work here.
func needKeyring(t *testing.T) {
	t.Helper()
	if err := keyring.Available(); err != nil {
		t.Skipf("kernel keyring unavailable: %v", err)
	}
}

// testPrefix returns a prefix no other test run uses, and checks at the end
// of the test that nothing under it was left in the keyring.
func testPrefix(t *testing.T) string {
	t.Helper()
	p := "mayfly-test-" + rand.Text()[:12] + ":"
	t.Cleanup(func() {
		keys, err := keyring.New(p).List(context.Background())
		if err != nil {
			t.Errorf("List after test: %v", err)
		}
		if len(keys) > 0 {
			t.Errorf("test left keys under prefix %q: %q", p, keys)
		}
	})
	return p
}

// describe returns the KEYCTL_DESCRIBE fields of the "user" key desc in the
// user keyring: type, uid, gid, perm, description.
func describe(t *testing.T, desc string) []string {
	t.Helper()
	id, err := unix.KeyctlSearch(unix.KEY_SPEC_USER_KEYRING, "user", desc, 0)
	if err != nil {
		t.Fatalf("search %q: %v", desc, err)
	}
	d, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, id)
	if err != nil {
		t.Fatalf("describe %q: %v", desc, err)
	}
	return strings.SplitN(d, ";", 5)
}

// addRaw adds a key to the user keyring behind the store's back and removes
// it when the test ends.
func addRaw(t *testing.T, typ, desc string, payload []byte) {
	t.Helper()
	id, err := unix.AddKey(typ, desc, payload, unix.KEY_SPEC_USER_KEYRING)
	if err != nil {
		t.Fatalf("add_key(%q, %q): %v", typ, desc, err)
	}
	t.Cleanup(func() {
		if _, err := unix.KeyctlInt(unix.KEYCTL_INVALIDATE, id, 0, 0, 0); err != nil {
			t.Errorf("invalidate %q: %v", desc, err)
		}
	})
}

func TestConformance(t *testing.T) {
	needKeyring(t)
	prefix := testPrefix(t)
	backendtest.Run(t, func(t *testing.T) backendtest.Store { return keyring.New(prefix) })
}

func TestPermissions(t *testing.T) {
	needKeyring(t)
	prefix := testPrefix(t)
	s := keyring.New(prefix)
	for _, v := range []string{"first", "second"} { // create, then update
		if err := s.Set(t.Context(), "perm", []byte(v)); err != nil {
			t.Fatalf("Set: %v", err)
		}
		f := describe(t, prefix+"perm")
		if f[0] != "user" || f[1] != fmt.Sprint(os.Getuid()) || f[3] != wantPerm {
			t.Errorf("after Set(%q): key is %q, want a user key of uid %d with perm %s", v, f, os.Getuid(), wantPerm)
		}
	}
	if err := s.Delete(t.Context(), "perm"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
}

func TestTooLarge(t *testing.T) {
	needKeyring(t)
	s := keyring.New(testPrefix(t))
	for _, n := range []int{keyring.MaxValueSize + 1, 32768, 1 << 20} {
		err := s.Set(t.Context(), "big", make([]byte, n))
		if !errors.Is(err, backends.ErrTooLarge) {
			t.Errorf("Set of %d bytes = %v, want an error matching backends.ErrTooLarge", n, err)
		}
		if _, err := s.Get(t.Context(), "big"); !errors.Is(err, backends.ErrNotFound) {
			t.Errorf("Get after refused Set of %d bytes = %v, want ErrNotFound", n, err)
		}
	}

	v := bytes.Repeat([]byte{0xa5}, keyring.MaxValueSize)
	err := s.Set(t.Context(), "big", v)
	if errors.Is(err, unix.EDQUOT) {
		// The default quota for users other than root is 20000 bytes.
		t.Skipf("Set of %d bytes: %v", len(v), err)
	}
	if err != nil {
		t.Fatalf("Set of MaxValueSize (%d) bytes: %v", len(v), err)
	}
	t.Cleanup(func() { s.Delete(context.Background(), "big") })
	got, err := s.Get(t.Context(), "big")
	if err != nil || !bytes.Equal(got, v) {
		t.Fatalf("Get = %d bytes, %v; want the %d bytes set", len(got), err, len(v))
	}
}

func TestListOtherPrefixes(t *testing.T) {
	needKeyring(t)
	base := testPrefix(t) // "mayfly-test-XXXX:"
	a, b := keyring.New(base+"a:"), keyring.New(base+"b:")
	for _, kv := range []struct {
		s   *keyring.Store
		key string
	}{{a, "k1"}, {a, "k2"}, {b, "k3"}} {
		if err := kv.s.Set(t.Context(), kv.key, []byte("v")); err != nil {
			t.Fatalf("Set(%q): %v", kv.key, err)
		}
		t.Cleanup(func() { kv.s.Delete(context.Background(), kv.key) })
	}
	// Near misses that a's List must skip: the prefix without its final
	// byte, and a key of another type (a keyring) under the prefix.
	addRaw(t, "user", base+"a", []byte("v"))
	addRaw(t, "keyring", base+"a:ring", nil)

	for _, tt := range []struct {
		name string
		s    *keyring.Store
		want []string
	}{
		{"a", a, []string{"k1", "k2"}},
		{"b", b, []string{"k3"}},
		{"unused", keyring.New(base + "c:"), nil},
	} {
		got, err := tt.s.List(t.Context())
		if err != nil {
			t.Fatalf("List %s: %v", tt.name, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("List %s mismatch (-want +got):\n%s", tt.name, diff)
		}
	}

	// Stores with different prefixes don't see each other's keys.
	if _, err := b.Get(t.Context(), "k1"); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("b.Get(k1) = %v, want ErrNotFound", err)
	}
	if err := b.Delete(t.Context(), "k1"); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("b.Delete(k1) = %v, want ErrNotFound", err)
	}
}

func TestForeignPayload(t *testing.T) {
	needKeyring(t)
	prefix := testPrefix(t)
	addRaw(t, "user", prefix+"raw", []byte("written by keyctl(1)"))
	_, err := keyring.New(prefix).Get(t.Context(), "raw")
	if err == nil || errors.Is(err, backends.ErrNotFound) {
		t.Errorf("Get of a key without the format byte = %v, want a format error", err)
	}
}

func TestBadPrefix(t *testing.T) {
	for _, p := range []string{"mayfly\x00:", strings.Repeat("p", 4000)} {
		s := keyring.New(p)
		if err := s.Set(t.Context(), "k", []byte("v")); err == nil {
			t.Errorf("Set with prefix of %d bytes %.20q succeeded, want an error", len(p), p)
		}
		if _, err := s.List(t.Context()); err == nil {
			t.Errorf("List with prefix of %d bytes %.20q succeeded, want an error", len(p), p)
		}
	}
}

func TestCanceledContext(t *testing.T) {
	needKeyring(t)
	s := keyring.New(testPrefix(t))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Set(ctx, "k", []byte("v")); !errors.Is(err, context.Canceled) {
		t.Errorf("Set with a canceled context = %v, want context.Canceled", err)
	}
}

func TestDescribe(t *testing.T) {
	d := keyring.New("mayfly:").Describe()
	want := backends.Description{
		Name:       "kernel-keyring",
		Protection: backends.ProtectionOSUser,
		Detail:     fmt.Sprintf("Linux kernel user keyring of uid %d; entries are lost at reboot", os.Getuid()),
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("Describe mismatch (-want +got):\n%s", diff)
	}
}

// TestPossessionTrap runs the store in a process whose session keyring does
// not link the user keyring (peers.md §4b), so that the process does not
// possess the keys in the user keyring. It re-runs the test binary as that
// process: the parent joins a new anonymous session keyring on a locked
// thread that then starts the child, which inherits it on all its threads.
func TestPossessionTrap(t *testing.T) {
	if prefix := os.Getenv(trapEnv); prefix != "" {
		trappedChild(t, prefix)
		return
	}
	needKeyring(t)
	prefix := testPrefix(t)
	s := keyring.New(prefix)
	if err := s.Set(t.Context(), "from-parent", []byte("parent value")); err != nil {
		t.Fatalf("Set: %v", err)
	}
	t.Cleanup(func() {
		s.Delete(context.Background(), "from-parent")
		s.Delete(context.Background(), "from-child")
	})

	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		// Never unlocked: the thread, and the session keyring it joins,
		// end with this goroutine, so no other test runs on it.
		runtime.LockOSThread()
		_, _, errno := unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_JOIN_SESSION_KEYRING, 0, 0)
		if errno != 0 {
			done <- result{err: fmt.Errorf("join anonymous session keyring: %w", errno)}
			return
		}
		// os/exec forks on the calling thread, so the child inherits the
		// new session keyring.
		cmd := exec.Command(os.Args[0], "-test.run=^TestPossessionTrap$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), trapEnv+"="+prefix)
		out, err := cmd.CombinedOutput()
		done <- result{out, err}
	}()
	r := <-done
	if r.err != nil {
		t.Fatalf("child: %v\n%s", r.err, r.out)
	}
	if !bytes.Contains(r.out, []byte("trap confirmed")) {
		t.Fatalf("child did not confirm the trap:\n%s", r.out)
	}
	t.Logf("child output:\n%s", r.out)

	// What the unpossessing child wrote is readable here, with the same
	// permissions as keys written with possession.
	for k, want := range map[string]string{"from-parent": "updated by child", "from-child": "child value"} {
		got, err := s.Get(t.Context(), k)
		if err != nil || string(got) != want {
			t.Errorf("Get(%q) = %q, %v; want %q", k, got, err, want)
		}
		if f := describe(t, prefix+k); f[3] != wantPerm {
			t.Errorf("key %q has perm %s, want %s", k, f[3], wantPerm)
		}
	}
}

func trappedChild(t *testing.T, prefix string) {
	// Check that this process really lacks possession: a key it adds to the
	// user keyring keeps the kernel's default mask, which it cannot change.
	probe := prefix + "probe"
	id, err := unix.AddKey("user", probe, []byte("x"), unix.KEY_SPEC_USER_KEYRING)
	if err != nil {
		t.Fatalf("add_key: %v", err)
	}
	err = unix.KeyctlSetperm(id, 0x3f3f0000)
	if _, uerr := unix.KeyctlInt(unix.KEYCTL_UNLINK, id, unix.KEY_SPEC_USER_KEYRING, 0, 0); uerr != nil {
		t.Errorf("unlink probe: %v", uerr)
	}
	if !errors.Is(err, unix.EACCES) {
		t.Fatalf("setperm on an unpossessed key = %v, want EACCES; the trap was not reproduced", err)
	}
	t.Log("trap confirmed: setperm on a new key in @u fails with EACCES")

	s := keyring.New(prefix)
	got, err := s.Get(t.Context(), "from-parent")
	if err != nil || string(got) != "parent value" {
		t.Fatalf("Get(from-parent) = %q, %v; want %q", got, err, "parent value")
	}
	if err := s.Set(t.Context(), "from-parent", []byte("updated by child")); err != nil {
		t.Fatalf("Set(from-parent): %v", err)
	}
	if err := s.Set(t.Context(), "from-child", []byte("child value")); err != nil {
		t.Fatalf("Set(from-child): %v", err)
	}
	keys, err := s.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if diff := cmp.Diff([]string{"from-child", "from-parent"}, keys); diff != "" {
		t.Errorf("List mismatch (-want +got):\n%s", diff)
	}
	// The whole contract holds without possession too.
	childPrefix := prefix + "child:"
	backendtest.Run(t, func(t *testing.T) backendtest.Store { return keyring.New(childPrefix) })
}
