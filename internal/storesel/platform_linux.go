package storesel

import (
	"context"

	"github.com/mayflyhq/mayfly/backends"
	"github.com/mayflyhq/mayfly/backends/keyring"
	"github.com/mayflyhq/mayfly/backends/secretservice"
)

// keyPrefix keeps Mayfly's kernel keys apart from other programs' keys.
const keyPrefix = "mayfly:"

func platform() []candidate {
	return []candidate{
		{
			// The desktop's keyring first: it survives reboots, which the
			// kernel keyring does not.
			name: "secret-service", protection: backends.ProtectionOSUser, auto: true,
			available: func(ctx context.Context, _ *env) error {
				return secretservice.New(secretservice.Options{}).Available(ctx)
			},
			open: func(*env) (Store, error) { return secretservice.New(secretservice.Options{}), nil },
			fix:  "start and unlock a Secret Service (gnome-keyring-daemon, KeePassXC) in your session, with DBUS_SESSION_BUS_ADDRESS set",
		},
		{
			name: "kernel-keyring", protection: backends.ProtectionOSUser, auto: true,
			available: func(context.Context, *env) error { return keyring.Available() },
			open:      func(*env) (Store, error) { return keyring.New(keyPrefix), nil },
			fix:       "the kernel keyring needs keyctl(2): allow it in the container's seccomp profile",
		},
	}
}

// The TPM-sealed store's place in "auto", and what to do when it is unusable.
const (
	tpmAuto = true
	tpmFix  = "enable the TPM 2.0 in the firmware (the kernel then offers /dev/tpmrm0) and add your user to the tss group, or name another TPM with tpm = \"…\" in the configuration"
)
