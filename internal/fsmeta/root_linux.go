package fsmeta

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// resolveBeneath is how every path below a Root is resolved: never leaving
// the root, never following a symbolic link, not even the last component.
const resolveBeneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// Root creates files below one directory and applies their metadata, and
// never creates, opens or changes anything outside it. Its paths are
// relative, '/'-separated, and resolved so that no symbolic link,
// pre-existing or restored, is ever followed: a path through one fails with
// ELOOP (on Linux with openat2, on macOS and FreeBSD one component at a time
// with O_NOFOLLOW). Replacing (overwrite) unlinks whatever non-directory, or
// empty directory, is in the way and creates a new file: it never writes
// through an existing file, which may be a hard link to one outside the root,
// nor opens an existing fifo or device. (Unlinking such a planted hard link
// does lower the link count of the file outside.) Mount points below the
// root are crossed like directories. On Linux, Root needs Linux 5.8 or later
// and /proc. Its methods are safe for concurrent use until Close.
type Root struct {
	fd   int
	dir  string
	dirs dirCache // of parent directories below the root
}

// OpenRoot opens dir, which must exist, as a Root. dir itself may be reached
// through symbolic links; nothing below it is.
func OpenRoot(dir string) (*Root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("fsmeta: open restore target %q: %w", dir, err)
	}
	return &Root{fd: fd, dir: dir}, nil
}

// open returns an O_PATH descriptor of rel below the root. With O_NOFOLLOW
// in flags, that is the symbolic link itself if rel names one; without, a
// symbolic link anywhere in rel fails with ELOOP.
func (r *Root) open(rel string, flags int) (int, error) {
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_PATH | unix.O_CLOEXEC),
		Resolve: resolveBeneath,
	}
	fd, err := unix.Openat2(r.fd, rel, &how)
	if errors.Is(err, unix.ELOOP) {
		err = fmt.Errorf("refusing to follow a symbolic link: %w", err)
	}
	return fd, err
}

// mknodat creates the special file name in dfd; dev is a Linux dev_t.
func mknodat(dfd int, name string, mode uint32, dev uint64) error {
	return unix.Mknodat(dfd, name, mode, int(dev)) // int is 64-bit on every Linux Coffer builds for
}
