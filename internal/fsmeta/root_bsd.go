//go:build darwin || freebsd

package fsmeta

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Root creates files below one directory and applies their metadata, and
// never creates, opens or changes anything outside it, as on Linux
// (root_linux.go), resolving its paths one component at a time with
// O_NOFOLLOW. Its methods are safe for concurrent use until Close.
type Root struct {
	fd   int
	dir  string
	real string   // dir with symbolic links resolved, for macOS's path-based calls
	dirs dirCache // of parent directories below the root
}

// OpenRoot opens dir, which must exist, as a Root. dir itself may be reached
// through symbolic links; nothing below it is.
func OpenRoot(dir string) (*Root, error) {
	real, err := filepath.EvalSymlinks(dir)
	if err == nil {
		real, err = filepath.Abs(real)
	}
	if err != nil {
		return nil, fmt.Errorf("fsmeta: resolve restore target %q: %w", dir, err)
	}
	fd, err := unix.Open(real, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("fsmeta: open restore target %q: %w", dir, err)
	}
	return &Root{fd: fd, dir: dir, real: real}, nil
}

// open returns a descriptor of directory rel below the root ("." is the
// root), opening one component at a time with O_NOFOLLOW, so that a
// symbolic link anywhere in rel fails with ELOOP. flags must be
// O_DIRECTORY: the BSDs have no O_PATH descriptors of other files.
func (r *Root) open(rel string, flags int) (int, error) {
	if flags != unix.O_DIRECTORY {
		return -1, fmt.Errorf("fsmeta: open %q with flags %#x: %w", rel, flags, errors.ErrUnsupported)
	}
	fd := r.fd
	for c := range strings.SplitSeq(rel, "/") {
		next, err := unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		// O_NOFOLLOW on a symbolic link fails with ELOOP on macOS, EMLINK
		// on FreeBSD (open(2)); O_DIRECTORY on one may fail with ENOTDIR.
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EMLINK) || errors.Is(err, unix.ENOTDIR) && isLink(fd, c) {
			err = fmt.Errorf("refusing to follow a symbolic link: %w", unix.ELOOP)
		}
		if fd != r.fd {
			unix.Close(fd)
		}
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

// isLink reports whether name in directory dfd is a symbolic link.
func isLink(dfd int, name string) bool {
	var st unix.Stat_t
	return unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK
}
