package tpm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// MaxSealSize is the most Seal accepts: a sealed data object holds a
// TPM2B_SENSITIVE_DATA, at most MAX_SYM_DATA (128) bytes (TPM 2.0 Library
// Part 2, "TPM2B_SENSITIVE_DATA"). Seal a data key, not the secret itself.
const MaxSealSize = 128

// Sealed is a secret sealed by one TPM under its SRK: the object's
// TPM2B_PUBLIC and TPM2B_PRIVATE as the TPM returned them. The private part
// is encrypted and integrity-protected by the TPM, so a Sealed may be
// stored anywhere; only the TPM that made it can unseal it.
type Sealed struct {
	Public  []byte `json:"pub"`
	Private []byte `json:"priv"`
}

// sealTemplate is the public area of a sealed data object (a keyedHash
// object with no scheme). fixedTPM and fixedParent: it can never be
// duplicated to another TPM or parent. userWithAuth with an empty auth
// value: whoever can talk to the TPM can unseal, as Mayfly's threat model
// is copying the blob elsewhere, not other processes of the same user.
// noDA: no authorization failure on it counts toward lockout, and lockout
// does not block it (tailscale PR #17952, systemd PR #30728).
// sensitiveDataOrigin stays clear, since the caller provides the data
// (TPM 2.0 Library Part 3, TPM2_Create: TPM_RC_ATTRIBUTES otherwise).
var sealTemplate = tpm2.TPMTPublic{
	Type:    tpm2.TPMAlgKeyedHash,
	NameAlg: tpm2.TPMAlgSHA256,
	ObjectAttributes: tpm2.TPMAObject{
		FixedTPM:     true,
		FixedParent:  true,
		UserWithAuth: true,
		NoDA:         true,
	},
	Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgKeyedHash, &tpm2.TPMSKeyedHashParms{
		Scheme: tpm2.TPMTKeyedHashScheme{Scheme: tpm2.TPMAlgNull},
	}),
}

// Seal seals data (1 to [MaxSealSize] bytes) to this TPM. The data travels
// to the TPM encrypted by a session salted with the SRK.
func (t *TPM) Seal(data []byte) (*Sealed, error) {
	if len(data) == 0 || len(data) > MaxSealSize {
		return nil, fmt.Errorf("tpm: seal: %d bytes; the TPM seals 1 to %d", len(data), MaxSealSize)
	}
	var out *Sealed
	err := t.do(context.Background(), func(tp transport.TPM) error {
		s, err := t.primary(tp)
		if err != nil {
			return err
		}
		rsp, err := tpm2.Create{
			ParentHandle: tpm2.AuthHandle{Handle: s.handle, Name: s.name, Auth: s.salted(encryptIn)},
			InSensitive: tpm2.TPM2BSensitiveCreate{Sensitive: &tpm2.TPMSSensitiveCreate{
				Data: tpm2.NewTPMUSensitiveCreate(&tpm2.TPM2BSensitiveData{Buffer: data}),
			}},
			InPublic: tpm2.New2B(sealTemplate),
		}.Execute(tp)
		if err != nil {
			return err
		}
		out = &Sealed{Public: tpm2.Marshal(rsp.OutPublic), Private: tpm2.Marshal(rsp.OutPrivate)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tpm: seal: %w", classify(t.path, err))
	}
	return out, nil
}

// Unseal returns the data sealed in s. The data travels back from the TPM
// encrypted by a session salted with the SRK. The error matches
// [ErrKeyLost] when this TPM cannot load s.
func (t *TPM) Unseal(s *Sealed) ([]byte, error) {
	if s == nil {
		return nil, errors.New("tpm: unseal: nil blob")
	}
	b, err := parseBlob(s.Public, s.Private)
	if err != nil {
		return nil, fmt.Errorf("tpm: unseal: %w: %w", ErrKeyLost, err)
	}
	if b.area.Type != tpm2.TPMAlgKeyedHash {
		return nil, fmt.Errorf("tpm: unseal: %w: not a sealed data object", ErrKeyLost)
	}
	var out []byte
	err = t.do(context.Background(), func(tp transport.TPM) error {
		k, err := t.primary(tp)
		if err != nil {
			return err
		}
		obj, err := tpm2.Load{ParentHandle: k.parent(), InPublic: b.public, InPrivate: b.private}.Execute(tp)
		if err != nil {
			return loadErr(err)
		}
		t.loaded = append(t.loaded, obj.ObjectHandle)
		defer t.flush(tp, obj.ObjectHandle)
		rsp, err := tpm2.Unseal{
			ItemHandle: tpm2.AuthHandle{Handle: obj.ObjectHandle, Name: obj.Name, Auth: k.salted(encryptOut)},
		}.Execute(tp)
		if err != nil {
			return err
		}
		out = rsp.OutData.Buffer
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tpm: unseal: %w", classify(t.path, err))
	}
	return out, nil
}

// blob is a decoded Sealed or KeyBlob.
type blob struct {
	public  tpm2.TPM2BPublic
	area    *tpm2.TPMTPublic // decoded public
	private tpm2.TPM2BPrivate
}

// parseBlob decodes a TPM2B_PUBLIC and a TPM2B_PRIVATE. Each must be
// exactly its size prefix long: a blob that was cut or padded is damaged.
func parseBlob(public, private []byte) (*blob, error) {
	for _, b := range [][]byte{public, private} {
		if len(b) < 2 || int(binary.BigEndian.Uint16(b))+2 != len(b) {
			return nil, errors.New("malformed blob")
		}
	}
	area, err := unmarshal[tpm2.TPMTPublic](public[2:])
	if err != nil {
		return nil, fmt.Errorf("malformed public area: %w", err)
	}
	return &blob{
		public:  tpm2.BytesAs2B[tpm2.TPMTPublic](public[2:]),
		area:    area,
		private: tpm2.TPM2BPrivate{Buffer: private[2:]},
	}, nil
}

// unmarshal is tpm2.Unmarshal, with a panic in go-tpm's reflection-based
// decoder turned into an error: blobs come from disk.
func unmarshal[T tpm2.Marshallable, P interface {
	*T
	tpm2.Unmarshallable
}](b []byte) (v *T, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("%v", r)
		}
	}()
	return tpm2.Unmarshal[T, P](b)
}
