package fsmeta

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// dirent encodes one linux_dirent64 record of name and type, padded to 8
// bytes as the kernel does.
func dirent(name string, typ byte) []byte {
	reclen := (direntName + len(name) + 1 + 7) &^ 7
	b := make([]byte, reclen)
	binary.NativeEndian.PutUint16(b[direntReclen:], uint16(reclen))
	b[direntType] = typ
	copy(b[direntName:], name)
	return b
}

// TestParseDirents checks that getdents64 records give their names and
// whether each is a regular file, "." and ".." left out, and that a record
// whose length does not fit is refused rather than read past.
func TestParseDirents(t *testing.T) {
	buf := slices.Concat(dirent(".", unix.DT_DIR), dirent("..", unix.DT_DIR), dirent("file", unix.DT_REG),
		dirent("sub", unix.DT_DIR), dirent("unknown", unix.DT_UNKNOWN), dirent("exactly8", unix.DT_REG))
	names, regular, err := parseDirents(buf, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"file", "sub", "unknown", "exactly8"}; !slices.Equal(names, want) {
		t.Errorf("names %q, want %q", names, want)
	}
	if want := []bool{true, false, false, true}; !slices.Equal(regular, want) {
		t.Errorf("regular %v, want %v", regular, want)
	}
	short := dirent("x", unix.DT_REG)
	for name, bad := range map[string][]byte{
		"record past the end": short[:len(short)-1],
		"zero length":         make([]byte, 24),
		"header cut":          short[:direntName-1],
	} {
		if _, _, err := parseDirents(bad, nil, nil); !errors.Is(err, errBadDirent) {
			t.Errorf("%s: %v, want errBadDirent", name, err)
		}
	}
}
