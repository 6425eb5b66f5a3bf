//go:build linux

package fsmeta

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/coffer-backup/coffer/internal/tree"
)

// nobody is the user and group ID unprivileged tests run as when the test
// process is root.
const nobody = 65534

func needRoot(t *testing.T, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: " + why)
	}
}

// needXattr skips the test unless the file system of dir accepts attribute
// name on a regular file.
func needXattr(t *testing.T, dir, name string) {
	t.Helper()
	probe := filepath.Join(dir, ".xattr-probe")
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(probe)
	err := unix.Lsetxattr(probe, name, []byte("x"), 0)
	if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) {
		t.Skipf("the file system of %s does not accept xattr %s: %v", dir, name, err)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// touch sets the access and modification times of path, not followed, to ns.
func touch(t *testing.T, path string, ns int64) {
	t.Helper()
	ts := unix.NsecToTimespec(ns)
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path string, data []byte, mode uint32) {
	t.Helper()
	must(t, os.WriteFile(path, data, 0o600))
	chmod(t, path, mode)
}

func mkdir(t *testing.T, path string, mode uint32) {
	t.Helper()
	must(t, os.Mkdir(path, 0o700))
	chmod(t, path, mode)
}

// chmod sets all twelve permission bits of path, which os.Chmod does not
// (its setuid, setgid and sticky bits are not the kernel's), and checks they
// took.
func chmod(t *testing.T, path string, mode uint32) {
	t.Helper()
	must(t, unix.Chmod(path, mode))
	var st unix.Stat_t
	must(t, unix.Lstat(path, &st))
	if st.Mode&0o7777 != mode {
		t.Fatalf("chmod %q %#o: mode is %#o", path, mode, st.Mode&0o7777)
	}
}

func stat(t *testing.T, path string) *tree.Node {
	t.Helper()
	n, err := Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func readRanges(t *testing.T, path string, size int64) []Range {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ranges, err := DataRanges(f, size)
	if err != nil {
		t.Fatal(err)
	}
	return ranges
}

// restoreTree restores src/rel to rel below r as the restore engine does:
// content by data ranges without writing holes, hard links once, and a
// directory's metadata after its children.
func restoreTree(t *testing.T, r *Root, src, rel string, links map[[2]uint64]string) {
	t.Helper()
	path := filepath.Join(src, rel)
	n := stat(t, path)
	switch n.Type {
	case tree.Dir:
		must(t, r.Mkdir(rel, false))
		names, err := ReadDirNames(path)
		must(t, err)
		for _, name := range names {
			restoreTree(t, r, src, rel+"/"+name, links)
		}
	case tree.File:
		key := [2]uint64{n.Device, n.Inode}
		if first, ok := links[key]; ok {
			must(t, r.Link(first, rel, false))
			return
		}
		links[key] = rel
		f, err := r.CreateFile(rel, false)
		must(t, err)
		copyData(t, path, f, int64(n.Size))
		warnings, err := r.ApplyFile(f, rel, n, ApplyOptions{}) // as a restore does
		must(t, err)
		if len(warnings) > 0 {
			t.Fatalf("apply %q: warnings %v", rel, warnings)
		}
		must(t, f.Close())
		return
	case tree.Symlink:
		must(t, r.Symlink(n.LinkTarget, rel, false))
	default:
		must(t, r.Mknod(rel, n, false))
	}
	warnings, err := r.Apply(rel, n, ApplyOptions{})
	must(t, err)
	if len(warnings) > 0 {
		t.Fatalf("apply %q: warnings %v", rel, warnings)
	}
}

// copyData copies the data ranges of src into dst and sets its size, leaving
// holes unwritten.
func copyData(t *testing.T, src string, dst *os.File, size int64) {
	t.Helper()
	in, err := os.Open(src)
	must(t, err)
	defer in.Close()
	ranges, err := DataRanges(in, size)
	must(t, err)
	for _, rg := range ranges {
		buf := make([]byte, rg.Len)
		_, err := in.ReadAt(buf, rg.Off)
		must(t, err)
		_, err = dst.WriteAt(buf, rg.Off)
		must(t, err)
	}
	must(t, dst.Truncate(size))
}

// compareTree fails the test unless dst/rel restores src/rel faithfully:
// every recorded property but inode, device and change time, the access time
// set to the modification time, content, data ranges and hard links.
func compareTree(t *testing.T, src, dst, rel string, inodes map[uint64]uint64) {
	t.Helper()
	sp, dp := filepath.Join(src, rel), filepath.Join(dst, rel)
	var st unix.Stat_t
	must(t, unix.Lstat(dp, &st))
	want, got := stat(t, sp), stat(t, dp)
	prev, seen := inodes[want.Inode]
	switch {
	case !seen && st.Atim != st.Mtim: // reading a hard link's content changed its atime
		t.Errorf("%q: atime %v, mtime %v", rel, st.Atim, st.Mtim)
	case seen && prev != got.Inode:
		t.Errorf("%q: hard link not restored", rel)
	}
	inodes[want.Inode] = got.Inode
	for _, n := range []*tree.Node{want, got} {
		n.Inode, n.Device, n.CTime = 0, 0, 0
	}
	if !reflect.DeepEqual(want, got) {
		t.Errorf("%q:\n got  %+v\n want %+v", rel, got, want)
	}
	switch want.Type {
	case tree.File:
		a, err := os.ReadFile(sp)
		must(t, err)
		b, err := os.ReadFile(dp)
		must(t, err)
		if !bytes.Equal(a, b) {
			t.Errorf("%q: content differs", rel)
		}
		if a, b := readRanges(t, sp, int64(want.Size)), readRanges(t, dp, int64(got.Size)); !slices.Equal(a, b) {
			t.Errorf("%q: data ranges %v, want %v", rel, b, a)
		}
	case tree.Dir:
		a, err := ReadDirNames(sp)
		must(t, err)
		b, err := ReadDirNames(dp)
		must(t, err)
		if !slices.Equal(a, b) {
			t.Errorf("%q: entries %q, want %q", rel, b, a)
		}
		for _, name := range a {
			compareTree(t, src, dst, rel+"/"+name, inodes)
		}
	}
}

// state is what a test can observe about one file, but its access time,
// which reading it for this record changes.
type state struct {
	desc  string // type, mode, owner, size, mtime, content or target, xattrs
	links uint64
	ctime unix.Timespec // changes with any write, chmod, chown or xattr change
}

// snapshot records the state of dir and everything below it.
func snapshot(t *testing.T, dir string) map[string]state {
	t.Helper()
	m := make(map[string]state)
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return err
		}
		var content []byte
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			content, err = os.ReadFile(path)
		case unix.S_IFLNK:
			var target string
			target, err = os.Readlink(path)
			content = []byte(target)
		}
		attrs := make([]byte, xattrMax)
		n, xerr := unix.Llistxattr(path, attrs)
		if xerr != nil {
			n = 0
		}
		m[path] = state{
			desc: fmt.Sprintf("mode %o ids %d:%d size %d mtime %v data %q xattrs %q",
				st.Mode, st.Uid, st.Gid, st.Size, st.Mtim, content, attrs[:n]),
			links: uint64(st.Nlink),
			ctime: st.Ctim,
		}
		return err
	})
	must(t, err)
	return m
}

// checkUnchanged fails the test if a file of before changed, vanished or
// gained a sibling in after. With linksMayDrop, a file may lose hard links,
// which also changes its ctime: a restore may remove links planted in its
// target to files outside.
func checkUnchanged(t *testing.T, before, after map[string]state, linksMayDrop bool) {
	t.Helper()
	for path, a := range after {
		b, ok := before[path]
		switch {
		case !ok:
			t.Errorf("%s appeared", path)
		case b.desc != a.desc:
			t.Errorf("%s changed:\nbefore %s\nafter  %s", path, b.desc, a.desc)
		case linksMayDrop && a.links <= b.links:
		case b.links != a.links || b.ctime != a.ctime:
			t.Errorf("%s changed: links %d, ctime %v; before links %d, ctime %v", path, a.links, a.ctime, b.links, b.ctime)
		}
	}
	for path := range before {
		if _, ok := after[path]; !ok {
			t.Errorf("%s vanished", path)
		}
	}
}

// unprivileged runs fn as an unprivileged user: when the test runs as root,
// on a thread of its own whose IDs are nobody's, which is discarded
// afterwards; otherwise as the current user. fn gets the IDs it runs with and
// must not call t.Fatal.
func unprivileged(t *testing.T, fn func(uid, gid uint32)) {
	t.Helper()
	if os.Geteuid() != 0 {
		fn(uint32(os.Geteuid()), uint32(os.Getegid()))
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		for _, call := range [][4]uintptr{
			{unix.SYS_SETGROUPS, 0, 0, 0},
			{unix.SYS_SETRESGID, nobody, nobody, nobody},
			{unix.SYS_SETRESUID, nobody, nobody, nobody},
		} {
			if _, _, errno := unix.RawSyscall(call[0], call[1], call[2], call[3]); errno != 0 {
				t.Errorf("drop privileges (syscall %d): %v", call[0], errno)
				return
			}
		}
		fn(nobody, nobody)
	}()
	<-done
}
