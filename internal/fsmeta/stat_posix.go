//go:build linux || darwin || freebsd

package fsmeta

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

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

// reservedChars are the bytes, besides '/' and NUL, that a name restored
// here may not hold: none.
const reservedChars = ""

// errUnknownType is returned for a file that is none of the node types.
var errUnknownType = errors.New("unsupported file type")

// rawStat is what Stat takes from a stat structure, whose field types
// differ between systems (stat_linux.go, stat_darwin.go, stat_freebsd.go).
type rawStat struct {
	mode             uint32 // st_mode, type bits included
	dev, rdev, nlink uint64
	mtime, ctime     int64 // nanoseconds
	meta             platformMeta
}

// capture is Stat with its warnings. It costs one lstat and one
// llistxattr, plus one lgetxattr per attribute (two on FreeBSD) and one
// readlink per symbolic link (CaptureFile: the same calls on a descriptor).
func capture(path string) (*tree.Node, []error, error) { return captureSince(path, nil) }

// captureSince is capture, without reading the attributes when old, an
// earlier capture, holds them still (Dir.StatSince).
func captureSince(path string, old *tree.Node) (*tree.Node, []error, error) {
	return captureAt(unix.AT_FDCWD, "", path, old)
}

// captureAt is captureSince for the entry name of the directory dir open
// as dfd (or for the path name, with dfd AT_FDCWD and dir ""): its status
// and link target are read relative to dfd, its attributes by path (Linux
// has no call to list them relative to a directory before 6.13).
func captureAt(dfd int, dir, name string, old *tree.Node) (*tree.Node, []error, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, nil, fmt.Errorf("fsmeta: lstat %q: %w", entryPath(dir, name), err)
	}
	n, rs := nodeOf(&st, name)
	var err error
	switch n.Type {
	case tree.Symlink:
		if n.LinkTarget, err = readLinkAt(dfd, name, st.Size); err != nil {
			err = fmt.Errorf("readlink: %w", err)
		}
	case 0:
		err = fmt.Errorf("%w (mode %#o)", errUnknownType, rs.mode)
	}
	if err == nil && Unchanged(old, n) {
		n.Xattrs = old.Xattrs // with the platform's metadata, which has not changed either
		return n, nil, nil
	}
	path := entryPath(dir, name) // only now: most entries of a re-backup are unchanged
	if err != nil {
		return nil, nil, fmt.Errorf("fsmeta: %q: %w", path, err)
	}
	warnings, err := addXattrs(n, xattrFile{path: path, fd: -1}, rs.meta)
	if err != nil {
		return nil, nil, err
	}
	return n, warnings, nil
}

// CaptureFile is StatWarn of the open file f (at f.Name()), with its status
// and attributes read through its descriptor, so that the kernel resolves
// no path: for a file opened to be read anyway. allocated is the number of
// bytes the file system allocated for it.
func CaptureFile(f File) (n *tree.Node, allocated int64, warnings []error, err error) {
	path := f.Name()
	fd := int(f.Fd())
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, 0, nil, fmt.Errorf("fsmeta: fstat %q: %w", path, err)
	}
	n, rs := nodeOf(&st, path)
	if n.Type == 0 {
		return nil, 0, nil, fmt.Errorf("fsmeta: %q: %w (mode %#o)", path, errUnknownType, rs.mode)
	}
	if warnings, err = addXattrs(n, xattrFile{path: path, fd: fd}, rs.meta); err != nil {
		return nil, 0, nil, err
	}
	return n, int64(st.Blocks) * 512, warnings, nil
}

// nodeOf returns the node of the entry name with status st, but for its
// link target and attributes, and the fields taken from st.
func nodeOf(st *unix.Stat_t, name string) (*tree.Node, rawStat) {
	rs := fromStat(st)
	n := &tree.Node{
		Name:   []byte(filepath.Base(name)),
		Type:   nodeType(rs.mode),
		Mode:   rs.mode & 0o7777,
		UID:    st.Uid,
		GID:    st.Gid,
		User:   userNames.get(st.Uid),
		Group:  groupNames.get(st.Gid),
		MTime:  rs.mtime,
		CTime:  rs.ctime,
		Inode:  st.Ino,
		Device: rs.dev,
		Links:  rs.nlink,
	}
	switch n.Type {
	case tree.File:
		n.Size = uint64(st.Size)
	case tree.CharDev, tree.BlockDev:
		n.Rdev = rs.rdev
	}
	return n, rs
}

// addXattrs sets n's attributes to those of f with the platform's
// metadata m, and returns the warnings of readXattrs, naming f.path.
func addXattrs(n *tree.Node, f xattrFile, m platformMeta) ([]error, error) {
	attrs, warnings, err := readXattrs(f)
	if err != nil {
		return nil, fmt.Errorf("fsmeta: %q: %w", f.path, err)
	}
	n.Xattrs = withMeta(attrs, m)
	for i, w := range warnings {
		warnings[i] = fmt.Errorf("fsmeta: %q: %w", f.path, w)
	}
	return warnings, nil
}

// entryPath is the path of the entry name of dir, or name if dir is "".
func entryPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return filepath.Join(dir, name)
}

// ReadDirNames returns the names of the entries of dir, without "." and "..",
// sorted by their bytes. Names may hold any bytes but '/' and NUL. dir is not
// followed if it is a symbolic link.
func ReadDirNames(dir string) ([]string, error) {
	d, names, err := OpenDir(dir)
	if err != nil {
		return nil, err
	}
	return names, d.Close()
}

// Dir is a directory open to state its entries relative to it, so that its
// path is not resolved again for each of them.
type Dir struct {
	f       *os.File
	path    string
	regular []bool // by the index of the sorted names: listed as a regular file
}

// OpenDir opens dir, not following it if it is a symbolic link, and
// returns it with the names of its entries as ReadDirNames does.
func OpenDir(dir string) (*Dir, []string, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("fsmeta: open directory %q: %w", dir, err)
	}
	d := &Dir{f: os.NewFile(uintptr(fd), dir), path: dir}
	names, regular, err := readDir(d.f)
	if err != nil {
		_ = d.Close() // the read error is the one to report
		return nil, nil, fmt.Errorf("fsmeta: read directory %q: %w", dir, err)
	}
	d.regular = sortListing(names, regular)
	return d, names, nil
}

// sortListing sorts names by their bytes, and regular (nil, or one per
// name) with them; it returns regular.
func sortListing(names []string, regular []bool) []bool {
	if regular == nil {
		slices.Sort(names)
		return nil
	}
	type entry struct {
		name    string
		regular bool
	}
	ents := make([]entry, len(names))
	for i := range names {
		ents[i] = entry{names[i], regular[i]}
	}
	slices.SortFunc(ents, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	for i, e := range ents {
		names[i], regular[i] = e.name, e.regular
	}
	return regular
}

// Regular reports whether the directory listed its entry i, in the order
// of OpenDir's names, as a regular file (d_type DT_REG; never where the
// system gives no type, readDir). It is a hint only: the entry may be
// replaced before it is opened, or a file system may misreport it, so
// what is opened must be checked (CaptureFile).
func (d *Dir) Regular(i int) bool { return d.regular != nil && d.regular[i] }

// Fd returns d's descriptor, valid until d is closed.
func (d *Dir) Fd() int { return int(d.f.Fd()) }

// StatSince is StatWarn of the entry name of d, for an entry that an
// earlier backup captured as old (nil if none), with its status and link
// target read relative to d. When old has the same type, inode, device,
// size, modification and status change times as the entry now, its
// extended attributes are taken from old instead of being read again:
// changing an attribute updates the status change time. What StatWarn
// would warn of is then not reported again.
func (d *Dir) StatSince(name string, old *tree.Node) (*tree.Node, []error, error) {
	return captureAt(int(d.f.Fd()), d.path, name, old)
}

// Close closes d; a nil Dir is closed already.
func (d *Dir) Close() error {
	if d == nil {
		return nil
	}
	return d.f.Close()
}

// StatFile returns the identity of an open file, for ReopenFile.
func StatFile(f *os.File) (FileID, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return FileID{}, fmt.Errorf("fstat %s: %w", f.Name(), err)
	}
	return FileID{fromStat(&st).dev, st.Ino}, nil
}
