// Package tpm is the TPM-sealed store, "tpm": values bound to this
// machine's TPM 2.0, so that a copy of the files is useless anywhere else.
//
// Each value gets its own envelope: a fresh random 32-byte data key,
// sealed by the TPM ([github.com/mayflyhq/mayfly/attest/tpm]), encrypts the
// value with AES-256-GCM, with the key name as associated data so an
// envelope cannot be passed off under another name. The envelope is a small
// versioned JSON document,
//
//	{"v":1,"alg":"A256GCM","key":"…","seal":{"pub":…,"priv":…},"nonce":…,"ct":…}
//
// kept in a folder (see [Open]): one file per key, named by the SHA-256 of
// the key, replaced atomically. The TPM never sees the value, only the data
// key (a sealed object holds at most 128 bytes), and it sees that through
// an encrypted session. Nothing but ciphertext and the TPM's own encrypted
// blobs reaches the disk.
//
// A TPM-sealed value can be lost; the store treats that as "sign in
// again", never as a crash (tailscale turned TPM-sealed state off by
// default after users hit exactly this, PR #18336):
//
//   - Key lost: the TPM was cleared (a firmware update, an fTPM reset) or
//     replaced, or the envelope was damaged or tampered with. Get removes
//     the stale envelope and returns an error matching
//     [backends.ErrKeyLost]: the caller signs in again and Sets a new value.
//   - Locked: the TPM is in dictionary-attack lockout, caused by another
//     program (Mayfly's objects are NoDA). Get and Set fail with
//     [backends.ErrLocked]; nothing is removed; retry later.
//   - No TPM, or no permission to use it (on Linux, a user outside the tss
//     group): the error matches [backends.ErrUnsupported], and store
//     selection falls back to the operating system's store and says so.
package tpm

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	tpmdev "github.com/mayflyhq/mayfly/attest/tpm"
	"github.com/mayflyhq/mayfly/backends"
)

// Sealer binds a data key to the TPM; *[tpmdev.TPM] is one. Errors
// matching [tpmdev.ErrKeyLost], [tpmdev.ErrLocked] and
// [tpmdev.ErrUnavailable] are mapped to the store's outcomes.
type Sealer interface {
	Seal(data []byte) (*tpmdev.Sealed, error)
	Unseal(s *tpmdev.Sealed) ([]byte, error)
}

// Blobs is where the store keeps envelopes, under the store's own keys.
// It follows the contract of [backends]: [Open] uses a folder of files;
// tests may pass [github.com/mayflyhq/mayfly/backends/memory]. If it has a
// List method, so does the store.
type Blobs interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Set(ctx context.Context, key string, value []byte) error
	Delete(ctx context.Context, key string) error
}

type lister interface {
	List(ctx context.Context) ([]string, error)
}

// MaxValueSize is the largest value the store takes. Tokens are a few KiB;
// the limit keeps a runaway caller from filling the disk.
const MaxValueSize = 1 << 20

// Envelope format.
const (
	version = 1
	alg     = "A256GCM" // AES-256-GCM, named as in JOSE (RFC 7518 §5.3)
	keySize = 32
	// aadPrefix goes before the key name in the associated data: it ties
	// the ciphertext to this format and version as well as to the name.
	aadPrefix = "mayfly/backends/tpm v1\x00"
)

// envelope is one stored value.
type envelope struct {
	V     int           `json:"v"`
	Alg   string        `json:"alg"`
	Key   string        `json:"key"` // for List; also bound by the AAD
	Seal  tpmdev.Sealed `json:"seal"`
	Nonce []byte        `json:"nonce"`
	CT    []byte        `json:"ct"`
}

// Store is the TPM-sealed store. It is safe for concurrent use.
type Store struct {
	sealer Sealer
	blobs  Blobs
	where  string
	// mu orders writes with the removal of a stale envelope, so that Get
	// never removes a value that a concurrent Set just wrote.
	mu sync.Mutex
}

// Open returns a store that seals with s and keeps its envelopes in dir,
// which it creates (0700) if need be.
func Open(s Sealer, dir string) (*Store, error) {
	d, err := openDir(dir)
	if err != nil {
		return nil, fmt.Errorf("tpm: %w", err)
	}
	return New(s, d, dir), nil
}

// New returns a store that seals with s and keeps its envelopes in blobs;
// where says where that is, for Describe.
func New(s Sealer, blobs Blobs, where string) *Store {
	return &Store{sealer: s, blobs: blobs, where: where}
}

// Get returns the value stored under key: an error matching
// [backends.ErrNotFound] if there is none, [backends.ErrKeyLost] if it can
// no longer be decrypted (and is now removed), [backends.ErrLocked] if the
// TPM refuses for now, [backends.ErrUnsupported] if there is no usable TPM.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := check(ctx, key); err != nil {
		return nil, fmt.Errorf("tpm: get %q: %w", key, err)
	}
	raw, err := s.blobs.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("tpm: get %q: %w", key, err)
	}
	v, err := s.open(key, raw)
	var lost *lostError
	if errors.As(err, &lost) {
		s.removeStale(ctx, key, raw)
		return nil, fmt.Errorf("tpm: get %q: %w: %w", key, backends.ErrKeyLost, lost.err)
	}
	if err != nil {
		return nil, fmt.Errorf("tpm: get %q: %w", key, err)
	}
	return v, nil
}

// lostError marks why an envelope can never be opened again.
type lostError struct{ err error }

func (e *lostError) Error() string { return e.err.Error() }

func lost(format string, args ...any) error {
	return &lostError{fmt.Errorf(format, args...)}
}

// open decrypts an envelope.
func (s *Store) open(key string, raw []byte) ([]byte, error) {
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, lost("damaged envelope: %w", err)
	}
	switch {
	case env.V > version:
		// Written by a newer Mayfly: not damaged, so keep it.
		return nil, fmt.Errorf("envelope version %d is newer than this Mayfly understands (%d): upgrade Mayfly", env.V, version)
	case env.V != version || env.Alg != alg || env.Key != key:
		return nil, lost("damaged envelope (v %d, alg %q, key %q)", env.V, env.Alg, env.Key)
	}
	dek, err := s.sealer.Unseal(&env.Seal)
	if err != nil {
		if errors.Is(err, tpmdev.ErrKeyLost) {
			return nil, &lostError{err}
		}
		return nil, mapTPMError(err)
	}
	defer clear(dek)
	if len(dek) != keySize {
		return nil, lost("the sealed data key is %d bytes, not %d", len(dek), keySize)
	}
	aead, err := newAEAD(dek)
	if err != nil {
		return nil, err
	}
	if len(env.Nonce) != aead.NonceSize() {
		return nil, lost("damaged envelope: nonce of %d bytes", len(env.Nonce))
	}
	v, err := aead.Open(nil, env.Nonce, env.CT, aad(key))
	if err != nil {
		return nil, lost("the envelope does not decrypt (tampered with?): %w", err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// removeStale removes the envelope raw of key, unless a Set replaced it
// meanwhile. Failing to remove it is not worth reporting: the next Get
// finds it lost again.
func (s *Store) removeStale(ctx context.Context, key string, raw []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.blobs.Get(ctx, key)
	if err == nil && bytes.Equal(cur, raw) {
		s.blobs.Delete(ctx, key)
	}
}

// Set stores value under key, sealed to the TPM, replacing any previous
// value atomically.
func (s *Store) Set(ctx context.Context, key string, value []byte) error {
	if err := check(ctx, key); err != nil {
		return fmt.Errorf("tpm: set %q: %w", key, err)
	}
	if len(value) > MaxValueSize {
		return fmt.Errorf("tpm: set %q: %d bytes, more than %d: %w", key, len(value), MaxValueSize, backends.ErrTooLarge)
	}
	raw, err := s.seal(key, value)
	if err != nil {
		return fmt.Errorf("tpm: set %q: %w", key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.blobs.Set(ctx, key, raw); err != nil {
		return fmt.Errorf("tpm: set %q: %w", key, err)
	}
	return nil
}

// seal makes an envelope of value under a new data key.
func (s *Store) seal(key string, value []byte) ([]byte, error) {
	dek := make([]byte, keySize)
	rand.Read(dek)
	defer clear(dek)
	sealed, err := s.sealer.Seal(dek)
	if err != nil {
		return nil, mapTPMError(err)
	}
	if sealed == nil {
		return nil, errors.New("the sealer returned no blob")
	}
	aead, err := newAEAD(dek)
	if err != nil {
		return nil, err
	}
	// A random 96-bit nonce is safe: each data key encrypts one value.
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	return json.Marshal(envelope{
		V:     version,
		Alg:   alg,
		Key:   key,
		Seal:  *sealed,
		Nonce: nonce,
		CT:    aead.Seal(nil, nonce, value, aad(key)),
	})
}

// Delete removes key. It returns an error matching [backends.ErrNotFound]
// if there is nothing to remove. It needs no TPM.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := check(ctx, key); err != nil {
		return fmt.Errorf("tpm: delete %q: %w", key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.blobs.Delete(ctx, key); err != nil {
		return fmt.Errorf("tpm: delete %q: %w", key, err)
	}
	return nil
}

// List returns the stored keys in sorted order, without asking the TPM
// (an envelope that would not unseal is still listed). It fails if the
// store keeps its envelopes somewhere that cannot list them.
func (s *Store) List(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("tpm: list: %w", err)
	}
	l, ok := s.blobs.(lister)
	if !ok {
		return nil, fmt.Errorf("tpm: list: %s cannot list its entries", s.where)
	}
	keys, err := l.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("tpm: list: %w", err)
	}
	sort.Strings(keys)
	return keys, nil
}

// Describe names the TPM and where the envelopes are.
func (s *Store) Describe() backends.Description {
	who := "the TPM"
	if st, ok := s.sealer.(fmt.Stringer); ok {
		who = "the " + st.String()
	}
	return backends.Description{
		Name:       "tpm",
		Protection: backends.ProtectionHardware,
		Detail:     fmt.Sprintf("sealed by %s (AES-256-GCM under a TPM-sealed key per value); envelopes in %s", who, s.where),
	}
}

// mapTPMError turns the TPM's outcomes into the store's.
func mapTPMError(err error) error {
	switch {
	case errors.Is(err, tpmdev.ErrLocked):
		return fmt.Errorf("%w: %w", backends.ErrLocked, err)
	case errors.Is(err, tpmdev.ErrUnavailable):
		return fmt.Errorf("%w: %w", backends.ErrUnsupported, err)
	}
	return err
}

func newAEAD(dek []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(dek)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func aad(key string) []byte { return []byte(aadPrefix + key) }

func check(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return backends.ValidKey(key)
}
