//go:build linux || darwin || freebsd

package fsmeta

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/coffer-backup/coffer/internal/tree"
)

// xattrMax is Linux's limit on both the size of one attribute value and the
// length of the list of attribute names (XATTR_SIZE_MAX, XATTR_LIST_MAX), and
// the format's limit on a value (docs/format.md §5.2).
const xattrMax = 64 << 10

// xattrBuf is the size of the pooled buffer tried first; lists and values
// larger than that are read again into a buffer of xattrMax bytes, so every
// read takes one system call, or two for large attributes.
const xattrBuf = 1 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, xattrBuf); return &b }}

// errTooLarge is returned for an attribute value larger than the format
// allows (macOS allows larger ones, such as resource forks).
var errTooLarge = fmt.Errorf("value larger than %d bytes", xattrMax)

// xattrFile is a file whose attributes are read: by its path, not
// followed if a symbolic link, or, when fd is not negative, by that open
// descriptor (path then only names it in errors). A descriptor saves the
// kernel resolving the path again for each call.
type xattrFile struct {
	path string
	fd   int
}

// readXattrs returns every extended attribute of f that the caller may
// read, sorted by name, and as warnings those too large to record. A file
// system without attributes has none.
func readXattrs(f xattrFile) ([]tree.Xattr, []error, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	names, err := listXattrs(f, *bp)
	switch {
	case errors.Is(err, unix.ENOTSUP):
		return nil, nil, nil // the file system has no attributes
	case err != nil:
		return nil, nil, fmt.Errorf("llistxattr: %w", err)
	}
	var attrs []tree.Xattr
	var warnings []error
	for _, name := range names {
		value, err := getXattr(f, name, *bp)
		switch {
		case errors.Is(err, errNoAttr), errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
			continue // removed since it was listed, or not readable by this process
		case errors.Is(err, errTooLarge):
			warnings = append(warnings, fmt.Errorf("%w: xattr %q: %w", ErrNotRecorded, name, err))
			continue
		case err != nil:
			return nil, nil, fmt.Errorf("lgetxattr %q: %w", name, err)
		}
		attrs = append(attrs, tree.Xattr{Name: name, Value: bytes.Clone(value)})
	}
	slices.SortFunc(attrs, func(a, b tree.Xattr) int { return strings.Compare(a.Name, b.Name) })
	return attrs, warnings, nil
}

// setXattrs sets attrs on a file with set (setxattr on a path or
// fsetxattr on a descriptor). An attribute outside the "user." namespace
// that the kernel refuses with EPERM or ENOTSUP is skipped with a warning;
// every other failure is an error.
func setXattrs(set func(name string, value []byte) error, attrs []tree.Xattr) (warnings []error, err error) {
	for _, x := range attrs {
		err := set(x.Name, x.Value)
		switch {
		case err == nil:
		case !strings.HasPrefix(x.Name, "user.") && (errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOTSUP)):
			warnings = append(warnings, fmt.Errorf("%w: xattr %q: %w", ErrNotRestored, x.Name, err))
		default:
			return warnings, fmt.Errorf("setxattr %q: %w", x.Name, err)
		}
	}
	return warnings, nil
}
