package devicekey_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"testing"

	"github.com/mayflyhq/mayfly/attest/devicekey"
	"github.com/mayflyhq/mayfly/backends"
	"github.com/mayflyhq/mayfly/backends/memory"
)

// fakeTPM stands in for the TPM: it "wraps" keys by remembering them under
// an id, and Clear forgets them all, as a cleared TPM does.
type fakeTPM struct {
	keys    map[string]*ecdsa.PrivateKey
	n       int
	created int
}

func newFakeTPM() *fakeTPM { return &fakeTPM{keys: map[string]*ecdsa.PrivateKey{}} }

func (f *fakeTPM) CreateKey() ([]byte, error) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.n++
	f.created++
	id := fmt.Sprintf("blob-%d", f.n)
	f.keys[id] = k
	return []byte(id), nil
}

func (f *fakeTPM) LoadKey(blob []byte) (crypto.Signer, error) {
	k, ok := f.keys[string(blob)]
	if !ok {
		return nil, fmt.Errorf("tpm: load: %w", backends.ErrKeyLost)
	}
	return k, nil
}

func (f *fakeTPM) Clear() { f.keys = map[string]*ecdsa.PrivateKey{} }

func sign(t *testing.T, k *devicekey.Key) {
	t.Helper()
	d := sha256.Sum256([]byte("x"))
	sig, err := k.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil || !ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), d[:], sig) {
		t.Fatalf("signature: %v", err)
	}
}

func TestSoftwareKeyIsKeptAndReported(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	k1, err := devicekey.Open(ctx, st, devicekey.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if k1.Hardware() || k1.Provider != devicekey.ProviderSoftware {
		t.Fatalf("provider %q", k1.Provider)
	}
	sign(t, k1)
	k2, err := devicekey.Open(ctx, st, devicekey.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if k2.JWK.Thumbprint() != k1.JWK.Thumbprint() {
		t.Fatal("a second Open made a new key")
	}
	// A software key is refused once hardware is required.
	if _, err := devicekey.Open(ctx, st, devicekey.Options{RequireHardware: true}); !errors.Is(err, devicekey.ErrHardwareRequired) {
		t.Fatalf("require hardware with a software key: %v", err)
	}
	if _, err := devicekey.Open(ctx, memory.New(), devicekey.Options{RequireHardware: true}); !errors.Is(err, devicekey.ErrHardwareRequired) {
		t.Fatalf("require hardware without a TPM: %v", err)
	}
}

func TestTPMKeyStoresOnlyTheWrappedBlob(t *testing.T) {
	ctx := context.Background()
	st, tpm := memory.New(), newFakeTPM()
	k1, err := devicekey.Open(ctx, st, devicekey.Options{Hardware: tpm, RequireHardware: true})
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Hardware() {
		t.Fatal("not reported as hardware")
	}
	sign(t, k1)
	raw, _ := st.Get(ctx, devicekey.StoreKey)
	priv, _ := x509.MarshalPKCS8PrivateKey(tpm.keys["blob-1"])
	scalar, _ := tpm.keys["blob-1"].Bytes()
	if bytes.Contains(raw, priv) || bytes.Contains(raw, scalar) {
		t.Fatal("the private key is in the store")
	}
	k2, err := devicekey.Open(ctx, st, devicekey.Options{Hardware: tpm})
	if err != nil || k2.JWK != k1.JWK || tpm.created != 1 {
		t.Fatalf("reopen: %v, created %d", err, tpm.created)
	}
	// Without the TPM the key is not replaced by a software one.
	if _, err := devicekey.Open(ctx, st, devicekey.Options{}); err == nil {
		t.Fatal("a TPM key opened without the TPM")
	}
	// The TPM is cleared: a new key, and the caller learns the old is gone.
	tpm.Clear()
	k3, err := devicekey.Open(ctx, st, devicekey.Options{Hardware: tpm})
	if !errors.Is(err, devicekey.ErrReplaced) || k3 == nil || k3.JWK == k1.JWK {
		t.Fatalf("after clear: %v", err)
	}
	k4, err := devicekey.Open(ctx, st, devicekey.Options{Hardware: tpm})
	if err != nil || k4.JWK != k3.JWK {
		t.Fatalf("the replacement was not kept: %v", err)
	}
}

func TestUnreadableRecord(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	st.Set(ctx, devicekey.StoreKey, []byte("{not json"))
	if _, err := devicekey.Open(ctx, st, devicekey.Options{}); err == nil {
		t.Fatal("garbage accepted")
	}
}
