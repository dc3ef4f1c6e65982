//go:build !(linux && amd64)

package thp

func reserve(int) error { return errUnsupported }
