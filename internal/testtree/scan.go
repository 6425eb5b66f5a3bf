//go:build linux

package testtree

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/coffer-backup/coffer/internal/tree"
)

// Range is a run of Len bytes of file data at offset Off, as SEEK_DATA and
// SEEK_HOLE report it.
type Range struct{ Off, Len int64 }

// Item is everything Compare checks about one item of a tree. Fields that do
// not apply to its type are zero.
type Item struct {
	Type     tree.NodeType
	Mode     uint32 // permission bits, mask 07777
	UID, GID uint32
	MTime    int64        // nanoseconds
	Size     int64        // regular files only
	Rdev     uint64       // character and block devices only
	Target   string       // symbolic links only, read with readlink
	Xattrs   []tree.Xattr // every attribute listed, sorted by name
	Ranges   []Range      // regular files: the data ranges, maximal
	Sum      [32]byte     // regular files: SHA-256 of the data ranges, offsets included
	// Link is the first path, in the order Scan walks, of the inode this
	// item is: two trees have the same hard-link groups exactly when every
	// path has the same Link in both.
	Link string
}

// Tree maps the relative path of every item of a tree ("." for its root)
// to what Scan found there.
type Tree map[string]Item

// Scan records the tree at dir, which is not followed if it is a symbolic
// link, and everything below it but the relative paths skip and what they
// hold. It never follows a symbolic link, and opens nothing but regular files
// and directories.
func Scan(dir string, skip ...string) (Tree, error) {
	s := scanner{tr: Tree{}, inodes: map[[2]uint64]string{}, skip: skip}
	if err := s.walk(dir, "."); err != nil {
		return nil, err
	}
	return s.tr, nil
}

// MustScan is Scan that fails the test on error.
func MustScan(t testing.TB, dir string, skip ...string) Tree {
	t.Helper()
	tr, err := Scan(dir, skip...)
	if err != nil {
		t.Fatalf("testtree: %v", err)
	}
	return tr
}

type scanner struct {
	tr     Tree
	inodes map[[2]uint64]string // (device, inode) -> first path
	skip   []string
}

func (s *scanner) walk(p, rel string) error {
	if slices.Contains(s.skip, rel) {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return fmt.Errorf("lstat %q: %w", p, err)
	}
	it, err := item(p, &st)
	if err != nil {
		return fmt.Errorf("%q: %w", p, err)
	}
	if it.Type != tree.Dir {
		key := [2]uint64{st.Dev, st.Ino}
		if _, ok := s.inodes[key]; !ok {
			s.inodes[key] = rel
		}
		it.Link = s.inodes[key]
	}
	s.tr[rel] = it
	if it.Type != tree.Dir {
		return nil
	}
	names, err := readDir(p)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := s.walk(filepath.Join(p, name), filepath.Join(rel, name)); err != nil {
			return err
		}
	}
	return nil
}

var types = map[uint32]tree.NodeType{
	unix.S_IFREG: tree.File, unix.S_IFDIR: tree.Dir, unix.S_IFLNK: tree.Symlink,
	unix.S_IFIFO: tree.Fifo, unix.S_IFCHR: tree.CharDev, unix.S_IFBLK: tree.BlockDev,
	unix.S_IFSOCK: tree.Socket,
}

// item describes the file p, whose lstat is st.
func item(p string, st *unix.Stat_t) (Item, error) {
	it := Item{
		Type: types[st.Mode&unix.S_IFMT], Mode: st.Mode & 0o7777,
		UID: st.Uid, GID: st.Gid, MTime: st.Mtim.Nano(),
	}
	var err error
	switch it.Type {
	case tree.File:
		it.Size = st.Size
		it.Ranges, it.Sum, err = content(p, st.Size)
	case tree.CharDev, tree.BlockDev:
		it.Rdev = st.Rdev
	case tree.Symlink:
		buf := make([]byte, unix.PathMax+1)
		var n int
		n, err = unix.Readlink(p, buf)
		it.Target = string(buf[:max(n, 0)])
	}
	if err != nil {
		return it, err
	}
	it.Xattrs, err = xattrs(p)
	return it, err
}

func readDir(p string) ([]string, error) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open directory %q: %w", p, err)
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("read directory %q: %w", p, err)
	}
	slices.Sort(names)
	return names, nil
}

// content returns the data ranges of the regular file p and the hash of
// their offsets, lengths and bytes. Holes are never read.
func content(p string, size int64) ([]Range, [32]byte, error) {
	var sum [32]byte
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, sum, err
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	ranges, err := dataRanges(fd, size)
	if err != nil {
		return nil, sum, err
	}
	h := sha256.New()
	for _, r := range ranges {
		h.Write(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(r.Off)), uint64(r.Len)))
		if _, err := io.Copy(h, io.NewSectionReader(f, r.Off, r.Len)); err != nil {
			return nil, sum, err
		}
	}
	h.Sum(sum[:0])
	return ranges, sum, nil
}

func dataRanges(fd int, size int64) ([]Range, error) {
	var ranges []Range
	for off := int64(0); off < size; {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break
		}
		if errors.Is(err, unix.EINVAL) && off == 0 {
			return []Range{{0, size}}, nil // the file system does not report holes
		}
		if err != nil {
			return nil, fmt.Errorf("SEEK_DATA: %w", err)
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			return nil, fmt.Errorf("SEEK_HOLE: %w", err)
		}
		hole = min(hole, size)
		if data >= hole {
			break
		}
		ranges = append(ranges, Range{data, hole - data})
		off = hole
	}
	return ranges, nil
}

// xattrs returns the extended attributes of p, not followed, sorted by name.
func xattrs(p string) ([]tree.Xattr, error) {
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	if errors.Is(err, unix.ENOTSUP) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("llistxattr: %w", err)
	}
	var out []tree.Xattr
	for name := range strings.SplitSeq(string(buf[:n]), "\x00") {
		if name == "" {
			continue
		}
		v := make([]byte, 64<<10)
		m, err := unix.Lgetxattr(p, name, v)
		if err != nil {
			return nil, fmt.Errorf("lgetxattr %q: %w", name, err)
		}
		out = append(out, tree.Xattr{Name: name, Value: bytes.Clone(v[:m])})
	}
	slices.SortFunc(out, func(a, b tree.Xattr) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
