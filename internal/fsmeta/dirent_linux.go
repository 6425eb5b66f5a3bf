package fsmeta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// The fields of a struct linux_dirent64 that getdents64(2) fills: d_ino
// (8 bytes), d_off (8), d_reclen (2), d_type (1), then d_name, ended by a
// NUL within d_reclen.
const (
	direntReclen = 16
	direntType   = 18
	direntName   = 19
)

var errBadDirent = errors.New("malformed directory entry from getdents")

// direntBufs are getdents buffers, reused: a walk lists every directory,
// and a buffer made for each would be zeroed and collected each time.
var direntBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// readDir returns the names of the entries of the directory open as f,
// without "." and "..", and for each whether it was listed as a regular
// file (DT_REG). Unlike os.File.ReadDir it never stats an entry, not even
// one of type DT_UNKNOWN, which some file systems give for every entry: a
// stat error then fails the whole listing there, where here that entry
// alone fails when it is captured.
func readDir(f *os.File) (names []string, regular []bool, err error) {
	bp := direntBufs.Get().(*[]byte)
	defer direntBufs.Put(bp)
	buf := *bp
	for {
		n, err := unix.Getdents(int(f.Fd()), buf)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return nil, nil, err
		case n <= 0:
			return names, regular, nil
		}
		if names, regular, err = parseDirents(buf[:n], names, regular); err != nil {
			return nil, nil, err
		}
	}
}

// parseDirents appends the entries of buf, getdents64's output, to names
// and regular.
func parseDirents(buf []byte, names []string, regular []bool) ([]string, []bool, error) {
	for len(buf) > 0 {
		if len(buf) < direntName {
			return nil, nil, errBadDirent
		}
		reclen := int(binary.NativeEndian.Uint16(buf[direntReclen:]))
		if reclen < direntName || reclen > len(buf) {
			return nil, nil, errBadDirent
		}
		name := buf[direntName:reclen]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if s := string(name); s != "." && s != ".." {
			names = append(names, s)
			regular = append(regular, buf[direntType] == unix.DT_REG)
		}
		buf = buf[reclen:]
	}
	return names, regular, nil
}
