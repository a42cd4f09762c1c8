package tpm

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"syscall"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport/tcp"
)

// Sentinel errors; see the package doc for what to do about each.
var (
	// ErrUnavailable means there is no usable TPM: none on this machine,
	// no permission to open it, or it does not answer.
	ErrUnavailable = errors.New("no usable TPM")

	// ErrKeyLost means this TPM cannot load a blob: the TPM was cleared or
	// replaced since the blob was made, or the blob is damaged. The blob
	// will never load again.
	ErrKeyLost = errors.New("this TPM cannot load the key: the TPM was cleared or replaced, or the blob is damaged")

	// ErrLocked means the TPM is in dictionary-attack lockout
	// (TPM_RC_LOCKOUT) and refuses authorizations for a while.
	ErrLocked = errors.New("the TPM is in dictionary-attack lockout; retry later")
)

// unavailable wraps an error from opening or reaching the TPM at path in
// ErrUnavailable, saying what to do where there is something to do.
func unavailable(path string, err error) error {
	switch {
	case errors.Is(err, ErrUnavailable):
		return err
	case errors.Is(err, fs.ErrPermission):
		// udev gives /dev/tpmrm0 to group tss, mode 0660 (tpm2-tss's
		// tpm-udev.rules).
		return fmt.Errorf("%w: no permission to use %s: add your user to the tss group (sudo usermod -aG tss $USER) and log in again: %w", ErrUnavailable, path, err)
	case errors.Is(err, fs.ErrNotExist) && path == DefaultDevice:
		return fmt.Errorf("%w: %s does not exist (no TPM 2.0 enabled in the firmware, or a kernel older than 4.12 with only /dev/tpm0): %w", ErrUnavailable, path, err)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %s does not exist: %w", ErrUnavailable, path, err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w: nothing listens at %s: %w", ErrUnavailable, path, err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w: the TPM at %s does not answer: %w", ErrUnavailable, path, err)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// isBroken reports whether err means the connection to an emulator broke,
// so that dialling again may help.
func isBroken(err error) bool {
	var op *net.OpError
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, tcp.ErrTransport) ||
		errors.Is(err, tcp.ErrEmptyResponse) || errors.Is(err, errFraming) ||
		(errors.As(err, &op) && !errors.Is(err, os.ErrDeadlineExceeded))
}

// isStaleHandle reports whether the TPM refused a handle this package
// cached: it no longer holds that object, because it was reset or someone
// flushed it. TPM 2.0 Library Part 2, TPM_RC: TPM_RC_HANDLE and
// TPM_RC_VALUE with the handle flag are format-one errors about a handle;
// TPM_RC_REFERENCE_H0..H6 are warnings that a handle names no loaded
// object.
func isStaleHandle(err error) bool {
	var f1 tpm2.TPMFmt1Error
	if errors.As(err, &f1) {
		if isHandle, _ := f1.Handle(); isHandle {
			return errors.Is(err, tpm2.TPMRCHandle) || errors.Is(err, tpm2.TPMRCValue)
		}
		return false
	}
	for _, rc := range []tpm2.TPMRC{
		tpm2.TPMRCReferenceH0, tpm2.TPMRCReferenceH1, tpm2.TPMRCReferenceH2,
		tpm2.TPMRCReferenceH3, tpm2.TPMRCReferenceH4, tpm2.TPMRCReferenceH5,
		tpm2.TPMRCReferenceH6,
	} {
		if errors.Is(err, rc) {
			return true
		}
	}
	return false
}

// primaryErr classifies the TPM's refusal to create the SRK. These mean
// this TPM cannot serve Mayfly at all, which callers handle like no TPM.
func primaryErr(err error) error {
	switch {
	case errors.Is(err, tpm2.TPMRCBadAuth), errors.Is(err, tpm2.TPMRCAuthFail):
		// tailscale #17622, clevis #213: Windows or an administrator set
		// an owner password, which Mayfly does not ask for.
		return fmt.Errorf("%w: the TPM's owner hierarchy has a password, so Mayfly cannot create its storage key: %w", ErrUnavailable, err)
	case errors.Is(err, tpm2.TPMRCHierarchy):
		return fmt.Errorf("%w: the TPM's owner hierarchy is disabled: %w", ErrUnavailable, err)
	case errors.Is(err, tpm2.TPMRCCurve), errors.Is(err, tpm2.TPMRCAsymmetric), errors.Is(err, tpm2.TPMRCKeySize):
		return fmt.Errorf("%w: the TPM does not support ECC P-256 keys: %w", ErrUnavailable, err)
	}
	return fmt.Errorf("storage root key: %w", err)
}

// loadErr classifies the TPM's refusal to load a blob. TPM2_Load's
// parameters are inPrivate (1) and inPublic (2); a format-one error about
// either, TPM_RC_INTEGRITY above all, means the blob was not made by this
// TPM under this SRK, or was altered: TPM 2.0 Library Part 1, "Protected
// Storage Hierarchy" (the integrity HMAC of the private area is keyed from
// the parent's seed, which clearing the TPM replaces).
func loadErr(err error) error {
	var f1 tpm2.TPMFmt1Error
	if errors.As(err, &f1) {
		if isParam, _ := f1.Parameter(); isParam {
			return fmt.Errorf("%w: %w", ErrKeyLost, err)
		}
	}
	return err
}

// classify adds the sentinel that fits err, if any.
func classify(path string, err error) error {
	switch {
	case errors.Is(err, ErrKeyLost), errors.Is(err, ErrLocked), errors.Is(err, ErrUnavailable), errors.Is(err, errClosed):
		return err
	case errors.Is(err, tpm2.TPMRCLockout):
		return fmt.Errorf("%w: %w", ErrLocked, err)
	case errors.Is(err, tpm2.TPMRCIntegrity):
		return fmt.Errorf("%w: %w", ErrKeyLost, err)
	case errors.Is(err, tpm2.TPMRCFailure):
		return fmt.Errorf("%w: the TPM at %s is in failure mode: %w", ErrUnavailable, path, err)
	case isBroken(err), errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, syscall.ECONNREFUSED):
		return unavailable(path, err)
	}
	return err
}
