//go:build !linux && !darwin && !windows

package peercred

func get(int) (Cred, error) { return Cred{}, ErrUnsupported }
