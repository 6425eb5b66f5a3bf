//go:build linux

// Package testtree builds file trees on disk for tests, from a declarative
// Spec or at random, and compares two trees item by item with every piece of
// metadata Coffer promises to restore: type, name bytes, permission bits with
// setuid, setgid and sticky, owner, nanosecond modification time, size,
// content, symbolic-link target, hard-link groups, device numbers, extended
// attributes and the layout of sparse files. Round-trip tests build a tree,
// back it up, restore it and Compare the two.
//
// Everything here fails the test it is given rather than returning errors,
// except Scan and Diff, which tests of this package use to check that
// Compare can fail.
package testtree

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/coffer-backup/coffer/internal/tree"
)

// DefaultMTime is the modification time Build gives items whose Entry
// leaves MTime zero, and directories it creates implicitly.
var DefaultMTime = time.Date(2021, 3, 4, 5, 6, 7, 123456789, time.UTC).UnixNano()

// ModeNone asks Build for permission bits 0000: a zero Mode means the
// default (0644 for files and special files, 0755 for directories).
const ModeNone = 0o10000

// Owner is a numeric owner and group.
type Owner struct{ UID, GID uint32 }

// Island is data written at offset Off of a sparse file.
type Island struct {
	Off  int64
	Data []byte
}

// Entry describes one item of a Spec.
type Entry struct {
	// Path is '/'-separated and relative to the tree's root; "" is the root
	// directory itself. Its components may hold any byte but '/' and NUL.
	// Missing parent directories are created with default metadata.
	Path string
	Type tree.NodeType // File if zero
	Mode uint32        // permission bits (mask 07777); see ModeNone
	// Owner is set with lchown, which needs root unless it is the caller's
	// own; nil leaves the creator's.
	Owner *Owner
	MTime int64 // nanoseconds since the Unix epoch; DefaultMTime if zero

	Data    []byte   // a file's content from offset 0
	Islands []Island // more content at offsets; the bytes between are holes
	Size    int64    // a file's final size, if larger than its data

	Link   string // for a file: the Path of an earlier file to hard-link
	Target string // a symbolic link's target, never followed
	Rdev   uint64 // device number of a character or block device

	Xattrs map[string][]byte // extended attributes, any namespace
}

// Spec is a tree, item by item, in creation order: a hard link's Link must
// name an entry before it.
type Spec []Entry

// Build creates spec below dir, which is created if missing. Every item gets
// its metadata after it was created, directories after their children, so
// each has exactly the times and modes spec gives. It fails the test if the
// file system refuses anything.
func Build(t testing.TB, dir string, spec Spec) {
	t.Helper()
	if err := build(dir, spec); err != nil {
		t.Fatalf("testtree: building %s: %v", dir, err)
	}
}

func build(dir string, spec Spec) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	dirs := map[string]*Entry{"": {Type: tree.Dir}} // with implicit ones
	var others []*Entry
	for i := range spec {
		e := &spec[i]
		if err := checkPath(e.Path); err != nil {
			return err
		}
		if err := makeParents(dir, e.Path, dirs); err != nil {
			return err
		}
		if e.Type == tree.Dir {
			if _, made := dirs[e.Path]; !made {
				if err := unix.Mkdir(filepath.Join(dir, e.Path), 0o700); err != nil {
					return fmt.Errorf("mkdir %q: %w", e.Path, err)
				}
			}
			dirs[e.Path] = e
			continue
		}
		if e.Path == "" {
			return fmt.Errorf("the root must be a directory")
		}
		if err := create(filepath.Join(dir, e.Path), dir, e); err != nil {
			return fmt.Errorf("%q: %w", e.Path, err)
		}
		if e.Link == "" {
			others = append(others, e)
		}
	}
	for _, e := range others {
		if err := setMeta(filepath.Join(dir, e.Path), e); err != nil {
			return fmt.Errorf("%q: %w", e.Path, err)
		}
	}
	// Deepest first, so no directory changes after its times are set.
	paths := make([]string, 0, len(dirs))
	for p := range dirs {
		paths = append(paths, p)
	}
	slices.SortFunc(paths, func(a, b string) int { return cmp.Compare(depth(b), depth(a)) })
	for _, p := range paths {
		if err := setMeta(filepath.Join(dir, p), dirs[p]); err != nil {
			return fmt.Errorf("%q: %w", p, err)
		}
	}
	return nil
}

// depth returns the number of components of a relative path.
func depth(p string) int {
	if p == "" {
		return 0
	}
	return strings.Count(p, "/") + 1
}

func checkPath(p string) error {
	if p == "" {
		return nil
	}
	for c := range strings.SplitSeq(p, "/") {
		if !tree.ValidName([]byte(c)) {
			return fmt.Errorf("path %q: component %q is not a valid name", p, c)
		}
	}
	return nil
}

// makeParents creates the missing ancestors of p, recording them in dirs.
func makeParents(dir, p string, dirs map[string]*Entry) error {
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		if _, ok := dirs[p[:i]]; ok {
			continue
		}
		if err := unix.Mkdir(filepath.Join(dir, p[:i]), 0o700); err != nil {
			return fmt.Errorf("mkdir %q: %w", p[:i], err)
		}
		dirs[p[:i]] = &Entry{Path: p[:i], Type: tree.Dir}
	}
	return nil
}

// create makes p, the non-directory item e describes below dir, with
// provisional metadata.
func create(p, dir string, e *Entry) error {
	switch {
	case e.Link != "":
		return unix.Link(filepath.Join(dir, e.Link), p)
	case e.Type == tree.File || e.Type == 0:
		return writeFile(p, e)
	case e.Type == tree.Symlink:
		return unix.Symlink(e.Target, p)
	case e.Type == tree.Fifo:
		return unix.Mkfifo(p, 0o600)
	}
	bits := map[tree.NodeType]uint32{tree.CharDev: unix.S_IFCHR, tree.BlockDev: unix.S_IFBLK, tree.Socket: unix.S_IFSOCK}
	b, ok := bits[e.Type]
	if !ok {
		return fmt.Errorf("unknown type %d", e.Type)
	}
	return unix.Mknod(p, b|0o600, int(e.Rdev))
}

// writeFile writes a file's data and islands, leaving holes unwritten.
func writeFile(p string, e *Entry) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	end := max(e.Size, int64(len(e.Data)))
	for _, is := range append([]Island{{0, e.Data}}, e.Islands...) {
		if len(is.Data) == 0 {
			continue
		}
		if _, err := f.WriteAt(is.Data, is.Off); err != nil {
			f.Close()
			return err
		}
		end = max(end, is.Off+int64(len(is.Data)))
	}
	if err := f.Truncate(end); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// setMeta gives p the metadata of e in the order a restore does: owner,
// attributes, mode, times. It checks that the mode took, since the kernel
// drops setgid silently in some cases.
func setMeta(p string, e *Entry) error {
	if e.Owner != nil {
		if err := unix.Lchown(p, int(e.Owner.UID), int(e.Owner.GID)); err != nil {
			return fmt.Errorf("lchown: %w", err)
		}
	}
	for _, name := range sortedKeys(e.Xattrs) {
		if err := unix.Lsetxattr(p, name, e.Xattrs[name], 0); err != nil {
			return fmt.Errorf("lsetxattr %q: %w", name, err)
		}
	}
	if e.Type != tree.Symlink {
		mode := e.mode()
		if err := unix.Chmod(p, mode); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		if st.Mode&0o7777 != mode {
			return fmt.Errorf("chmod %#o left mode %#o", mode, st.Mode&0o7777)
		}
	}
	mtime := e.MTime
	if mtime == 0 {
		mtime = DefaultMTime
	}
	ts := unix.NsecToTimespec(mtime)
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

func (e *Entry) mode() uint32 {
	switch {
	case e.Mode&ModeNone != 0:
		return 0
	case e.Mode != 0:
		return e.Mode & 0o7777
	case e.Type == tree.Dir:
		return 0o755
	}
	return 0o644
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
