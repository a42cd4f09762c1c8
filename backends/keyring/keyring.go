// Package keyring stores values in the Linux kernel keyring, as "user" keys
// in the user keyring of the process's real UID ("@u" to keyctl(1)).
//
// The kernel keeps the values in kernel memory, outside any file, readable by
// processes of the same user, and forgets them at reboot. Each [Store] puts
// its keys under the key description prefix+key, so that Mayfly's entries do
// not collide with other programs' keys in the same keyring. A store follows
// the contract of [github.com/mayflyhq/mayfly/backends]; [Available] reports
// whether the kernel keyring works for this process.
//
// The store never uses the session keyring (KEY_SPEC_SESSION_KEYRING, "@s"):
// merely looking it up can make the kernel give the calling thread a new,
// empty session keyring that does not link the user keyring. From then on
// the thread no longer "possesses" keys in the user keyring, and keys with
// the kernel's default permissions can no longer be read. See keyrings(7)
// and https://man7.org/linux/man-pages/man7/keyrings.7.html#POSSESSION.
//
// On systems other than Linux every operation returns an error matching
// [backends.ErrUnsupported].
package keyring

// MaxValueSize is the largest value, in bytes, that a [Store] accepts. The
// kernel caps the payload of a "user" key at 32767 bytes, and the store
// spends one of them on a format byte: the kernel refuses an empty payload,
// and the contract requires empty values to round-trip.
const MaxValueSize = 32767 - 1

// maxPrefixLen keeps prefix+key within the kernel's 4095-byte limit on key
// descriptions (KEY_MAX_DESC_SIZE minus the terminating NUL).
const maxPrefixLen = 4095 - 512
