//go:build darwin && cgo

package keychain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	gokeychain "github.com/keybase/go-keychain"

	"github.com/mayflyhq/mayfly/backends"
)

// Store is a store in the user's default keychain. A Store is safe for
// concurrent use; any number of Stores, in any number of processes, may
// share a service.
type Store struct {
	service string
	err     error // non-nil if service is unusable

	// mu orders this process's writers against its readers. Each Security
	// call is atomic on its own; the lock makes Set's update-or-add
	// sequence look atomic to this process too.
	mu sync.RWMutex
}

// New returns a store that keeps key k in the generic password item with
// the given service and account k. Use [DefaultService] unless you need a
// separate namespace, as tests do. An empty service, one longer than 256
// bytes, or one that is not valid UTF-8 or contains a NUL makes every
// operation fail.
func New(service string) *Store {
	return &Store{service: service, err: checkService(service)}
}

// Available reports whether the Keychain answers this process. The probe
// looks up an item that does not exist; it changes nothing. It cannot tell
// whether the login keychain is locked: reading a value can, and reports
// [ErrInteractionNotAllowed].
func Available() error {
	q := query(DefaultService, "mayfly availability probe (never stored)")
	q.SetMatchLimit(gokeychain.MatchLimitOne)
	q.SetReturnAttributes(true)
	if _, err := gokeychain.QueryItem(q); err != nil {
		return fmt.Errorf("keychain: %w", mapErr(err))
	}
	return nil
}

// query returns an item that matches the generic password of service and
// account. Searches compare these strings case-sensitively, as the store
// contract wants, since kSecMatchCaseInsensitive is left out
// (https://developer.apple.com/documentation/security/ksecmatchcaseinsensitive).
// kSecAttrSynchronizable is left out too: a search then matches only items
// that are not synchronizable, which are the only ones a Store writes
// (https://developer.apple.com/documentation/security/ksecattrsynchronizable).
func query(service, account string) gokeychain.Item {
	q := gokeychain.NewItem()
	q.SetSecClass(gokeychain.SecClassGenericPassword)
	q.SetService(service)
	q.SetAccount(account)
	return q
}

// mapErr maps a go-keychain error to the store's errors.
func mapErr(err error) error {
	var status gokeychain.Error
	if errors.As(err, &status) {
		return statusError(int(status), err)
	}
	return err
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
// [backends.ErrNotFound] if there is none.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.check(ctx, key); err != nil {
		return nil, fmt.Errorf("keychain: get %q: %w", key, err)
	}
	q := query(s.service, key)
	q.SetMatchLimit(gokeychain.MatchLimitOne)
	q.SetReturnData(true)
	s.mu.RLock()
	// SecItemCopyMatching with kSecReturnData and kSecMatchLimitOne.
	// https://developer.apple.com/documentation/security/secitemcopymatching(_:_:)
	results, err := gokeychain.QueryItem(q)
	s.mu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("keychain: get %q: %w", key, mapErr(err))
	}
	// go-keychain reports errSecItemNotFound from SecItemCopyMatching as
	// no results.
	switch len(results) {
	case 0:
		return nil, fmt.Errorf("keychain: get %q: %w", key, backends.ErrNotFound)
	case 1:
	default:
		return nil, fmt.Errorf("keychain: get %q: %d items match, want one", key, len(results))
	}
	v, err := decodeValue(results[0].Data)
	clear(results[0].Data)
	if err != nil {
		return nil, fmt.Errorf("keychain: get %q: %w", key, err)
	}
	return v, nil
}

// Set stores value under key, replacing any previous value.
//
// An existing item is updated in place (SecItemUpdate), so that a reader in
// another process sees the old value or the new one, never no value; only a
// missing item is added (SecItemAdd).
func (s *Store) Set(ctx context.Context, key string, value []byte) error {
	if err := s.check(ctx, key); err != nil {
		return fmt.Errorf("keychain: set %q: %w", key, err)
	}
	data := encodeValue(value)
	defer clear(data)

	update := gokeychain.NewItem()
	update.SetData(data)
	update.SetLabel(label(s.service, key))

	add := query(s.service, key)
	add.SetData(data)
	add.SetLabel(label(s.service, key))
	add.SetDescription("Mayfly secret store entry")
	// Never copied to iCloud Keychain or to other devices.
	// https://developer.apple.com/documentation/security/ksecattrsynchronizable
	add.SetSynchronizable(gokeychain.SynchronizableNo)
	// Readable once the user has unlocked the device after boot, on this
	// device only (never restored from a backup onto another). macOS
	// enforces this in the data-protection keychain, which needs a signed
	// app with a keychain-access-groups entitlement, and ignores it in the
	// file-based login keychain where a plain command-line program's items
	// land. Set it anyway, so that the item says what it is meant to be and
	// keeps that meaning should Mayfly's items move.
	// https://developer.apple.com/documentation/security/ksecattraccessibleafterfirstunlockthisdeviceonly
	add.SetAccessible(gokeychain.AccessibleAfterFirstUnlockThisDeviceOnly)

	s.mu.Lock()
	defer s.mu.Unlock()
	// Update first, add if missing, and update again if another process
	// added the item in between (errSecDuplicateItem).
	for range 2 {
		// https://developer.apple.com/documentation/security/secitemupdate(_:_:)
		err := gokeychain.UpdateItem(query(s.service, key), update)
		if !errors.Is(mapErr(err), backends.ErrNotFound) {
			if err != nil {
				return fmt.Errorf("keychain: set %q: %w", key, mapErr(err))
			}
			return nil
		}
		// https://developer.apple.com/documentation/security/secitemadd(_:_:)
		err = gokeychain.AddItem(add)
		var status gokeychain.Error
		if errors.As(err, &status) && int(status) == errSecDuplicateItem {
			continue
		}
		if err != nil {
			return fmt.Errorf("keychain: set %q: %w", key, mapErr(err))
		}
		return nil
	}
	return fmt.Errorf("keychain: set %q: the item kept appearing and disappearing under another writer", key)
}

// Delete removes key. It returns an error matching [backends.ErrNotFound] if
// there is nothing to remove.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.check(ctx, key); err != nil {
		return fmt.Errorf("keychain: delete %q: %w", key, err)
	}
	s.mu.Lock()
	// https://developer.apple.com/documentation/security/secitemdelete(_:)
	err := gokeychain.DeleteItem(query(s.service, key))
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("keychain: delete %q: %w", key, mapErr(err))
	}
	return nil
}

// List returns the stored keys in sorted order: the accounts of the
// service's generic password items.
func (s *Store) List(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("keychain: list: %w", err)
	}
	if s.err != nil {
		return nil, fmt.Errorf("keychain: list: %w", s.err)
	}
	q := gokeychain.NewItem()
	q.SetSecClass(gokeychain.SecClassGenericPassword)
	q.SetService(s.service)
	// kSecMatchLimitAll with kSecReturnAttributes only: every item's
	// attributes, and no value is decrypted.
	// https://developer.apple.com/documentation/security/ksecmatchlimitall
	q.SetMatchLimit(gokeychain.MatchLimitAll)
	q.SetReturnAttributes(true)
	s.mu.RLock()
	results, err := gokeychain.QueryItem(q)
	s.mu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("keychain: list: %w", mapErr(err))
	}
	keys := make([]string, 0, len(results))
	for _, r := range results {
		// Items that another program put under the service with an
		// account the contract does not allow are not keys.
		if backends.ValidKey(r.Account) == nil {
			keys = append(keys, r.Account)
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

// Describe reports the keychain and the service of the store's items.
func (s *Store) Describe() backends.Description {
	return backends.Description{
		Name:       "keychain",
		Protection: backends.ProtectionOSUser,
		Detail:     fmt.Sprintf("macOS login keychain, generic passwords of service %q; not synchronized to iCloud, this device only", s.service),
	}
}

// label is the item's name in Keychain Access.
func label(service, key string) string {
	return service + ": " + key
}
