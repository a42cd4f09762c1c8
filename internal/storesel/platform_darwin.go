package storesel

import (
	"context"

	"github.com/mayflyhq/mayfly/backends"
	"github.com/mayflyhq/mayfly/backends/keychain"
)

func platform() []candidate {
	return []candidate{{
		name: "keychain", protection: backends.ProtectionOSUser, auto: true,
		available: func(context.Context, *env) error { return keychain.Available() },
		open:      func(*env) (Store, error) { return keychain.New(keychain.DefaultService), nil },
		fix:       "build Mayfly with CGO_ENABLED=1; over SSH, unlock the login keychain with `security unlock-keychain`",
	}}
}

// The TPM-sealed store's place in "auto", and what to do when it is unusable.
const (
	tpmAuto = false
	tpmFix  = "Macs have no TPM; an emulator can be named with tpm = \"tcp:HOST:PORT\" for development"
)
