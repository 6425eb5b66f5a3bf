// Package fsmeta captures and applies the file-system metadata of Linux files
// for backup and restore: every file type, permission bits with setuid, setgid
// and sticky, numeric and named owners, nanosecond modification times,
// extended attributes, hard-link identity and the data ranges of sparse files
// (docs/parts/05-0-metadata.md lists what is and is not recorded).
//
// Capture never follows a symbolic link. Restore goes through a Root, which
// never creates, opens or changes anything outside its directory, whatever
// names a snapshot holds and whatever symbolic links exist in the target.
package fsmeta

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/coffer-backup/coffer/internal/tree"
)

// modeBits maps each node type to its S_IFMT bits.
var modeBits = [...]uint32{
	tree.File:     unix.S_IFREG,
	tree.Dir:      unix.S_IFDIR,
	tree.Symlink:  unix.S_IFLNK,
	tree.Fifo:     unix.S_IFIFO,
	tree.CharDev:  unix.S_IFCHR,
	tree.BlockDev: unix.S_IFBLK,
	tree.Socket:   unix.S_IFSOCK,
}

// nodeType returns the node type of a stat mode, or an invalid type for a
// kind of file Coffer does not know.
func nodeType(mode uint32) tree.NodeType {
	for t, bits := range modeBits {
		if bits != 0 && mode&unix.S_IFMT == bits {
			return tree.NodeType(t)
		}
	}
	return 0
}

// errUnknownType is returned for a file that is none of the node types.
var errUnknownType = errors.New("unsupported file type")

// Stat returns the metadata of path, which is never followed if it is a
// symbolic link, as a Node without content. Name is the last element of path
// (filepath.Base), so a caller capturing a root such as "/" names it itself.
// Size is set for regular files, Rdev for devices, LinkTarget for symbolic
// links; Inode, Device and Links for all. Xattrs holds every attribute the
// caller may read, sorted by name. User and Group are the names of UID and GID
// on this system, empty when unknown; they are looked up once per ID.
//
// Stat costs one lstat and one llistxattr, plus one lgetxattr per attribute
// and one readlink per symbolic link.
func Stat(path string) (*tree.Node, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return nil, fmt.Errorf("fsmeta: lstat %q: %w", path, err)
	}
	n := &tree.Node{
		Name:   []byte(filepath.Base(path)),
		Type:   nodeType(st.Mode),
		Mode:   st.Mode & 0o7777,
		UID:    st.Uid,
		GID:    st.Gid,
		User:   userNames.get(st.Uid),
		Group:  groupNames.get(st.Gid),
		MTime:  st.Mtim.Nano(),
		CTime:  st.Ctim.Nano(),
		Inode:  st.Ino,
		Device: uint64(st.Dev),
		Links:  uint64(st.Nlink),
	}
	var err error
	switch n.Type {
	case tree.File:
		n.Size = uint64(st.Size)
	case tree.CharDev, tree.BlockDev:
		n.Rdev = uint64(st.Rdev)
	case tree.Symlink:
		n.LinkTarget, err = readLink(path, st.Size)
	case 0:
		err = fmt.Errorf("%w (mode %#o)", errUnknownType, st.Mode)
	}
	if err == nil {
		n.Xattrs, err = readXattrs(path)
	}
	if err != nil {
		return nil, fmt.Errorf("fsmeta: %q: %w", path, err)
	}
	return n, nil
}

// readLink returns the target of the symbolic link path, whose lstat size is
// size (zero on some file systems, such as procfs).
func readLink(path string, size int64) ([]byte, error) {
	for _, n := range []int64{min(size+1, unix.PathMax), unix.PathMax} {
		buf := make([]byte, n)
		m, err := unix.Readlink(path, buf)
		if err != nil {
			return nil, fmt.Errorf("readlink: %w", err)
		}
		if m < len(buf) {
			return buf[:m:m], nil
		}
	}
	return nil, fmt.Errorf("readlink: %w", unix.ENAMETOOLONG)
}

// ReadDirNames returns the names of the entries of dir, without "." and "..",
// sorted by their bytes. Names may hold any bytes but '/' and NUL. dir is not
// followed if it is a symbolic link.
func ReadDirNames(dir string) ([]string, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("fsmeta: open directory %q: %w", dir, err)
	}
	f := os.NewFile(uintptr(fd), dir)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("fsmeta: read directory %q: %w", dir, err)
	}
	slices.Sort(names)
	return names, nil
}

// Unchanged reports whether cur, just captured, describes the same content as
// old, captured by an earlier backup: same type, size, modification and status
// change times, inode and device. A backup may then reuse old's content
// instead of reading the file again. A nil node is never unchanged.
func Unchanged(old, cur *tree.Node) bool {
	return old != nil && cur != nil &&
		old.Type == cur.Type && old.Size == cur.Size &&
		old.MTime == cur.MTime && old.CTime == cur.CTime &&
		old.Inode == cur.Inode && old.Device == cur.Device
}
