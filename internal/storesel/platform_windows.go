package storesel

import (
	"context"

	"github.com/mayflyhq/mayfly/backends"
	"github.com/mayflyhq/mayfly/backends/wincred"
)

func platform() []candidate {
	return []candidate{{
		name: "wincred", protection: backends.ProtectionOSUser, auto: true,
		available: func(context.Context, *env) error { return wincred.Available() },
		open:      func(*env) (Store, error) { return wincred.New(wincred.DefaultPrefix), nil },
		fix:       "Credential Manager needs an interactive logon session (not SSH or WinRM with a network logon)",
	}}
}

// The TPM-sealed store's place in "auto", and what to do when it is unusable.
const (
	tpmAuto = false
	tpmFix  = "TBS lets only administrators create TPM objects; Mayfly picks it only with store = \"tpm\""
)
