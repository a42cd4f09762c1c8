package storesel

import (
	"context"

	"github.com/mayflyhq/mayfly/backends"
	"github.com/mayflyhq/mayfly/backends/wincred"
)

func platform() []candidate {
	return []candidate{{
		name: "wincred", protection: backends.ProtectionOSUser, auto: true,
		available: func(context.Context) error { return wincred.Available() },
		open:      func() (Store, error) { return wincred.New(wincred.DefaultPrefix), nil },
		fix:       "Credential Manager needs an interactive logon session (not SSH or WinRM with a network logon)",
	}}
}
