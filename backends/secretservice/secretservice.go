// Package secretservice stores values in the freedesktop.org Secret Service
// (gnome-keyring, KeePassXC, KWallet's Secret Service mode, ...) over the
// D-Bus session bus, in pure Go with github.com/godbus/dbus/v5.
//
// Each value is one item in the user's default collection: the collection
// the alias "default" names, or else gnome-keyring's "login" collection. The
// store never creates a collection; without one, every operation fails and
// says so. An item carries the lookup attributes application=mayfly and
// mayfly-key=<key>, the label "Mayfly: <key>" and the content type
// application/octet-stream, so `secret-tool search application mayfly`
// lists Mayfly's items. Values travel over the bus encrypted, in a session
// using the Secret Service's dh-ietf1024-sha256-aes128-cbc-pkcs7 algorithm.
// The Secret Service keeps them for the user: any process running as that
// user can read them ([backends.ProtectionOSUser]).
//
// A helper must never hang on a missing, hung or locked keyring, so every
// operation, including connecting to the bus, is bounded by a timeout
// ([Options.Timeout], [DefaultTimeout]). A locked collection gives an error
// matching [ErrLocked]; the store shows no unlock prompt on the desktop
// unless [Options.Prompt] allows it. No session bus, a bus without a Secret
// Service, and a Secret Service without a default collection give errors
// matching [backends.ErrUnsupported]. [Store.Available] reports which of
// these applies, without prompting.
//
// The store follows the contract of [github.com/mayflyhq/mayfly/backends].
// It works on Linux and FreeBSD; elsewhere every operation returns an error
// matching [backends.ErrUnsupported].
//
// References to "the spec" in this package are to the Secret Service API
// Draft 0.2, https://specifications.freedesktop.org/secret-service/latest/.
package secretservice

import (
	"errors"
	"time"

	"github.com/mayflyhq/mayfly/backends"
)

const (
	// DefaultTimeout bounds an operation when [Options.Timeout] is zero.
	DefaultTimeout = 5 * time.Second

	// DefaultPromptTimeout bounds the wait for the user to answer an unlock
	// prompt when [Options.Prompt] is set and [Options.PromptTimeout] is
	// zero.
	DefaultPromptTimeout = 2 * time.Minute

	// MaxValueSize is the largest value, in bytes, that a [Store] accepts.
	// Refresh-token records are a few kilobytes. The cap turns an absurd
	// value into [backends.ErrTooLarge] up front instead of a message the
	// bus refuses, and gnome-keyring rewrites the whole keyring file on
	// every change.
	MaxValueSize = 1 << 20
)

// ErrLocked means the collection that holds Mayfly's items is locked, and
// the store may not prompt the user to unlock it. It does not match
// [backends.ErrUnsupported]: the store works once the user unlocks it.
var ErrLocked = errors.New("the Secret Service collection is locked: unlock your keyring (log in to the desktop, or run gnome-keyring-daemon --unlock)")

// Options configure a [Store]. The zero value is the usual configuration.
type Options struct {
	// Address is the D-Bus address of the session bus, such as
	// "unix:path=/run/user/1000/bus". Empty means the value of
	// $DBUS_SESSION_BUS_ADDRESS when New is called. The store does not
	// guess an address when that is unset, and never starts a bus.
	Address string

	// Timeout bounds each operation: connecting to the bus and every call
	// it makes. Zero means [DefaultTimeout].
	Timeout time.Duration

	// Prompt lets the store ask the Secret Service to unlock a locked
	// collection, which usually shows a password dialog on the desktop.
	// The store then waits up to PromptTimeout (zero means
	// [DefaultPromptTimeout]) for the user, on top of Timeout. Without
	// Prompt, a locked collection gives [ErrLocked] and the Secret Service
	// never shows anything. Helpers started by git, docker or kubectl
	// leave it off.
	Prompt        bool
	PromptTimeout time.Duration
}

// Lookup attributes of Mayfly's items (spec chapter 5, "Lookup
// Attributes"). They are stored unencrypted by most providers, so they
// name the key, never the value.
const (
	attrApplication = "application"
	attrKey         = "mayfly-key"
	application     = "mayfly"
)

// itemAttributes returns the lookup attributes of the item holding key. A
// valid key ([backends.ValidKey]) is valid UTF-8 without NUL bytes, which is
// exactly what a D-Bus string may hold, so the key is its own attribute
// value.
func itemAttributes(key string) map[string]string {
	return map[string]string{attrApplication: application, attrKey: key}
}

// keyFromAttributes returns the key an item's attributes name, and false if
// the item is not one of Mayfly's or names no valid key. The attributes come
// from the Secret Service and any program of the user may have written
// them, so nothing is assumed.
func keyFromAttributes(attrs map[string]string) (string, bool) {
	if attrs[attrApplication] != application {
		return "", false
	}
	key, ok := attrs[attrKey]
	if !ok || backends.ValidKey(key) != nil {
		return "", false
	}
	return key, true
}

// itemLabel is the label of the item holding key, which Seahorse and
// `secret-tool search` show.
func itemLabel(key string) string {
	return "Mayfly: " + key
}
