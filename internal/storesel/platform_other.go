//go:build !linux && !darwin && !windows

package storesel

func platform() []candidate { return nil }

// The TPM-sealed store's place in "auto", and what to do when it is unusable.
const (
	tpmAuto = false
	tpmFix  = "name the TPM with tpm = \"/dev/tpmrm0\" (or an emulator address) and store = \"tpm\""
)
