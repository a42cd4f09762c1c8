//go:build linux

package keyring

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/mayflyhq/mayfly/backends"
)

const (
	// keyType is the kernel key type. "user" keys hold an arbitrary blob of
	// up to 32767 bytes that user space may read back.
	keyType = "user"

	// userKeyring is the only keyring values are stored in.
	userKeyring = unix.KEY_SPEC_USER_KEYRING

	// formatV1 is the first payload byte: version 1, the value follows
	// verbatim. The kernel refuses empty "user" payloads, so without it an
	// empty value could not be stored.
	formatV1 = 0x01
)

// Key permission bits from <linux/keyctl.h>; golang.org/x/sys/unix does not
// define them.
const (
	permPossessorAll = 0x3f000000

	permUserView    = 0x00010000
	permUserRead    = 0x00020000
	permUserWrite   = 0x00040000
	permUserSearch  = 0x00080000
	permUserLink    = 0x00100000
	permUserSetattr = 0x00200000
)

// keyPerm is the permission mask of every key the store writes.
//
// The kernel gives a new key full rights for its possessor and only "view"
// to its owning user. A process possesses a key when it can reach the key
// from its own thread, process or session keyring. Login sessions usually
// link the user keyring into the session keyring, but a process that runs
// with a session keyring that does not (one started by sudo or su from
// another user's session, a service with a private session keyring, a
// program that called keyctl(KEYCTL_JOIN_SESSION_KEYRING)) does not possess
// the user keyring's keys: with the default mask it could find our key but
// not read, update or delete it. Granting the owning user the rights below
// makes the key usable by every process of that user, which is exactly the
// protection the user keyring promises ([backends.ProtectionOSUser]).
// Group and other get nothing.
const keyPerm = permPossessorAll |
	permUserView | permUserRead | permUserWrite | permUserSearch | permUserLink | permUserSetattr

// Store is a store in the kernel user keyring. A Store is safe for concurrent
// use; it holds no state besides its prefix, so any number of Stores, in any
// number of processes, may share the keyring.
type Store struct {
	prefix string
	err    error // non-nil if prefix is unusable
}

// New returns a store that keeps key k under the key description prefix+k,
// for example "mayfly:" + k. The prefix keeps the store's keys apart from
// other programs' keys and from stores with another prefix; it must not
// contain a NUL byte and must be at most 3583 bytes long. A bad prefix makes
// every operation fail.
func New(prefix string) *Store {
	s := &Store{prefix: prefix}
	switch {
	case strings.IndexByte(prefix, 0) >= 0:
		s.err = fmt.Errorf("invalid prefix %q: contains a NUL byte", prefix)
	case len(prefix) > maxPrefixLen:
		s.err = fmt.Errorf("invalid prefix: %d bytes, more than %d", len(prefix), maxPrefixLen)
	}
	return s
}

// Available reports whether the kernel keyring works for this process. It
// returns nil if it does, and otherwise an error that says what is wrong and
// matches [backends.ErrUnsupported].
func Available() error {
	// A probe that cannot change anything visible: look up (creating if
	// need be) the user keyring of this UID.
	_, err := unix.KeyctlGetKeyringID(userKeyring, true)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.ENOSYS):
		return fmt.Errorf("keyring: the kernel has no key management (CONFIG_KEYS is off): %w: %w", backends.ErrUnsupported, err)
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("keyring: keyctl is blocked for this process (a seccomp filter such as Docker's default profile, or a security module): %w: %w", backends.ErrUnsupported, err)
	default:
		return fmt.Errorf("keyring: cannot open the user keyring: %w: %w", backends.ErrUnsupported, err)
	}
}

// Get returns the value stored under key. It returns an error matching
// [backends.ErrNotFound] if there is none.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.check(ctx, key); err != nil {
		return nil, fmt.Errorf("keyring: get %q: %w", key, err)
	}
	v, err := get(s.prefix + key)
	if err != nil {
		return nil, fmt.Errorf("keyring: get %q: %w", key, err)
	}
	return v, nil
}

// Set stores value under key, replacing any previous value atomically. A
// value longer than [MaxValueSize] gives an error matching
// [backends.ErrTooLarge], as does a full key quota (see keyrings(7),
// /proc/sys/kernel/keys/maxbytes).
func (s *Store) Set(ctx context.Context, key string, value []byte) error {
	if err := s.check(ctx, key); err != nil {
		return fmt.Errorf("keyring: set %q: %w", key, err)
	}
	if len(value) > MaxValueSize {
		return fmt.Errorf("keyring: set %q: %d bytes, more than %d: %w", key, len(value), MaxValueSize, backends.ErrTooLarge)
	}
	payload := make([]byte, 1+len(value))
	payload[0] = formatV1
	copy(payload[1:], value)
	defer clear(payload)
	if err := set(s.prefix+key, payload); err != nil {
		return fmt.Errorf("keyring: set %q: %w", key, err)
	}
	return nil
}

// Delete removes key. It returns an error matching [backends.ErrNotFound] if
// there is nothing to remove.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.check(ctx, key); err != nil {
		return fmt.Errorf("keyring: delete %q: %w", key, err)
	}
	if err := del(s.prefix + key); err != nil {
		return fmt.Errorf("keyring: delete %q: %w", key, err)
	}
	return nil
}

// List returns, in sorted order, the keys of this store's prefix that are
// linked directly in the user keyring.
func (s *Store) List(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("keyring: list: %w", err)
	}
	if s.err != nil {
		return nil, fmt.Errorf("keyring: list: %w", s.err)
	}
	keys, err := list(s.prefix)
	if err != nil {
		return nil, fmt.Errorf("keyring: list: %w", err)
	}
	return keys, nil
}

// Describe reports the keyring and the UID it belongs to.
func (s *Store) Describe() backends.Description {
	return backends.Description{
		Name:       "kernel-keyring",
		Protection: backends.ProtectionOSUser,
		Detail:     fmt.Sprintf("Linux kernel user keyring of uid %d; entries are lost at reboot", os.Getuid()),
	}
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

// get reads the value of the "user" key desc in the user keyring.
func get(desc string) ([]byte, error) {
	for attempt := 1; ; attempt++ {
		id, err := unix.KeyctlSearch(userKeyring, keyType, desc, 0)
		if err != nil {
			return nil, mapErr(err)
		}
		payload, err := read(id)
		if err != nil {
			// Between search and read the key may have been deleted, or
			// displaced by a Set that linked a new key in its place (see
			// setUnpossessed). Search again to find the new one, if any.
			if gone(err) && attempt < 3 {
				continue
			}
			return nil, mapErr(err)
		}
		if len(payload) == 0 || payload[0] != formatV1 {
			clear(payload)
			return nil, errors.New("unrecognized payload format (key not written by this package)")
		}
		return payload[1:], nil
	}
}

// read returns the payload of key id (for a keyring, the IDs of the keys it
// links).
func read(id int) ([]byte, error) {
	// The first call, with no buffer, returns the payload size. The size
	// can grow before the next call (a concurrent update), so loop.
	var buf []byte
	for {
		n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, id, buf, 0)
		if err != nil {
			clear(buf)
			return nil, err
		}
		if n <= len(buf) {
			return buf[:n], nil
		}
		// Too small. Some kernels copy a truncated payload anyway; wipe it.
		clear(buf)
		buf = make([]byte, n)
	}
}

// set adds or updates the "user" key desc in the user keyring.
func set(desc string, payload []byte) error {
	// add_key updates the payload of an existing key with the same type and
	// description in place, and the "user" type swaps the payload in one
	// step (RCU), so readers see the old value or the new one.
	id, err := unix.AddKey(keyType, desc, payload, userKeyring)
	if err == nil {
		err = unix.KeyctlSetperm(id, keyPerm)
		if err == nil {
			return nil
		}
	}
	if !errors.Is(err, unix.EACCES) {
		return mapErr(err)
	}
	// EACCES: this process does not possess the user keyring (see keyPerm),
	// so it could create the key but cannot set its permissions, or it
	// cannot update an existing key that lacks user "write".
	if err := setUnpossessed(desc, payload); err != nil {
		if id > 0 {
			// Don't leave behind a key that the user's other processes
			// cannot read.
			unix.KeyctlInt(unix.KEYCTL_UNLINK, id, userKeyring, 0, 0)
		}
		return err
	}
	return nil
}

// setUnpossessed stores a key for a process that does not possess the user
// keyring. It creates the key in a thread keyring, which its thread always
// possesses, sets the permissions, and links the key into the user keyring,
// which atomically displaces any key there with the same type and
// description.
func setUnpossessed(desc string, payload []byte) error {
	errc := make(chan error, 1)
	go func() {
		// A thread keyring belongs to one OS thread. Lock this goroutine to
		// its thread and never unlock it: the runtime then ends the thread
		// when the goroutine returns, and the thread keyring goes with it,
		// leaving no keyring state behind in the process.
		runtime.LockOSThread()
		errc <- viaThreadKeyring(desc, payload)
	}()
	return <-errc
}

func viaThreadKeyring(desc string, payload []byte) error {
	id, err := unix.AddKey(keyType, desc, payload, unix.KEY_SPEC_THREAD_KEYRING)
	if err != nil {
		return mapErr(err)
	}
	// Once linked into the user keyring, the key must not stay in the
	// thread keyring; on failure, this drops its last link and the kernel
	// destroys it.
	defer unix.KeyctlInt(unix.KEYCTL_UNLINK, id, unix.KEY_SPEC_THREAD_KEYRING, 0, 0)
	if err := unix.KeyctlSetperm(id, keyPerm); err != nil {
		return mapErr(err)
	}
	if _, err := unix.KeyctlInt(unix.KEYCTL_LINK, id, userKeyring, 0, 0); err != nil {
		return mapErr(err)
	}
	return nil
}

// del removes the "user" key desc from the user keyring.
func del(desc string) error {
	id, err := unix.KeyctlSearch(userKeyring, keyType, desc, 0)
	if err != nil {
		return mapErr(err)
	}
	// Invalidate rather than unlink: the kernel then destroys the key, and
	// wipes the payload, even if something else linked it elsewhere.
	_, err = unix.KeyctlInt(unix.KEYCTL_INVALIDATE, id, 0, 0, 0)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EACCES) {
		// Kernels before 3.5 lack KEYCTL_INVALIDATE, and it needs "search"
		// permission, which a key written by another program may not
		// grant. Unlinking needs only "write" on the user keyring.
		_, err = unix.KeyctlInt(unix.KEYCTL_UNLINK, id, userKeyring, 0, 0)
	}
	if err != nil {
		return mapErr(err)
	}
	return nil
}

// list returns the keys stored under prefix, without the prefix.
func list(prefix string) ([]string, error) {
	ring, err := unix.KeyctlGetKeyringID(userKeyring, true)
	if err != nil {
		return nil, mapErr(err)
	}
	// Reading a keyring returns the IDs (key_serial_t, int32) of the keys
	// it links, in native byte order.
	ids, err := read(ring)
	if err != nil {
		return nil, mapErr(err)
	}
	var keys []string
	for b := ids; len(b) >= 4; b = b[4:] {
		id := int(int32(binary.NativeEndian.Uint32(b)))
		// "type;uid;gid;perm;description". The description comes last and
		// may itself contain ';'.
		d, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, id)
		if err != nil {
			if gone(err) || errors.Is(err, unix.EACCES) {
				continue // deleted meanwhile, or not ours to see
			}
			return nil, mapErr(err)
		}
		f := strings.SplitN(d, ";", 5)
		if len(f) != 5 || f[0] != keyType || !strings.HasPrefix(f[4], prefix) {
			continue
		}
		if k := f[4][len(prefix):]; backends.ValidKey(k) == nil {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

// gone reports whether err means the key no longer exists or can no longer
// be used.
func gone(err error) bool {
	return errors.Is(err, unix.ENOKEY) || errors.Is(err, unix.EKEYREVOKED) || errors.Is(err, unix.EKEYEXPIRED)
}

// mapErr turns kernel errors into the sentinels of package backends, keeping
// the errno in the chain where it adds information.
func mapErr(err error) error {
	switch {
	case errors.Is(err, unix.ENOKEY):
		return backends.ErrNotFound
	case gone(err):
		return fmt.Errorf("%w: %w", backends.ErrNotFound, err)
	case errors.Is(err, unix.EDQUOT):
		return fmt.Errorf("%w: the user's key quota is exhausted (see /proc/sys/kernel/keys/maxbytes and maxkeys): %w", backends.ErrTooLarge, err)
	case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM):
		return fmt.Errorf("%w: %w", backends.ErrUnsupported, err)
	}
	return err
}
