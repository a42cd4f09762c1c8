package tpm

import (
	"fmt"

	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/windowstpm"
)

// defaultPath is what the spec "" opens: the TPM Base Services, Windows'
// resource manager for the TPM.
const defaultPath = "TBS"

func openDefault() (transport.TPMCloser, error) { return windowstpm.Open() }

func openDevice(path string) (transport.TPMCloser, error) {
	return nil, fmt.Errorf("%w: device paths such as %s are for Linux; on Windows leave tpm unset to use TBS", ErrUnavailable, path)
}

func openUnix(path string) (transport.TPMCloser, error) {
	return nil, fmt.Errorf("%w: unix: sockets are for swtpm on Linux and macOS; use tcp: on Windows", ErrUnavailable)
}
