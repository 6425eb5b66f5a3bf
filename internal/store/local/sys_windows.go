package local

import (
	"fmt"
	"os"
)

// oNoFollow is zero: Windows has no O_NOFOLLOW, and os.OpenFile follows a
// symbolic link there. The store writes none in its directory.
const oNoFollow = 0

// unlink removes the file at p, never a directory.
func unlink(p string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("remove %s: is a directory", p)
	}
	return os.Remove(p)
}

// syncDir does nothing on Windows, which cannot flush a directory handle
// (FlushFileBuffers on one fails); NTFS journals its directory entries.
func syncDir(string) error { return nil }
