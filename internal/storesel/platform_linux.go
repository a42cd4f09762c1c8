package storesel

import (
	"context"

	"github.com/mayflyhq/mayfly/backends"
	"github.com/mayflyhq/mayfly/backends/keyring"
)

// keyPrefix keeps Mayfly's kernel keys apart from other programs' keys.
const keyPrefix = "mayfly:"

func platform() []candidate {
	return []candidate{
		{
			name: "kernel-keyring", protection: backends.ProtectionOSUser, auto: true,
			available: func(context.Context) error { return keyring.Available() },
			open:      func() (Store, error) { return keyring.New(keyPrefix), nil },
			fix:       "the kernel keyring needs keyctl(2): allow it in the container's seccomp profile",
		},
	}
}
