//go:build !linux && !darwin && !windows

package storesel

func platform() []candidate { return nil }
