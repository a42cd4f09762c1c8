//go:build unix && !linux && !darwin

package client

import "errors"

// peerUID reports that this system has no peer credentials, as
// internal/peercred does.
func peerUID(int) (int, error) { return -1, errors.ErrUnsupported }
