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

// Put stores exactly size bytes from r as kind/name (docs/format.md §4.3).
// The bytes go to a temp file that is synced, made read-only and then
// published under its name without ever replacing an existing file, after
// which the directory is synced. If r yields fewer or more than size bytes,
// fails, or ctx is cancelled, nothing becomes visible. If kind/name exists,
// Put returns an error wrapping store.ErrExists and leaves it unchanged.
func (s *Store) Put(ctx context.Context, kind store.Kind, name string, r io.Reader, size int64) error {
	if err := store.CheckOp(ctx, "put", kind, name); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("put %s/%s: negative size %d", kind, name, size)
	}
	dst := s.abs(objectPath(kind, name))
	if _, err := os.Lstat(dst); err == nil { // early out; publish re-checks atomically
		return fmt.Errorf("put %s/%s: %w", kind, name, store.ErrExists)
	}
	tmp, err := s.writeTemp(ctx, r, size)
	if err != nil {
		return fmt.Errorf("put %s/%s: %w", kind, name, err)
	}
	if err := s.publish(ctx, kind, tmp, dst); err != nil {
		_ = os.Remove(tmp) // the temp file was not published; a leftover is swept by Open
		return fmt.Errorf("put %s/%s: %w", kind, name, err)
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return fmt.Errorf("put %s/%s: published but not synced: %w", kind, name, err)
	}
	return nil
}

// writeTemp copies exactly size bytes from r, within ctx, to a new temp file, makes it
// read-only and syncs it. It returns the file's path, or removes the file and
// returns an error.
func (s *Store) writeTemp(ctx context.Context, r io.Reader, size int64) (_ string, err error) {
	f, err := os.CreateTemp(filepath.Join(s.dir, tmpDir), "put-*")
	if err != nil {
		return "", err
	}
	defer func() {
		err = errors.Join(err, f.Close())
		if err != nil {
			_ = os.Remove(f.Name()) // already failing; a leftover is swept by Open
		}
	}()
	if err := store.CopyExact(ctx, f, r, size); err != nil {
		return "", err
	}
	if err := f.Chmod(objectPerm); err != nil {
		return "", err
	}
	return f.Name(), f.Sync()
}

// publish moves the temp file tmp to dst unless dst exists, in which case it
// returns an error wrapping store.ErrExists.
func (s *Store) publish(ctx context.Context, kind store.Kind, tmp, dst string) error {
	if kind == store.Packs {
		if err := s.ensureShard(filepath.Dir(dst)); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err := renameNoReplace(tmp, dst)
	if errors.Is(err, fs.ErrExist) {
		return store.ErrExists
	}
	return err
}

// ensureShard creates a pack shard directory if needed and, the first time
// this Store meets it, syncs the packs directory so the shard's entry is
// durable before any object is published inside it.
func (s *Store) ensureShard(dir string) error {
	if _, ok := s.shards.Load(dir); ok {
		return nil
	}
	if err := os.Mkdir(dir, dirPerm); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return err
	}
	s.shards.Store(dir, true)
	return nil
}

// linkNoReplace publishes oldpath as newpath with link(2), which never
// replaces an existing newpath, then unlinks oldpath. It serves file systems
// without an atomic no-replace rename.
func linkNoReplace(oldpath, newpath string) error {
	if err := os.Link(oldpath, newpath); err != nil {
		return err
	}
	_ = os.Remove(oldpath) // published already; a leftover temp link is swept by Open
	return nil
}
