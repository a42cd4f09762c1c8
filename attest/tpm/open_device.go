//go:build !windows && !darwin

package tpm

import "github.com/google/go-tpm/tpm2/transport"

// defaultPath is what the spec "" opens.
const defaultPath = DefaultDevice

func openDefault() (transport.TPMCloser, error) { return openDevice(DefaultDevice) }
