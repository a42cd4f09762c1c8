//go:build !linux

package storesel

func platform() []candidate { return nil }
