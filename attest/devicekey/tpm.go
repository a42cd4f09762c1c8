package devicekey

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mayflyhq/mayfly/attest/tpm"
	"github.com/mayflyhq/mayfly/backends"
)

// InTPM makes and loads device keys in t.
func InTPM(t *tpm.TPM) Hardware { return tpmHardware{t} }

type tpmHardware struct{ t *tpm.TPM }

func (h tpmHardware) CreateKey() ([]byte, error) {
	kb, err := h.t.CreateKey()
	if err != nil {
		return nil, err
	}
	return json.Marshal(kb)
}

func (h tpmHardware) LoadKey(blob []byte) (crypto.Signer, error) {
	var kb tpm.KeyBlob
	if err := json.Unmarshal(blob, &kb); err != nil {
		return nil, fmt.Errorf("the stored TPM key blob is unreadable: %w", backends.ErrKeyLost)
	}
	k, err := h.t.LoadKey(&kb)
	if errors.Is(err, tpm.ErrKeyLost) {
		return nil, fmt.Errorf("%v: %w", err, backends.ErrKeyLost)
	}
	return k, err
}
