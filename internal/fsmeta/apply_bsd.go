//go:build darwin || freebsd

package fsmeta

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/coffer-backup/coffer/internal/tree"
)

// Apply gives rel, which must already exist with n's type, the metadata n
// records, in this order: owner, extended attributes, permission bits (not
// for symbolic links), birth time, modification time (with the access time
// set to it), then file flags, last because an immutable or append-only
// file refuses the other changes. Warnings and errors are as on Linux
// (apply_linux.go). A regular file or directory is opened (read-only,
// O_NOFOLLOW, O_NONBLOCK) for its attributes and flags; on the other types,
// which cannot be opened without side effects, recorded attributes and
// flags are warnings.
func (r *Root) Apply(rel string, n *tree.Node, opts ApplyOptions) (warnings []error, err error) {
	if err := checkRel(rel); err != nil {
		return nil, r.fail("apply", rel, err)
	}
	err = r.at(rel, func(dfd int, name string) error {
		var st unix.Stat_t
		if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("fstatat: %w", err)
		}
		if t := nodeType(uint32(st.Mode)); t != n.Type {
			return fmt.Errorf("%w: found a %s, want a %s", ErrTypeMismatch, t, n.Type)
		}
		fd, err := openSame(dfd, name, &st, n.Type)
		if err != nil {
			return err
		}
		if fd >= 0 {
			defer unix.Close(fd)
		}
		warnings, err = r.applyAt(rel, dfd, name, fd, n, opts)
		return err
	})
	for i, w := range warnings {
		warnings[i] = r.fail("apply", rel, w)
	}
	return warnings, r.fail("apply", rel, err)
}

// openSame opens name in dfd read-only if it is a regular file or a
// directory and still the file st describes; it returns -1 for the other
// types, and for a directory or file the process may not read.
func openSame(dfd int, name string, st *unix.Stat_t, t tree.NodeType) (int, error) {
	if t != tree.File && t != tree.Dir {
		return -1, nil
	}
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.EACCES) {
		return -1, nil
	}
	if err != nil {
		return -1, fmt.Errorf("open: %w", err)
	}
	var fst unix.Stat_t
	if err := unix.Fstat(fd, &fst); err != nil || fst.Ino != st.Ino || fst.Dev != st.Dev {
		unix.Close(fd)
		return -1, ErrReplaced
	}
	return fd, nil
}

// ApplyFile is Apply for a regular file open for writing, rel's file: the
// owner, attributes, mode and flags are set through the descriptor, the
// times through rel's directory.
func (r *Root) ApplyFile(f *os.File, rel string, n *tree.Node, opts ApplyOptions) (warnings []error, err error) {
	if n.Type != tree.File {
		return nil, r.fail("apply", rel, fmt.Errorf("%w: found a file, want a %s", ErrTypeMismatch, n.Type))
	}
	err = r.at(rel, func(dfd int, name string) error {
		warnings, err = r.applyAt(rel, dfd, name, int(f.Fd()), n, opts)
		return err
	})
	for i, w := range warnings {
		warnings[i] = r.fail("apply", rel, w)
	}
	return warnings, r.fail("apply", rel, err)
}

// applyAt gives name in dfd, rel below the root, n's metadata; fd is an
// open descriptor of it, or -1.
func (r *Root) applyAt(rel string, dfd int, name string, fd int, n *tree.Node, opts ApplyOptions) ([]error, error) {
	real, meta, warnings := splitMeta(n.Xattrs)
	warnings = append(warnings, meta.unsupported(metaBirthTime, metaFlags)...)
	w, err := chown(func(uid, gid int) error {
		if fd >= 0 {
			return unix.Fchown(fd, uid, gid)
		}
		return unix.Fchownat(dfd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
	}, n, opts)
	if err != nil {
		return warnings, err
	}
	if w != nil {
		warnings = append(warnings, w)
	}
	if fd >= 0 {
		ws, err := setXattrs(func(name string, value []byte) error { return unix.Fsetxattr(fd, name, value, 0) }, real)
		warnings = append(warnings, ws...)
		if err != nil {
			return warnings, err
		}
	} else if len(real) > 0 {
		warnings = append(warnings, fmt.Errorf("%w: %d extended attributes of a %s: not supported on %s", ErrNotRestored, len(real), n.Type, runtime.GOOS))
	}
	if n.Type != tree.Symlink {
		if err := unix.Fchmodat(dfd, name, n.Mode&0o7777, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return warnings, fmt.Errorf("chmod: %w", err)
		}
	}
	ws, err := r.setTimes(rel, dfd, name, n.MTime, meta.birthTime)
	warnings = append(warnings, ws...)
	if err != nil {
		return warnings, err
	}
	if meta.flags != nil {
		if w := setFlags(fd, n.Type, *meta.flags); w != nil {
			warnings = append(warnings, w)
		}
	}
	return warnings, nil
}

// setTimes sets the modification and access times of name in dfd, not
// followed, to mtime, and first its birth time to *btime if that is set.
// A birth time the system refuses or does not keep is a warning; failing
// to set the times is the error.
func (r *Root) setTimes(rel string, dfd int, name string, mtime int64, btime *int64) ([]error, error) {
	var warnings []error
	if btime != nil {
		if err := r.setBirthTime(rel, dfd, name, *btime); err != nil {
			warnings = append(warnings, fmt.Errorf("%w: birth time: %w", ErrNotRestored, err))
			btime = nil
		}
	}
	ts := unix.NsecToTimespec(mtime)
	if err := unix.UtimesNanoAt(dfd, name, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return warnings, fmt.Errorf("set times: %w", err)
	}
	var st unix.Stat_t
	if btime != nil && unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Btim.Nano() != *btime {
		warnings = append(warnings, fmt.Errorf("%w: birth time: the file system kept %d, not %d", ErrNotRestored, st.Btim.Nano(), *btime))
	}
	return warnings, nil
}

// setFlags sets the file flags of fd (chflags(2)); without a descriptor
// (symbolic links, special files), or if the system refuses (EPERM for
// system flags without root, EOPNOTSUPP where the file system has none),
// that is a warning.
func setFlags(fd int, t tree.NodeType, flags uint32) error {
	if flags&storageFlags != 0 { // not written by Coffer's capture: a foreign tree
		return fmt.Errorf("%w: file flags %#x describe storage, not the file", ErrNotRestored, flags)
	}
	if fd < 0 {
		return fmt.Errorf("%w: file flags %#x of a %s: not supported on %s", ErrNotRestored, flags, t, runtime.GOOS)
	}
	if err := unix.Fchflags(fd, int(flags)); err != nil {
		return fmt.Errorf("%w: file flags %#x: %w", ErrNotRestored, flags, err)
	}
	return nil
}

// ReopenFile opens for writing again the regular file rel that CreateFile
// made, whose identity was id. It resolves rel as every path below the Root
// is (no symbolic link followed), refuses, with an error wrapping
// ErrReplaced, anything but a regular file with identity id and a single
// name, then opens it with O_NOFOLLOW and O_NONBLOCK and checks it again.
// (Without O_PATH, a fifo or device planted between the check and the open
// is opened, though never written: the second check refuses it.)
func (r *Root) ReopenFile(rel string, id FileID) (*os.File, error) {
	if err := checkRel(rel); err != nil {
		return nil, r.fail("reopen", rel, err)
	}
	fd := -1
	err := r.at(rel, func(dfd int, name string) error {
		var st unix.Stat_t
		if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		if !isFile(&st, id) {
			return ErrReplaced
		}
		var err error
		fd, err = unix.Openat(dfd, name, unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		if err := unix.Fstat(fd, &st); err != nil || !isFile(&st, id) {
			unix.Close(fd)
			return ErrReplaced
		}
		return nil
	})
	if err != nil {
		return nil, r.fail("reopen", rel, err)
	}
	return os.NewFile(uintptr(fd), filepath.Join(r.dir, rel)), nil
}

// isFile reports whether st is a regular file with identity id and one name.
func isFile(st *unix.Stat_t, id FileID) bool {
	rs := fromStat(st)
	return rs.mode&unix.S_IFMT == unix.S_IFREG && rs.nlink == 1 && (FileID{rs.dev, st.Ino}) == id
}
