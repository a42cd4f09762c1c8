//go:build !linux && !darwin

package peercred

func get(int) (Cred, error) { return Cred{}, ErrUnsupported }
