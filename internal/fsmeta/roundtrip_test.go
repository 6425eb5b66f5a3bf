//go:build linux

package fsmeta

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// base is a modification time with all nine sub-second digits set.
const base = 1_600_000_000_123_456_789

// roundTripCases each make one item, src/item, to back up and restore.
var roundTripCases = []struct {
	name  string
	item  string // name of the item; "item" if empty
	root  string // why the case needs root, if it does
	xattr string // an attribute the file system must support
	make  func(t *testing.T, path, outside string)
}{
	{name: "empty file", make: func(t *testing.T, p, _ string) {
		writeFile(t, p, nil, 0o644)
		touch(t, p, base)
	}},
	{name: "file", make: func(t *testing.T, p, _ string) {
		writeFile(t, p, []byte("hello\x00world\n"), 0o640)
		touch(t, p, base+1)
	}},
	{name: "setuid file", make: func(t *testing.T, p, _ string) {
		writeFile(t, p, []byte("#!/bin/sh\n"), 0o4755)
		touch(t, p, base+2)
	}},
	{name: "setgid file", make: func(t *testing.T, p, _ string) {
		writeFile(t, p, []byte("x"), 0o2711)
		touch(t, p, base+3)
	}},
	{name: "mode 7777 file", make: func(t *testing.T, p, _ string) {
		writeFile(t, p, []byte("x"), 0o7777)
		touch(t, p, base+4)
	}},
	{name: "mode 0 file", root: "only root can read it back to compare", make: func(t *testing.T, p, _ string) {
		writeFile(t, p, []byte("secret"), 0)
		touch(t, p, base+5)
	}},
	{name: "mtime before 1970", make: func(t *testing.T, p, _ string) {
		writeFile(t, p, []byte("old"), 0o600)
		touch(t, p, -123_456_789)
	}},
	{name: "name \\xff\\xfe", item: "\xff\xfe", make: func(t *testing.T, p, _ string) {
		writeFile(t, p, []byte("latin-1"), 0o600)
		touch(t, p, base+6)
	}},
	{name: "name with newline", item: "a\nb", make: func(t *testing.T, p, _ string) {
		writeFile(t, p, []byte("nl"), 0o600)
		touch(t, p, base+7)
	}},
	{name: "sparse file", make: func(t *testing.T, p, _ string) {
		makeSparse(t, p)
		touch(t, p, base+8)
	}},
	{name: "empty dir", make: func(t *testing.T, p, _ string) {
		mkdir(t, p, 0o755)
		touch(t, p, base+9)
	}},
	{name: "sticky dir", make: func(t *testing.T, p, _ string) {
		mkdir(t, p, 0o1777)
		touch(t, p, base+10)
	}},
	{name: "setgid dir with read-only child dir", make: func(t *testing.T, p, _ string) {
		mkdir(t, p, 0o700)
		mkdir(t, filepath.Join(p, "ro"), 0o700)
		writeFile(t, filepath.Join(p, "ro", "f"), []byte("f"), 0o444)
		touch(t, filepath.Join(p, "ro", "f"), base+11)
		chmod(t, filepath.Join(p, "ro"), 0o555)
		touch(t, filepath.Join(p, "ro"), base+12)
		chmod(t, p, 0o2775)
		touch(t, p, base+13)
	}},
	{name: "hard links", make: func(t *testing.T, p, _ string) {
		mkdir(t, p, 0o755)
		writeFile(t, filepath.Join(p, "a"), []byte("shared"), 0o640)
		must(t, os.Link(filepath.Join(p, "a"), filepath.Join(p, "b")))
		must(t, os.Link(filepath.Join(p, "a"), filepath.Join(p, "c")))
		touch(t, filepath.Join(p, "a"), base+14)
		touch(t, p, base+15)
	}},
	{name: "symlink to a file outside", make: func(t *testing.T, p, outside string) {
		must(t, os.Symlink(filepath.Join(outside, "sentinel"), p))
		touch(t, p, base+16)
	}},
	{name: "symlink to a dir outside", make: func(t *testing.T, p, outside string) {
		must(t, os.Symlink(outside, p))
		touch(t, p, base+17)
	}},
	{name: "dangling symlink with odd bytes", make: func(t *testing.T, p, _ string) {
		must(t, os.Symlink("../../nowhere/\xff\n", p))
		touch(t, p, base+18)
	}},
	{name: "fifo", make: func(t *testing.T, p, _ string) {
		must(t, unix.Mkfifo(p, 0o600))
		chmod(t, p, 0o620)
		touch(t, p, base+19)
	}},
	{name: "socket", make: func(t *testing.T, p, _ string) {
		must(t, unix.Mknod(p, unix.S_IFSOCK|0o755, 0))
		touch(t, p, base+20)
	}},
	{name: "char device", root: "creating device nodes", make: func(t *testing.T, p, _ string) {
		must(t, unix.Mknod(p, unix.S_IFCHR|0o660, int(unix.Mkdev(1, 3))))
		touch(t, p, base+21)
	}},
	{name: "block device", root: "creating device nodes", make: func(t *testing.T, p, _ string) {
		must(t, unix.Mknod(p, unix.S_IFBLK|0o640, int(unix.Mkdev(259, 1<<19+7))))
		touch(t, p, base+22)
	}},
	{name: "user xattrs", xattr: "user.probe", make: func(t *testing.T, p, _ string) {
		writeFile(t, p, []byte("x"), 0o644)
		for name, value := range map[string][]byte{
			"user.b":     []byte("two"),
			"user.a":     []byte("one\x00\xff"),
			"user.empty": nil,
			"user.big":   bytes.Repeat([]byte("0123456789"), 400), // larger than the first read buffer
		} {
			must(t, unix.Lsetxattr(p, name, value, 0))
		}
		touch(t, p, base+23)
	}},
	{name: "user xattrs on a dir", xattr: "user.probe", make: func(t *testing.T, p, _ string) {
		mkdir(t, p, 0o750)
		must(t, unix.Lsetxattr(p, "user.dir", []byte("d"), 0))
		touch(t, p, base+24)
	}},
	{name: "many xattr names", xattr: "user.probe", make: func(t *testing.T, p, _ string) {
		writeFile(t, p, nil, 0o600)
		for i := range 60 { // a name list longer than the first read buffer
			must(t, unix.Lsetxattr(p, "user.a-rather-long-attribute-name-"+string(rune('A'+i)), []byte{byte(i)}, 0))
		}
		touch(t, p, base+25)
	}},
	{name: "trusted xattr on a symlink", root: "trusted.* attributes", xattr: "trusted.probe", make: func(t *testing.T, p, outside string) {
		must(t, os.Symlink(filepath.Join(outside, "sentinel"), p))
		must(t, unix.Lsetxattr(p, "trusted.coffer", []byte("on the link"), 0))
		touch(t, p, base+26)
	}},
	{name: "file capability survives chown", root: "setting security.capability", xattr: "user.probe", make: func(t *testing.T, p, _ string) {
		writeFile(t, p, []byte("bin"), 0o755)
		// vfs_cap_data revision 2, effective, permitted CAP_NET_BIND_SERVICE.
		capability := []byte{1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
		must(t, unix.Lsetxattr(p, "security.capability", capability, 0))
		touch(t, p, base+27)
	}},
	{name: "foreign owners", root: "giving files to other users", make: func(t *testing.T, p, outside string) {
		mkdir(t, p, 0o755)
		f, l := filepath.Join(p, "f"), filepath.Join(p, "l")
		writeFile(t, f, []byte("x"), 0o6750)
		must(t, os.Lchown(f, 12345, 23456))
		chmod(t, f, 0o6750) // chown cleared the setuid and setgid bits
		must(t, os.Symlink(filepath.Join(outside, "sentinel"), l))
		must(t, os.Lchown(l, 23456, 12345))
		touch(t, f, base+28)
		touch(t, l, base+29)
		must(t, os.Lchown(p, 1, 2))
		touch(t, p, base+30)
	}},
}

// TestRoundTrip backs up and restores one item of each kind and property and
// compares the restored metadata and content with the original's. Nothing
// outside the restore target may change, though symbolic links point there.
func TestRoundTrip(t *testing.T) {
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "sentinel"), []byte("untouched"), 0o644)
	before := snapshot(t, outside)
	for _, tc := range roundTripCases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root != "" {
				needRoot(t, tc.root)
			}
			src, dst := t.TempDir(), t.TempDir()
			t.Cleanup(func() { makeRemovable(src, dst) })
			if tc.xattr != "" {
				needXattr(t, src, tc.xattr)
			}
			item := tc.item
			if item == "" {
				item = "item"
			}
			tc.make(t, filepath.Join(src, item), outside)
			r, err := OpenRoot(dst)
			must(t, err)
			defer r.Close()
			restoreTree(t, r, src, item, make(map[[2]uint64]string))
			compareTree(t, src, dst, item, make(map[uint64]uint64))
		})
	}
	checkUnchanged(t, before, snapshot(t, outside), false)
}

// makeRemovable makes every directory below dirs writable, so that the
// temporary directories can be removed by a user other than root.
func makeRemovable(dirs ...string) {
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(path, 0o700)
			}
			return nil
		})
	}
}

// makeSparse makes a 4 MiB file holding 4 KiB of data at offsets 0 and 1 MiB
// and holes elsewhere.
func makeSparse(t *testing.T, p string) {
	t.Helper()
	f, err := os.Create(p)
	must(t, err)
	defer f.Close()
	block := bytes.Repeat([]byte{0xAB}, 4096)
	_, err = f.WriteAt(block, 0)
	must(t, err)
	_, err = f.WriteAt(block, 1<<20)
	must(t, err)
	must(t, f.Truncate(4<<20))
}
