// Package devicekey keeps Mayfly's device key: the ECDSA P-256 key that
// signs DPoP proofs and client assertions, so a provider can bind tokens to
// this device. It lives in the TPM when there is one (created there, never
// exportable; only its TPM-wrapped blob is stored), and otherwise is a
// software key kept in the secret store and always reported as such.
package devicekey

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mayflyhq/mayfly/attest/jws"
	"github.com/mayflyhq/mayfly/backends"
)

// StoreKey is the store entry that holds the device key.
const StoreKey = "device-key/v1"

// Providers.
const (
	ProviderTPM      = "tpm"
	ProviderSoftware = "software"
)

// ErrHardwareRequired is returned when a hardware key is required and there
// is none.
var ErrHardwareRequired = errors.New("a hardware-bound device key is required (require_hardware_key), and no TPM is usable")

// ErrReplaced reports that the stored key was unusable (its TPM was cleared
// or replaced) and a new key was made: every token bound to the old one is
// dead, so the sessions using it must sign in again.
var ErrReplaced = errors.New("the device key was lost with its TPM and has been replaced: sign in again")

// Store is where the key's record lives.
type Store interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Set(ctx context.Context, key string, value []byte) error
	Delete(ctx context.Context, key string) error
}

// Hardware makes and loads keys that never leave the device (the TPM).
type Hardware interface {
	// CreateKey makes a new key and returns its wrapped form.
	CreateKey() ([]byte, error)
	// LoadKey loads a key from its wrapped form; an error matching
	// backends.ErrKeyLost means the blob belongs to another (or a
	// cleared) TPM.
	LoadKey(blob []byte) (crypto.Signer, error)
}

// Key is the device key.
type Key struct {
	crypto.Signer
	Provider string    // ProviderTPM or ProviderSoftware
	Created  time.Time // when it was made
	JWK      jws.JWK
}

// Hardware reports whether the key is bound to this device.
func (k *Key) Hardware() bool { return k.Provider == ProviderTPM }

// record is what the store holds. For a TPM key, Blob is the TPM's wrapped
// private part, useless without that TPM; for a software key it is the
// PKCS #8 private key, protected only by the store.
type record struct {
	V        int       `json:"v"`
	Provider string    `json:"provider"`
	Blob     []byte    `json:"blob"`
	Created  time.Time `json:"created"`
}

// Options of Open.
type Options struct {
	// Hardware is the TPM, or nil when there is none.
	Hardware Hardware
	// RequireHardware refuses a software key.
	RequireHardware bool
	// NoCreate makes Open return an error matching backends.ErrNotFound
	// instead of making a key when there is none.
	NoCreate bool
	Now      func() time.Time
}

// Open returns the device key, making one when there is none. A stored
// TPM key whose TPM is gone is replaced, and Open returns the new key with
// an error matching ErrReplaced.
func Open(ctx context.Context, st Store, opt Options) (*Key, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	b, err := st.Get(ctx, StoreKey)
	switch {
	case errors.Is(err, backends.ErrNotFound):
		if opt.NoCreate {
			return nil, fmt.Errorf("device key: %w", err)
		}
		return create(ctx, st, opt)
	case errors.Is(err, backends.ErrKeyLost):
		// The sealed store lost it with its TPM: the key is gone too.
		k, cerr := create(ctx, st, opt)
		if cerr != nil {
			return nil, cerr
		}
		return k, ErrReplaced
	case err != nil:
		return nil, fmt.Errorf("device key: read: %w", err)
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil || rec.V != 1 {
		return nil, errors.New("device key: the stored key is unreadable; `mayfly logout --all` and sign in again to make a new one")
	}
	var signer crypto.Signer
	switch rec.Provider {
	case ProviderTPM:
		if opt.Hardware == nil {
			// Never fall back to a new software key silently: the tokens
			// are bound to the TPM key.
			return nil, errors.New("device key: it is in a TPM that is not usable now (see `mayfly doctor`)")
		}
		signer, err = opt.Hardware.LoadKey(rec.Blob)
		if errors.Is(err, backends.ErrKeyLost) {
			if derr := st.Delete(ctx, StoreKey); derr != nil && !errors.Is(derr, backends.ErrNotFound) {
				return nil, fmt.Errorf("device key: remove the lost key: %w", derr)
			}
			k, cerr := create(ctx, st, opt)
			if cerr != nil {
				return nil, cerr
			}
			return k, ErrReplaced
		}
		if err != nil {
			return nil, fmt.Errorf("device key: load from the TPM: %w", err)
		}
	case ProviderSoftware:
		if opt.RequireHardware {
			return nil, ErrHardwareRequired
		}
		pk, err := x509.ParsePKCS8PrivateKey(rec.Blob)
		ec, ok := pk.(*ecdsa.PrivateKey)
		if err != nil || !ok || ec.Curve != elliptic.P256() {
			return nil, errors.New("device key: the stored software key is unreadable")
		}
		signer = ec
	default:
		return nil, fmt.Errorf("device key: unknown provider %q", rec.Provider)
	}
	return newKey(signer, rec.Provider, rec.Created)
}

func create(ctx context.Context, st Store, opt Options) (*Key, error) {
	rec := record{V: 1, Created: opt.Now().UTC()}
	var signer crypto.Signer
	switch {
	case opt.Hardware != nil:
		blob, err := opt.Hardware.CreateKey()
		if err != nil {
			return nil, fmt.Errorf("device key: create in the TPM: %w", err)
		}
		if signer, err = opt.Hardware.LoadKey(blob); err != nil {
			return nil, fmt.Errorf("device key: load from the TPM: %w", err)
		}
		rec.Provider, rec.Blob = ProviderTPM, blob
	case opt.RequireHardware:
		return nil, ErrHardwareRequired
	default:
		ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("device key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(ec)
		if err != nil {
			return nil, fmt.Errorf("device key: %w", err)
		}
		signer, rec.Provider, rec.Blob = ec, ProviderSoftware, der
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	if err := st.Set(ctx, StoreKey, b); err != nil {
		return nil, fmt.Errorf("device key: save: %w", err)
	}
	return newKey(signer, rec.Provider, rec.Created)
}

func newKey(s crypto.Signer, provider string, created time.Time) (*Key, error) {
	jwk, err := jws.PublicJWK(s.Public())
	if err != nil {
		return nil, fmt.Errorf("device key: %w", err)
	}
	return &Key{Signer: s, Provider: provider, Created: created, JWK: jwk}, nil
}
