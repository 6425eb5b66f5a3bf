package fsmeta

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/coffer-backup/coffer/internal/tree"
)

// Root creates files below one directory and applies their metadata. On
// Windows it resolves its paths with os.Root, which never leaves the
// directory (it follows a symbolic link only if it stays below it), and
// refuses names holding reservedChars. Replacing (overwrite) removes a
// file or empty directory in the way and creates a new one. Attributes,
// times and the security descriptor are set through a handle opened by
// the item's full path without following it if it is a reparse point.
// Its methods are safe for concurrent use until Close.
type Root struct {
	root *os.Root
	dir  string
}

// OpenRoot opens dir, which must exist, as a Root.
func OpenRoot(dir string) (*Root, error) {
	rt, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("fsmeta: open restore target %q: %w", dir, err)
	}
	return &Root{root: rt, dir: dir}, nil
}

// Close releases the root's directory.
func (r *Root) Close() error {
	if err := r.root.Close(); err != nil {
		return fmt.Errorf("fsmeta: close restore target %q: %w", r.dir, err)
	}
	return nil
}

// Mkdir creates directory rel; an existing directory is accepted.
func (r *Root) Mkdir(rel string, overwrite bool) error {
	return r.fail("mkdir", rel, r.make(rel, overwrite, func(p string) error {
		err := r.root.Mkdir(p, 0o700)
		if errors.Is(err, fs.ErrExist) {
			if fi, e := r.root.Lstat(p); e == nil && fi.IsDir() && fi.Mode()&fs.ModeSymlink == 0 {
				return nil
			}
		}
		return err
	}))
}

// CreateFile creates regular file rel, open for writing; it never opens
// an existing file.
func (r *Root) CreateFile(rel string, overwrite bool) (*os.File, error) {
	var f *os.File
	err := r.make(rel, overwrite, func(p string) (err error) {
		f, err = r.root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		return err
	})
	if err != nil {
		return nil, r.fail("create", rel, err)
	}
	return f, nil
}

// Symlink creates symbolic link rel pointing to target (which needs the
// privilege to create symbolic links, or developer mode).
func (r *Root) Symlink(target []byte, rel string, overwrite bool) error {
	return r.fail("symlink", rel, r.make(rel, overwrite, func(p string) error {
		return r.root.Symlink(filepath.FromSlash(string(target)), p)
	}))
}

// Mknod fails: Windows has no fifos, sockets or device nodes in its file
// systems.
func (r *Root) Mknod(rel string, n *tree.Node, _ bool) error {
	return r.fail("mknod", rel, fmt.Errorf("creating a %s on Windows: %w", n.Type, errors.ErrUnsupported))
}

// Link creates rel as a hard link to existingRel.
func (r *Root) Link(existingRel, rel string, overwrite bool) error {
	if err := checkRel(existingRel); err != nil {
		return r.fail("link", rel, err)
	}
	return r.fail("link", rel, r.make(rel, overwrite, func(p string) error {
		return r.root.Link(filepath.FromSlash(existingRel), p)
	}))
}

// Remove deletes the file or symbolic link at rel, never a directory.
func (r *Root) Remove(rel string) error {
	if err := checkRel(rel); err != nil {
		return r.fail("remove", rel, err)
	}
	p := filepath.FromSlash(rel)
	if fi, err := r.root.Lstat(p); err == nil && fi.IsDir() {
		return r.fail("remove", rel, fmt.Errorf("is a directory"))
	}
	return r.fail("remove", rel, r.root.Remove(p))
}

// make validates rel and runs mk on its native path; if that fails because
// the name exists and overwrite is set, it removes what is there (a file,
// or an empty directory) and runs mk again.
func (r *Root) make(rel string, overwrite bool, mk func(p string) error) error {
	if err := checkRel(rel); err != nil {
		return err
	}
	p := filepath.FromSlash(rel)
	err := mk(p)
	if !overwrite || !errors.Is(err, fs.ErrExist) {
		return err
	}
	if err := r.root.Remove(p); err != nil {
		return fmt.Errorf("replace: %w", err)
	}
	return mk(p)
}

// Holds reports whether rel already holds an item like n, as on Linux
// (holds_posix.go): same type and, for a file, size and modification time;
// for a symbolic link, target.
func (r *Root) Holds(rel string, n *tree.Node) (bool, error) {
	if err := checkRel(rel); err != nil {
		return false, r.fail("stat", rel, err)
	}
	p := filepath.FromSlash(rel)
	fi, err := r.root.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, r.fail("stat", rel, err)
	}
	switch m := fi.Mode(); {
	case n.Type == tree.File && m.IsRegular():
		return uint64(fi.Size()) == n.Size && fi.ModTime().UnixNano() == n.MTime, nil
	case n.Type == tree.Dir && m.IsDir():
		return true, nil
	case n.Type == tree.Symlink && m&fs.ModeSymlink != 0:
		target, err := r.root.Readlink(p)
		return err == nil && bytes.Equal([]byte(filepath.ToSlash(target)), n.LinkTarget), nil
	}
	return false, nil
}

// ReopenFile opens for writing again the regular file rel that CreateFile
// made, whose identity was id, refusing with ErrReplaced anything else.
func (r *Root) ReopenFile(rel string, id FileID) (*os.File, error) {
	if err := checkRel(rel); err != nil {
		return nil, r.fail("reopen", rel, err)
	}
	p := filepath.FromSlash(rel)
	if fi, err := r.root.Lstat(p); err != nil || !fi.Mode().IsRegular() {
		return nil, r.fail("reopen", rel, ErrReplaced)
	}
	f, err := r.root.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return nil, r.fail("reopen", rel, err)
	}
	if got, err := StatFile(f); err != nil || got != id {
		f.Close()
		return nil, r.fail("reopen", rel, ErrReplaced)
	}
	return f, nil
}
