package storesel

import (
	"context"

	"github.com/mayflyhq/mayfly/backends"
	"github.com/mayflyhq/mayfly/backends/keychain"
)

func platform() []candidate {
	return []candidate{{
		name: "keychain", protection: backends.ProtectionOSUser, auto: true,
		available: func(context.Context) error { return keychain.Available() },
		open:      func() (Store, error) { return keychain.New(keychain.DefaultService), nil },
		fix:       "build Mayfly with CGO_ENABLED=1; over SSH, unlock the login keychain with `security unlock-keychain`",
	}}
}
