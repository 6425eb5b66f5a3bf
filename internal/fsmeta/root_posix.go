//go:build linux || darwin || freebsd

package fsmeta

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/coffer-backup/coffer/internal/tree"
)

// Close releases the root's directory.
func (r *Root) Close() error {
	r.dirs.forget()
	if err := unix.Close(r.fd); err != nil {
		return fmt.Errorf("fsmeta: close restore target %q: %w", r.dir, err)
	}
	return nil
}

// Mkdir creates directory rel with mode 0700 (Apply sets the final mode).
// An existing directory is accepted; anything else in the way is an error
// unless overwrite is set.
func (r *Root) Mkdir(rel string, overwrite bool) error {
	return r.fail("mkdir", rel, r.make(rel, overwrite, func(dfd int, name string) error {
		err := unix.Mkdirat(dfd, name, 0o700)
		if errors.Is(err, unix.EEXIST) {
			var st unix.Stat_t
			if unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
				return nil
			}
		}
		return err
	}))
}

// CreateFile creates regular file rel with mode 0600, open for writing. It
// never opens an existing file: without overwrite anything in the way is an
// error, with it, that is replaced.
func (r *Root) CreateFile(rel string, overwrite bool) (*os.File, error) {
	fd := -1
	err := r.make(rel, overwrite, func(dfd int, name string) (err error) {
		fd, err = unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		return err
	})
	if err != nil {
		return nil, r.fail("create", rel, err)
	}
	return os.NewFile(uintptr(fd), filepath.Join(r.dir, rel)), nil
}

// Symlink creates symbolic link rel pointing to target, which is stored as
// given and never followed.
func (r *Root) Symlink(target []byte, rel string, overwrite bool) error {
	return r.fail("symlink", rel, r.make(rel, overwrite, func(dfd int, name string) error {
		return unix.Symlinkat(string(target), dfd, name)
	}))
}

// Mknod creates rel as the fifo, socket, or character or block device n
// describes, with mode 0600. Without the privilege to create devices it
// returns an error wrapping ErrNeedsPrivilege.
func (r *Root) Mknod(rel string, n *tree.Node, overwrite bool) error {
	var dev uint64
	switch n.Type {
	case tree.Fifo, tree.Socket:
	case tree.CharDev, tree.BlockDev:
		dev = n.Rdev
	default:
		return r.fail("mknod", rel, fmt.Errorf("%s is not a special file", n.Type))
	}
	err := r.make(rel, overwrite, func(dfd int, name string) error {
		return mknodat(dfd, name, modeBits[n.Type]|0o600, dev)
	})
	if dev != 0 && errors.Is(err, unix.EPERM) {
		err = fmt.Errorf("%w: %w", ErrNeedsPrivilege, err)
	}
	return r.fail("mknod", rel, err)
}

// Link creates rel as a hard link to existingRel, which is not followed if it
// is a symbolic link. existingRel should be a file this restore created.
func (r *Root) Link(existingRel, rel string, overwrite bool) error {
	return r.fail("link", rel, r.at(existingRel, func(odfd int, oname string) error {
		return r.make(rel, overwrite, func(dfd int, name string) error {
			return unix.Linkat(odfd, oname, dfd, name, 0)
		})
	}))
}

// Remove deletes the file, symlink or special file at rel (never a
// directory), without following symbolic links. A restore uses it to take
// away a file it could not complete.
func (r *Root) Remove(rel string) error {
	return r.fail("remove", rel, r.at(rel, func(dfd int, name string) error { return unix.Unlinkat(dfd, name, 0) }))
}

// make runs mk in rel's directory on rel's last component. If that fails
// because the name exists and overwrite is set, it removes what is there and
// runs mk again.
func (r *Root) make(rel string, overwrite bool, mk func(dfd int, name string) error) error {
	return r.at(rel, func(dfd int, name string) error {
		err := mk(dfd, name)
		if !overwrite || !errors.Is(err, unix.EEXIST) {
			return err
		}
		err = unix.Unlinkat(dfd, name, 0)
		// unlink(2) of a directory fails with EISDIR on Linux, EPERM on
		// macOS and FreeBSD.
		if errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EPERM) && isDir(dfd, name) {
			err = unix.Unlinkat(dfd, name, unix.AT_REMOVEDIR) // only if empty
			r.dirs.forget()                                   // it may be cached
		}
		if err != nil {
			return fmt.Errorf("replace: %w", err)
		}
		return mk(dfd, name)
	})
}

// at validates rel, opens its parent directory below the root (or takes
// it from the cache of directories opened so) and calls op with it and
// rel's last component.
func (r *Root) at(rel string, op func(dfd int, name string) error) error {
	if err := checkRel(rel); err != nil {
		return err
	}
	dir, name := ".", rel
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		dir, name = rel[:i], rel[i+1:]
	}
	d, err := r.dirs.get(dir, func() (int, error) { return r.open(dir, unix.O_DIRECTORY) })
	if err != nil {
		return err
	}
	defer r.dirs.put(d)
	return op(d.fd, name)
}

// isDir reports whether name in directory dfd is a directory (not followed).
func isDir(dfd int, name string) bool {
	var st unix.Stat_t
	return unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
}
