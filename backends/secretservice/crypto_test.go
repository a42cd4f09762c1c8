package secretservice

import (
	"bytes"
	"crypto/aes"
	"math/big"
	"strings"
	"testing"
)

// TestDHAgreement runs both halves of the key agreement, the service's as
// the spec describes it, and checks that they derive the same AES key.
func TestDHAgreement(t *testing.T) {
	for range 20 { // some secrets have leading zero bytes: padding matters
		client, err := newDHKey()
		if err != nil {
			t.Fatal(err)
		}
		service, err := newDHKey()
		if err != nil {
			t.Fatal(err)
		}
		k1, err := client.sessionKey(service.public)
		if err != nil {
			t.Fatalf("client sessionKey: %v", err)
		}
		k2, err := service.sessionKey(client.public)
		if err != nil {
			t.Fatalf("service sessionKey: %v", err)
		}
		if len(k1) != 16 || !bytes.Equal(k1, k2) {
			t.Fatalf("keys differ or are not 16 bytes: %x, %x", k1, k2)
		}
	}
}

func TestDHRejectsWeakPeerKeys(t *testing.T) {
	k, err := newDHKey()
	if err != nil {
		t.Fatal(err)
	}
	pMinus1 := new(big.Int).Sub(oakley2, big.NewInt(1))
	for name, peer := range map[string][]byte{
		"empty":     nil,
		"zero":      {0},
		"one":       {0, 0, 1},
		"p-1":       pMinus1.Bytes(),
		"p":         oakley2.Bytes(),
		"p+1":       new(big.Int).Add(oakley2, big.NewInt(1)).Bytes(),
		"too long":  bytes.Repeat([]byte{0xff}, 4096),
		"all ones":  bytes.Repeat([]byte{0xff}, oakley2Len),
		"zero-pad1": append(make([]byte, 300), 1),
	} {
		if key, err := k.sessionKey(peer); err == nil {
			t.Errorf("sessionKey(%s) = %x, want an error", name, key)
		}
	}
	// Leading zeros are allowed: only the integer counts.
	if _, err := k.sessionKey(append([]byte{0, 0}, big.NewInt(5).Bytes()...)); err != nil {
		t.Errorf("sessionKey(0x00 0x00 0x05) = %v, want success", err)
	}
}

func TestEncryptDecrypt(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 16)
	for n := range 50 {
		value := bytes.Repeat([]byte{byte(n)}, n)
		iv, ct, err := encrypt(key, value)
		if err != nil {
			t.Fatal(err)
		}
		if len(iv) != aes.BlockSize || len(ct) == 0 || len(ct)%aes.BlockSize != 0 || len(ct) <= n {
			t.Fatalf("encrypt(%d bytes): iv %d bytes, ciphertext %d bytes", n, len(iv), len(ct))
		}
		got, err := decrypt(key, iv, ct)
		if err != nil || !bytes.Equal(got, value) {
			t.Fatalf("decrypt(encrypt(%d bytes)) = %x, %v", n, got, err)
		}
	}
	// Two encryptions of one value differ (random IV).
	iv1, ct1, _ := encrypt(key, []byte("same"))
	iv2, ct2, _ := encrypt(key, []byte("same"))
	if bytes.Equal(iv1, iv2) || bytes.Equal(ct1, ct2) {
		t.Error("two encryptions of one value are identical")
	}
}

func TestDecryptRejects(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 16)
	iv, ct, err := encrypt(key, []byte("refresh token"))
	if err != nil {
		t.Fatal(err)
	}
	wrongKey := bytes.Repeat([]byte{8}, 16)
	tests := []struct {
		name    string
		key     []byte
		iv, ct  []byte
		wantErr string
	}{
		{"short IV", key, iv[:8], ct, "IV"},
		{"no IV", key, nil, ct, "IV"},
		{"empty", key, iv, nil, "multiple"},
		{"ragged", key, iv, ct[:len(ct)-1], "multiple"},
		{"wrong key", wrongKey, iv, ct, "padding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decrypt(tt.key, tt.iv, tt.ct)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				// A wrong key gives valid padding about 1 time in 256;
				// this fixed case does not.
				t.Errorf("decrypt = %q, %v; want an error about %s", got, err, tt.wantErr)
			}
		})
	}
}

func TestKeyAttributes(t *testing.T) {
	for _, key := range []string{"k", "git/https://example.com", "ключ/秘密/🔑", strings.Repeat("m", 512)} {
		attrs := itemAttributes(key)
		if attrs["application"] != "mayfly" || attrs["mayfly-key"] != key {
			t.Errorf("itemAttributes(%q) = %q", key, attrs)
		}
		if got, ok := keyFromAttributes(attrs); !ok || got != key {
			t.Errorf("keyFromAttributes(itemAttributes(%q)) = %q, %v", key, got, ok)
		}
	}
	for name, attrs := range map[string]map[string]string{
		"nil":             nil,
		"other app":       {"application": "other", "mayfly-key": "k"},
		"no app":          {"mayfly-key": "k"},
		"no key":          {"application": "mayfly"},
		"empty key":       {"application": "mayfly", "mayfly-key": ""},
		"NUL in key":      {"application": "mayfly", "mayfly-key": "a\x00b"},
		"long key":        {"application": "mayfly", "mayfly-key": strings.Repeat("x", 513)},
		"app differs":     {"application": "Mayfly", "mayfly-key": "k"},
		"bad UTF-8 value": {"application": "mayfly", "mayfly-key": "\xff"},
	} {
		if got, ok := keyFromAttributes(attrs); ok {
			t.Errorf("keyFromAttributes(%s) = %q, true; want not ours", name, got)
		}
	}
	// Extra attributes (libsecret adds xdg:schema) do not matter.
	if got, ok := keyFromAttributes(map[string]string{"application": "mayfly", "mayfly-key": "k", "xdg:schema": "org.freedesktop.Secret.Generic"}); !ok || got != "k" {
		t.Errorf("keyFromAttributes with xdg:schema = %q, %v; want k", got, ok)
	}
	if got := itemLabel("k"); got != "Mayfly: k" {
		t.Errorf("itemLabel = %q", got)
	}
}
