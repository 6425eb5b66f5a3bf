//go:build linux || darwin

package fsmeta

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// listXattrs returns the names of f's attributes, read with llistxattr
// (flistxattr for a descriptor) into buf first.
func listXattrs(f xattrFile, buf []byte) ([]string, error) {
	list, err := readSized(buf, func(b []byte) (int, error) {
		if f.fd >= 0 {
			return unix.Flistxattr(f.fd, b)
		}
		return unix.Llistxattr(f.path, b)
	})
	if err != nil || len(list) == 0 {
		return nil, err
	}
	return strings.Split(strings.TrimSuffix(string(list), "\x00"), "\x00"), nil
}

// getXattr returns the value of f's attribute name, in buf if it fits.
func getXattr(f xattrFile, name string, buf []byte) ([]byte, error) {
	return readSized(buf, func(b []byte) (int, error) {
		if f.fd >= 0 {
			return unix.Fgetxattr(f.fd, name, b)
		}
		return unix.Lgetxattr(f.path, name, b)
	})
}

// readSized calls get with buf and, if buf is too small, once more with a
// buffer of xattrMax bytes. It returns the bytes get filled, or errTooLarge
// if those do not fit either.
func readSized(buf []byte, get func([]byte) (int, error)) ([]byte, error) {
	n, err := get(buf)
	if errors.Is(err, unix.ERANGE) {
		buf = make([]byte, xattrMax)
		n, err = get(buf)
		if errors.Is(err, unix.ERANGE) {
			return nil, fmt.Errorf("%w: %w", errTooLarge, err)
		}
	}
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}
