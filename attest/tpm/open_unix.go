//go:build !windows

package tpm

import (
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
	"github.com/google/go-tpm/tpm2/transport/linuxudstpm"
)

// openDevice opens a TPM character device such as /dev/tpmrm0.
func openDevice(path string) (transport.TPMCloser, error) { return linuxtpm.Open(path) }

// openUnix opens swtpm's unixio socket, dialling it once per command.
func openUnix(path string) (transport.TPMCloser, error) { return linuxudstpm.Open(path) }
