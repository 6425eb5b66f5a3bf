package fsmeta

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// extattrNamespaces are FreeBSD's attribute namespaces, and the prefix
// each name gets in a node ("user." as on Linux), as golang.org/x/sys/unix's
// Lgetxattr and Fsetxattr expect them.
var extattrNamespaces = []struct {
	id     int
	prefix string
}{{unix.EXTATTR_NAMESPACE_USER, "user."}, {unix.EXTATTR_NAMESPACE_SYSTEM, "system."}}

// listXattrs returns the names of f's attributes, each with its
// namespace's prefix. extattr_list_link(2) (extattr_list_fd for a
// descriptor) truncates rather than failing when its buffer is too small,
// so each list is sized first; the system namespace is left out when the
// process may not list it.
func listXattrs(f xattrFile, _ []byte) ([]string, error) {
	list := func(ns int, b []byte) (int, error) {
		if f.fd >= 0 {
			return unix.FlistxattrNS(f.fd, ns, b)
		}
		return unix.LlistxattrNS(f.path, ns, b)
	}
	var names []string
	for _, ns := range extattrNamespaces {
		size, err := list(ns.id, nil)
		if errors.Is(err, unix.EPERM) && ns.id == unix.EXTATTR_NAMESPACE_SYSTEM {
			continue
		}
		if err != nil || size <= 0 {
			if err != nil {
				return nil, err
			}
			continue
		}
		buf := make([]byte, size)
		n, err := list(ns.id, buf)
		if err != nil {
			return nil, err
		}
		// The list is a sequence of names, each a length byte and that
		// many bytes, without NULs (extattr_list_file(2)).
		for b := buf[:min(n, size)]; len(b) > 0; b = b[1+int(b[0]):] {
			if 1+int(b[0]) > len(b) {
				return nil, fmt.Errorf("malformed extattr list of %q", f.path)
			}
			names = append(names, ns.prefix+string(b[1:1+int(b[0])]))
		}
	}
	return names, nil
}

// getXattr returns the value of f's attribute name: it asks for the size
// first, since extattr_get_link(2) (extattr_get_fd) truncates a value that
// does not fit.
func getXattr(f xattrFile, name string, _ []byte) ([]byte, error) {
	get := func(b []byte) (int, error) {
		if f.fd >= 0 {
			return unix.Fgetxattr(f.fd, name, b)
		}
		return unix.Lgetxattr(f.path, name, b)
	}
	size, err := get(nil)
	if err != nil {
		return nil, err
	}
	if size > xattrMax {
		return nil, errTooLarge
	}
	buf := make([]byte, size)
	n, err := get(buf)
	if err != nil {
		return nil, err
	}
	return buf[:min(n, size)], nil
}
