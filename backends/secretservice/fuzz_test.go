package secretservice

import (
	"bytes"
	"testing"

	"github.com/mayflyhq/mayfly/backends"
)

// FuzzKeyAttributes checks the key ↔ attribute mapping both ways: a valid key
// survives the round trip, and whatever attributes an item carries (any
// program of the user can write them) yield either nothing or a valid key
// that is exactly the mayfly-key attribute.
func FuzzKeyAttributes(f *testing.F) {
	f.Add("k", "mayfly", "k", "xdg:schema", "org.freedesktop.Secret.Generic")
	f.Add("ключ/秘密/🔑", "mayfly", "", "", "")
	f.Add("a\x00b", "other", "a\x00b", "application", "mayfly")
	f.Add("\xff", "mayfly", "\xfe", "mayfly-key", "x")
	f.Fuzz(func(t *testing.T, key, app, attrKeyValue, extraName, extraValue string) {
		if backends.ValidKey(key) == nil {
			got, ok := keyFromAttributes(itemAttributes(key))
			if !ok || got != key {
				t.Fatalf("keyFromAttributes(itemAttributes(%q)) = %q, %v", key, got, ok)
			}
		}
		attrs := map[string]string{attrApplication: app, attrKey: attrKeyValue}
		attrs[extraName] = extraValue // may overwrite one of the two
		got, ok := keyFromAttributes(attrs)
		if !ok {
			return
		}
		if err := backends.ValidKey(got); err != nil {
			t.Fatalf("keyFromAttributes(%q) = %q, an invalid key: %v", attrs, got, err)
		}
		if attrs[attrApplication] != application || got != attrs[attrKey] {
			t.Fatalf("keyFromAttributes(%q) = %q, not the item's mayfly-key", attrs, got)
		}
	})
}

// FuzzDecrypt feeds decrypt what a misbehaving Secret Service could send:
// it must fail cleanly or return a value shorter than the ciphertext, and
// encrypt's output must always decrypt to the input.
func FuzzDecrypt(f *testing.F) {
	key := bytes.Repeat([]byte{0x42}, 16)
	iv, ct, err := encrypt(key, []byte("refresh-token"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(iv, ct, []byte("value"))
	f.Add([]byte{}, []byte{}, []byte{})
	f.Add(bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{16}, 32), bytes.Repeat([]byte{0}, 33))
	f.Fuzz(func(t *testing.T, iv, ciphertext, value []byte) {
		if got, err := decrypt(key, iv, ciphertext); err == nil && len(got) >= len(ciphertext) {
			t.Fatalf("decrypt returned %d bytes from %d bytes of ciphertext", len(got), len(ciphertext))
		}
		iv, ct, err := encrypt(key, value)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decrypt(key, iv, ct)
		if err != nil || !bytes.Equal(got, value) {
			t.Fatalf("decrypt(encrypt(%x)) = %x, %v", value, got, err)
		}
	})
}

// FuzzSessionKey feeds sessionKey arbitrary public keys from the service:
// it must never panic, and must refuse keys outside (1, p-1).
func FuzzSessionKey(f *testing.F) {
	k, err := newDHKey()
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{1})
	f.Add(k.public)
	f.Add(oakley2.Bytes())
	f.Fuzz(func(t *testing.T, peer []byte) {
		key, err := k.sessionKey(peer)
		if err == nil && len(key) != 16 {
			t.Fatalf("sessionKey returned a %d-byte key", len(key))
		}
	})
}
