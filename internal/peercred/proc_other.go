//go:build !linux && !darwin && !windows

package peercred

// The BSDs and others: no peer pid from the socket (see peercred_other.go),
// so nothing to look up. A profile with allow_exec refuses every caller.

func exe(int) (string, error) { return "", ErrUnsupported }

func parent(int) (int, error) { return 0, ErrUnsupported }
