package tpm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// KeyBlob is a device key as stored outside the TPM: its TPM2B_PUBLIC and
// TPM2B_PRIVATE. Only the TPM that created it can load it.
type KeyBlob struct {
	Public  []byte `json:"pub"`
	Private []byte `json:"priv"`
}

// keyTemplate is the device key: an unrestricted ECDSA P-256 signing key
// whose scheme is fixed to ECDSA with SHA-256, so the key signs nothing
// else. sensitiveDataOrigin: the TPM generated the private key, which
// never leaves it (fixedTPM, fixedParent); no decrypt: a single-purpose
// key. noDA, as it has no PIN. See hardware.md §1.4 (Sketch B).
var keyTemplate = tpm2.TPMTPublic{
	Type:    tpm2.TPMAlgECC,
	NameAlg: tpm2.TPMAlgSHA256,
	ObjectAttributes: tpm2.TPMAObject{
		SignEncrypt:         true,
		FixedTPM:            true,
		FixedParent:         true,
		SensitiveDataOrigin: true,
		UserWithAuth:        true,
		NoDA:                true,
	},
	Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
		CurveID: tpm2.TPMECCNistP256,
		Scheme: tpm2.TPMTECCScheme{
			Scheme: tpm2.TPMAlgECDSA,
			Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA,
				&tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
		},
	}),
}

// CreateKey makes a new device key in the TPM and returns it as a blob to
// store; [TPM.LoadKey] makes it usable. Each call makes a different key.
func (t *TPM) CreateKey() (*KeyBlob, error) {
	var out *KeyBlob
	err := t.do(context.Background(), func(tp transport.TPM) error {
		s, err := t.primary(tp)
		if err != nil {
			return err
		}
		rsp, err := tpm2.Create{ParentHandle: s.parent(), InPublic: tpm2.New2B(keyTemplate)}.Execute(tp)
		if err != nil {
			return err
		}
		out = &KeyBlob{Public: tpm2.Marshal(rsp.OutPublic), Private: tpm2.Marshal(rsp.OutPrivate)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tpm: create key: %w", classify(t.path, err))
	}
	return out, nil
}

// Key is a device key loaded in the TPM. It implements [crypto.Signer]
// for ECDSA over SHA-256 digests. It stays loaded; if the TPM loses it
// (a reset, a new connection) it is loaded again before the next
// signature. Close unloads it.
type Key struct {
	t   *TPM
	b   *blob
	pub *ecdsa.PublicKey

	// Guarded by t.mu.
	handle tpm2.TPMHandle
	name   tpm2.TPM2BName
	gen    uint64 // t.gen when loaded
	loaded bool
	closed bool
}

// LoadKey loads a device key made by [TPM.CreateKey]. The error matches
// [ErrKeyLost] when this TPM cannot load it: delete the blob and make a
// new key.
func (t *TPM) LoadKey(kb *KeyBlob) (*Key, error) {
	if kb == nil {
		return nil, errors.New("tpm: load key: nil blob")
	}
	b, err := parseBlob(kb.Public, kb.Private)
	if err != nil {
		return nil, fmt.Errorf("tpm: load key: %w: %w", ErrKeyLost, err)
	}
	if err := checkKeyArea(b.area); err != nil {
		return nil, fmt.Errorf("tpm: load key: %w", err)
	}
	pub, err := ecdsaPublic(b.area)
	if err != nil {
		return nil, fmt.Errorf("tpm: load key: %w", err)
	}
	k := &Key{t: t, b: b, pub: pub}
	// Load now, so that a blob this TPM cannot load fails here rather
	// than at the first signature.
	if err := t.do(context.Background(), k.ensure); err != nil {
		return nil, fmt.Errorf("tpm: load key: %w", classify(t.path, err))
	}
	return k, nil
}

// checkKeyArea refuses a public area that is not a device key as
// [keyTemplate] makes them: another kind of key, or one that was imported
// (fixedTPM clear) or can decrypt.
func checkKeyArea(p *tpm2.TPMTPublic) error {
	a := p.ObjectAttributes
	if p.Type != tpm2.TPMAlgECC || !a.SignEncrypt || a.Decrypt || a.Restricted || !a.FixedTPM || !a.FixedParent || !a.SensitiveDataOrigin {
		return errors.New("not a device key: want a TPM-generated, non-exportable ECDSA signing key")
	}
	return nil
}

// ecdsaPublic returns the P-256 public key of an ECC public area.
func ecdsaPublic(p *tpm2.TPMTPublic) (pub *ecdsa.PublicKey, err error) {
	defer func() {
		if r := recover(); r != nil {
			pub, err = nil, fmt.Errorf("malformed public key: %v", r)
		}
	}()
	parms, err := p.Parameters.ECCDetail()
	if err != nil {
		return nil, fmt.Errorf("malformed public key: %w", err)
	}
	if parms.CurveID != tpm2.TPMECCNistP256 {
		return nil, fmt.Errorf("not a P-256 key (curve %#x)", uint16(parms.CurveID))
	}
	point, err := p.Unique.ECC()
	if err != nil {
		return nil, fmt.Errorf("malformed public key: %w", err)
	}
	pk, err := tpm2.ECDSAPub(parms, point)
	if err != nil {
		return nil, fmt.Errorf("malformed public key: %w", err)
	}
	// ECDSAPub does not check the point is on the curve; ECDH does.
	if _, err := pk.ECDH(); err != nil {
		return nil, fmt.Errorf("malformed public key: %w", err)
	}
	return pk, nil
}

// ensure loads the key under the SRK unless it is loaded in this
// connection's current generation. Called with t.mu held, from t.do.
func (k *Key) ensure(tp transport.TPM) error {
	if k.closed {
		return errors.New("key closed")
	}
	if k.loaded && k.gen == k.t.gen {
		return nil
	}
	s, err := k.t.primary(tp)
	if err != nil {
		return err
	}
	rsp, err := tpm2.Load{ParentHandle: s.parent(), InPublic: k.b.public, InPrivate: k.b.private}.Execute(tp)
	if err != nil {
		return loadErr(err)
	}
	k.t.loaded = append(k.t.loaded, rsp.ObjectHandle)
	k.handle, k.name, k.gen, k.loaded = rsp.ObjectHandle, rsp.Name, k.t.gen, true
	return nil
}

// Public returns the key's *ecdsa.PublicKey.
func (k *Key) Public() crypto.PublicKey { return k.pub }

// Sign signs a SHA-256 digest and returns the ASN.1 DER signature that
// [ecdsa.VerifyASN1] checks. opts must be nil or hash with SHA-256; rand is
// unused, as the TPM draws its own nonce.
func (k *Key) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts != nil && opts.HashFunc() != crypto.SHA256 {
		return nil, fmt.Errorf("tpm: sign: the device key signs SHA-256 digests only, not %v", opts.HashFunc())
	}
	if len(digest) != 32 {
		return nil, fmt.Errorf("tpm: sign: digest of %d bytes; want a 32-byte SHA-256 digest", len(digest))
	}
	var r, s []byte
	err := k.t.do(context.Background(), func(tp transport.TPM) error {
		if err := k.ensure(tp); err != nil {
			return err
		}
		rsp, err := tpm2.Sign{
			KeyHandle: tpm2.NamedHandle{Handle: k.handle, Name: k.name},
			Digest:    tpm2.TPM2BDigest{Buffer: digest},
			InScheme: tpm2.TPMTSigScheme{
				Scheme:  tpm2.TPMAlgECDSA,
				Details: tpm2.NewTPMUSigScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSchemeHash{HashAlg: tpm2.TPMAlgSHA256}),
			},
			// A null ticket: an unrestricted key may sign any digest
			// (TPM 2.0 Library Part 3, TPM2_Sign).
			Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
		}.Execute(tp)
		if err != nil {
			return err
		}
		if rsp.Signature.SigAlg != tpm2.TPMAlgECDSA {
			return fmt.Errorf("the TPM answered a signature of algorithm %#x, not ECDSA", uint16(rsp.Signature.SigAlg))
		}
		sig, err := rsp.Signature.Signature.ECDSA()
		if err != nil {
			return err
		}
		r, s = sig.SignatureR.Buffer, sig.SignatureS.Buffer
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tpm: sign: %w", classify(k.t.path, err))
	}
	der, err := derSignature(r, s)
	if err != nil {
		return nil, fmt.Errorf("tpm: sign: %w", err)
	}
	return der, nil
}

// Close unloads the key from the TPM. The Key is unusable afterwards.
func (k *Key) Close() error {
	k.t.mu.Lock()
	defer k.t.mu.Unlock()
	if k.closed {
		return nil
	}
	k.closed = true
	if k.loaded && k.gen == k.t.gen && k.t.conn != nil {
		k.t.flush(k.t.conn, k.handle)
	}
	k.loaded = false
	return nil
}

// p256N is the order of P-256: R and S of a valid signature are in [1, N-1].
var p256N = elliptic.P256().Params().N

// derSignature encodes an ECDSA signature as the ASN.1 DER
// SEQUENCE { r INTEGER, s INTEGER } of RFC 3279 §2.2.3 / SEC 1 §C.8, the
// form [crypto.Signer] implementations return for ECDSA. The TPM gives R
// and S as unsigned big-endian octet strings that may be shorter than 32
// bytes (a leading zero byte dropped) or padded with zeros; a DER INTEGER
// is minimal and signed, so it loses leading zeros and gains one 0x00
// before a high bit. big.Int and encoding/asn1 do both.
func derSignature(r, s []byte) ([]byte, error) {
	R, S := new(big.Int).SetBytes(r), new(big.Int).SetBytes(s)
	for _, v := range []*big.Int{R, S} {
		if v.Sign() == 0 || v.Cmp(p256N) >= 0 {
			return nil, errors.New("the TPM answered an invalid ECDSA signature")
		}
	}
	return asn1.Marshal(struct{ R, S *big.Int }{R, S})
}
