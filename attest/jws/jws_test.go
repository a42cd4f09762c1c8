package jws

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestSignVerifiesWithGoJose checks our ES256 output with an independent
// implementation, over enough signatures that short R or S values (about
// one in 128) come up and must be padded.
func TestSignVerifiesWithGoJose(t *testing.T) {
	k := newKey(t)
	for i := range 400 {
		tok, err := Sign(k, map[string]any{"typ": "dpop+jwt"}, map[string]any{"i": i})
		if err != nil {
			t.Fatal(err)
		}
		obj, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatalf("go-jose cannot parse %q: %v", tok, err)
		}
		payload, err := obj.Verify(&k.PublicKey)
		if err != nil {
			t.Fatalf("signature %d refused by go-jose: %v", i, err)
		}
		var got map[string]int
		if err := json.Unmarshal(payload, &got); err != nil || got["i"] != i {
			t.Fatalf("payload %s", payload)
		}
		if _, _, err := Verify(tok, &k.PublicKey); err != nil {
			t.Fatalf("own Verify: %v", err)
		}
	}
}

func TestThumbprintMatchesGoJose(t *testing.T) {
	for range 50 {
		k := newKey(t)
		jwk, err := PublicJWK(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		want, err := (&jose.JSONWebKey{Key: &k.PublicKey}).Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if got := jwk.Thumbprint(); got != base64.RawURLEncoding.EncodeToString(want) {
			t.Fatalf("thumbprint %s, go-jose says %x", got, want)
		}
		if len(jwk.X) != 43 || len(jwk.Y) != 43 {
			t.Fatalf("coordinates not 32 bytes: %+v", jwk)
		}
	}
}

func TestWrongKeys(t *testing.T) {
	k384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := Sign(k384, nil, "x"); err != ErrKeyType {
		t.Fatalf("P-384: %v", err)
	}
	if _, err := PublicJWK("not a key"); err != ErrKeyType {
		t.Fatalf("string: %v", err)
	}
}

// badSigner returns garbage instead of a DER signature.
type badSigner struct{ *ecdsa.PrivateKey }

func (b badSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return []byte{0x30, 0x03, 0x02, 0x01, 0x00}, nil
}

func TestMalformedSignatureRefused(t *testing.T) {
	if _, err := Sign(badSigner{newKey(t)}, nil, "x"); err == nil {
		t.Fatal("a malformed signature was accepted")
	}
}

func TestVerifyRefuses(t *testing.T) {
	k, other := newKey(t), newKey(t)
	tok, err := Sign(k, nil, map[string]string{"a": "b"})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "a.b", "a.b.c.d", tok + "x", "!." + tok} {
		if _, _, err := Verify(bad, &k.PublicKey); err == nil {
			t.Errorf("Verify(%q) accepted", bad)
		}
	}
	if _, _, err := Verify(tok, &other.PublicKey); err == nil {
		t.Error("verified with another key")
	}
}
