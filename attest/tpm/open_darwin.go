package tpm

import (
	"fmt"

	"github.com/google/go-tpm/tpm2/transport"
)

// defaultPath is what the spec "" names: nothing, on a Mac.
const defaultPath = "the default TPM"

// openDefault fails: Macs have a Secure Enclave, not a TPM. An emulator
// (tcp:, unix:, mssim:) still works, for development.
func openDefault() (transport.TPMCloser, error) {
	return nil, fmt.Errorf("%w: no TPM on macOS", ErrUnavailable)
}
