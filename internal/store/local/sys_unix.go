//go:build !windows

package local

import (
	"errors"
	"os"
	"syscall"
)

// oNoFollow makes opening an object fail rather than follow a symbolic link.
const oNoFollow = syscall.O_NOFOLLOW

// unlink removes the file at p, never a directory.
func unlink(p string) error { return syscall.Unlink(p) }

// syncDir flushes a directory's entries to stable storage.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}
