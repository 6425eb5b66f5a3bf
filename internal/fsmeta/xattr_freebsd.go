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

// listXattrs returns the names of path's attributes (not followed), each
// with its namespace's prefix. extattr_list_link(2) truncates rather than
// failing when its buffer is too small, so each list is sized first; the
// system namespace is left out when the process may not list it.
func listXattrs(path string, _ []byte) ([]string, error) {
	var names []string
	for _, ns := range extattrNamespaces {
		size, err := unix.LlistxattrNS(path, ns.id, nil)
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
		n, err := unix.LlistxattrNS(path, ns.id, buf)
		if err != nil {
			return nil, err
		}
		// The list is a sequence of names, each a length byte and that
		// many bytes, without NULs (extattr_list_file(2)).
		for b := buf[:min(n, size)]; len(b) > 0; b = b[1+int(b[0]):] {
			if 1+int(b[0]) > len(b) {
				return nil, fmt.Errorf("malformed extattr list of %q", path)
			}
			names = append(names, ns.prefix+string(b[1:1+int(b[0])]))
		}
	}
	return names, nil
}

// getXattr returns the value of path's attribute name (not followed): it
// asks for the size first, since extattr_get_link(2) truncates a value
// that does not fit.
func getXattr(path, name string, _ []byte) ([]byte, error) {
	size, err := unix.Lgetxattr(path, name, nil)
	if err != nil {
		return nil, err
	}
	if size > xattrMax {
		return nil, errTooLarge
	}
	buf := make([]byte, size)
	n, err := unix.Lgetxattr(path, name, buf)
	if err != nil {
		return nil, err
	}
	return buf[:min(n, size)], nil
}
