package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/coffer-backup/coffer/internal/store"
)

// notFound maps a missing file to store.ErrNotFound and names the object.
func notFound(op string, kind store.Kind, name string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		err = store.ErrNotFound
	}
	return fmt.Errorf("%s %s/%s: %w", op, kind, name, err)
}

// Get returns length bytes of kind/name from offset (to the end if length is
// negative). A range that starts or ends past the end of the object is an
// error. The reader fails once ctx is done, and fails with
// io.ErrUnexpectedEOF if the object turns out shorter than the range.
func (s *Store) Get(ctx context.Context, kind store.Kind, name string, offset, length int64) (io.ReadCloser, error) {
	if err := store.CheckOp(ctx, "get", kind, name); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(s.abs(objectPath(kind, name)), os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		return nil, notFound("get", kind, name, err)
	}
	size, err := regularSize(f)
	if err == nil {
		length, err = clampRange(offset, length, size)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("get %s/%s: %w", kind, name, err)
	}
	return store.RangeReader(ctx, io.NewSectionReader(f, offset, length), f, string(kind)+"/"+name, length), nil
}

// regularSize returns the size of an open file, which must be regular.
func regularSize(f *os.File) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if !fi.Mode().IsRegular() {
		return 0, errors.New("not a regular file")
	}
	return fi.Size(), nil
}

// clampRange checks a range against an object's size and returns its length.
func clampRange(offset, length, size int64) (int64, error) {
	if offset < 0 || offset > size {
		return 0, fmt.Errorf("offset %d is outside its %d bytes", offset, size)
	}
	if length < 0 {
		return size - offset, nil
	}
	if length > size-offset {
		return 0, fmt.Errorf("range of %d bytes at %d runs past the end of its %d bytes", length, offset, size)
	}
	return length, nil
}

// Stat returns the size of kind/name, or an error wrapping store.ErrNotFound.
func (s *Store) Stat(ctx context.Context, kind store.Kind, name string) (store.ObjectInfo, error) {
	if err := store.CheckOp(ctx, "stat", kind, name); err != nil {
		return store.ObjectInfo{}, err
	}
	fi, err := os.Lstat(s.abs(objectPath(kind, name)))
	if err != nil {
		return store.ObjectInfo{}, notFound("stat", kind, name, err)
	}
	if !fi.Mode().IsRegular() {
		return store.ObjectInfo{}, fmt.Errorf("stat %s/%s: not a regular file", kind, name)
	}
	return store.ObjectInfo{Name: name, Size: fi.Size()}, nil
}

// Delete removes kind/name and syncs its directory. Deleting a missing object
// returns an error wrapping store.ErrNotFound.
func (s *Store) Delete(ctx context.Context, kind store.Kind, name string) error {
	if err := store.CheckOp(ctx, "delete", kind, name); err != nil {
		return err
	}
	p := s.abs(objectPath(kind, name))
	if err := unlink(p); err != nil {
		return notFound("delete", kind, name, err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("delete %s/%s: deleted but not synced: %w", kind, name, err)
	}
	return nil
}

// List calls fn for every object of the kind. It skips temp files and
// anything that is not a regular file with a valid name in the directory
// where that name belongs, so stray files cannot break it.
func (s *Store) List(ctx context.Context, kind store.Kind, fn func(store.ObjectInfo) error) error {
	if !kind.Valid() {
		return fmt.Errorf("list: unknown object kind %q", kind)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %s: %w", kind, err)
	}
	list := func(dir string) error { return s.listDir(ctx, kind, dir, fn) }
	if kind != store.Packs {
		return list(string(kind))
	}
	return eachEntry(ctx, s.abs(string(kind)), func(e fs.DirEntry) error {
		if !e.IsDir() {
			return nil
		}
		return list(string(kind) + "/" + e.Name())
	})
}

// listDir calls fn for every object of the kind in dir, a slash path relative
// to the store root.
func (s *Store) listDir(ctx context.Context, kind store.Kind, dir string, fn func(store.ObjectInfo) error) error {
	return eachEntry(ctx, s.abs(dir), func(e fs.DirEntry) error {
		name := e.Name()
		if !e.Type().IsRegular() || !store.ValidName(name) || objectDir(kind, name) != dir {
			return nil
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) { // deleted meanwhile
			return nil
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", kind, err)
		}
		return fn(store.ObjectInfo{Name: name, Size: fi.Size()})
	})
}

// eachEntry calls fn for every entry of dir, reading it in batches so that a
// huge directory costs bounded memory, and stops at the first error.
func eachEntry(ctx context.Context, dir string, fn func(fs.DirEntry) error) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("listing %s: %w", dir, err)
	}
	defer f.Close()
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("listing %s: %w", dir, err)
		}
		entries, err := f.ReadDir(1024)
		for _, e := range entries {
			if err := fn(e); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("listing %s: %w", dir, err)
		}
	}
}
