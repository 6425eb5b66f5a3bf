// Package atomicfile writes small files so that a reader, or a machine that
// crashes, sees either the old content or the whole new content, never a
// part: a synced temporary file in the same directory is put in place, and
// the directory is synced.
package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write creates or replaces path with b and permissions perm. If path
// already holds exactly b with those permissions, Write leaves it alone, so
// saving unchanged state (as most commands do) costs a read, not a sync.
func Write(path string, b []byte, perm os.FileMode) error {
	if same(path, b, perm) {
		return nil
	}
	return write(path, b, perm, os.Rename)
}

// same reports whether path is a regular file holding exactly b with
// permissions perm.
func same(path string, b []byte, perm os.FileMode) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != perm || fi.Size() != int64(len(b)) {
		return false
	}
	old := make([]byte, len(b))
	_, err = io.ReadFull(f, old)
	return err == nil && bytes.Equal(old, b)
}

// Create is Write that never replaces a file: if path exists it fails with
// an error wrapping fs.ErrExist and leaves the file as it was.
func Create(path string, b []byte, perm os.FileMode) error {
	return write(path, b, perm, func(tmp, path string) error {
		if err := os.Link(tmp, path); err != nil {
			return err
		}
		return os.Remove(tmp)
	})
}

// write writes b to a synced temporary file beside path, puts it in place
// with place and syncs the directory; the temporary file is removed if
// anything fails.
func write(path string, b []byte, perm os.FileMode, place func(tmp, path string) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	_, err = f.Write(b)
	if err = errors.Join(err, f.Chmod(perm), f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = place(f.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return errors.Join(d.Sync(), d.Close())
}
