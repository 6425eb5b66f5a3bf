//go:build linux || darwin || freebsd

package fsmeta

import (
	"bytes"
	"errors"

	"golang.org/x/sys/unix"

	"github.com/coffer-backup/coffer/internal/tree"
)

// Holds reports whether rel already holds an item like n, as far as its
// metadata tells: the same type and, for a regular file, the same size and
// modification time (to the nanosecond); for a symbolic link, the same
// target; for a device, the same device number. Content is not read. It
// reports false, without error, when rel does not exist; like every Root
// method, it follows no symbolic link and never looks outside the root.
func (r *Root) Holds(rel string, n *tree.Node) (bool, error) {
	var same bool
	err := r.at(rel, func(dfd int, name string) error {
		var st unix.Stat_t
		if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		rs := fromStat(&st)
		if nodeType(rs.mode) != n.Type {
			return nil
		}
		switch n.Type {
		case tree.File:
			same = uint64(st.Size) == n.Size && rs.mtime == n.MTime
		case tree.Symlink:
			target, err := readLinkAt(dfd, name, st.Size)
			same = err == nil && bytes.Equal(target, n.LinkTarget)
		case tree.CharDev, tree.BlockDev:
			same = rs.rdev == n.Rdev
		default:
			same = true
		}
		return nil
	})
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	return same, r.fail("stat", rel, err)
}

// readLinkAt returns the target of the symbolic link name in directory
// dfd, whose lstat size is size.
func readLinkAt(dfd int, name string, size int64) ([]byte, error) {
	for _, n := range []int64{min(size+1, unix.PathMax), unix.PathMax} {
		buf := make([]byte, n)
		m, err := unix.Readlinkat(dfd, name, buf)
		if err != nil {
			return nil, err
		}
		if m < len(buf) {
			return buf[:m:m], nil
		}
	}
	return nil, unix.ENAMETOOLONG
}
