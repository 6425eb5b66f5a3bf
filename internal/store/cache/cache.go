// Package cache keeps, in a local directory, copies of the objects of a
// store that every command reads again: index objects, snapshot objects,
// and packs read with a context marked by store.Keep (tree packs). It is a
// store.Store in front of another (docs/format.md §12).
//
// What it keeps are the store's own objects, byte for byte: encrypted and
// named by the SHA-256 of their bytes. It keeps an object only if its bytes
// hash to its name, checks that again on every read, and serves the bytes
// to the same callers, which authenticate them exactly as if the store had
// served them: a cached copy is never trusted because it is local. An
// object whose name is not a content address (config, keys, sessions,
// prune plans) is never kept.
//
// Several processes may share a directory: files are written whole and
// renamed into place (internal/atomicfile), never changed afterwards, and
// a file removed by another process's trimming is fetched again. The
// directory is bounded: past its size limit, the files read least
// recently are removed.
package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/coffer-backup/coffer/internal/store"
)

// DefaultLimit is the size, in bytes, to which a cache directory is
// trimmed unless told otherwise: 1 GiB.
const DefaultLimit = 1 << 30

// MaxObject is the largest object kept; a larger one is served straight
// from the store. It holds any tree pack (pack.TreeReadSize) and any index
// object (index.MaxObjectSize).
const MaxObject = 64 << 20

// Store is a store.Store that keeps local copies of what it reads. Every
// method it does not define goes to the store it fronts.
type Store struct {
	store.Store
	dir   string
	limit int64

	mu    sync.Mutex
	added int64 // bytes written since the last trim
}

// New returns a Store in front of inner that keeps its copies in dir,
// creating it with mode 0700 if need be, and trims dir to limit bytes
// (DefaultLimit if limit ≤ 0).
func New(inner store.Store, dir string, limit int64) (*Store, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating cache %s: %w", dir, err)
	}
	s := &Store{Store: inner, dir: dir, limit: limit}
	s.trim()
	return s, nil
}

// Unwrap returns the store s fronts, so that store.ChainOf and callers
// that need a backend's own methods can reach it.
func (s *Store) Unwrap() store.Store { return s.Store }

// keeps reports whether kind/name, read or written with ctx, is one s
// keeps: an index or snapshot object, or a pack the caller marked with
// store.Keep, named by a content address.
func keeps(ctx context.Context, kind store.Kind, name string) bool {
	if len(name) != 2*sha256.Size || !isHex(name) {
		return false
	}
	return kind == store.Index || kind == store.Snapshots || kind == store.Packs && store.Kept(ctx)
}

func isHex(s string) bool {
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Get serves a whole object s keeps from its local copy, if it has one
// whose bytes hash to the name; otherwise it reads the object from the
// store and keeps a copy if the bytes hash to the name. Other reads go to
// the store.
func (s *Store) Get(ctx context.Context, kind store.Kind, name string, offset, length int64) (io.ReadCloser, error) {
	if offset != 0 || length >= 0 || !keeps(ctx, kind, name) {
		return s.Store.Get(ctx, kind, name, offset, length)
	}
	if err := store.CheckOp(ctx, "get", kind, name); err != nil {
		return nil, err
	}
	if b, ok := s.load(kind, name); ok {
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	return s.fetch(ctx, kind, name)
}

// fetch reads a whole object from the store and keeps it if it is
// authentic and not too large; a larger one is streamed, not kept.
func (s *Store) fetch(ctx context.Context, kind store.Kind, name string) (io.ReadCloser, error) {
	rc, err := s.Store.Get(ctx, kind, name, 0, -1)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(rc, MaxObject+1))
	if err != nil {
		rc.Close()
		return nil, err
	}
	if len(b) > MaxObject {
		return readCloser{io.MultiReader(bytes.NewReader(b), rc), rc}, nil
	}
	rc.Close()
	s.keep(kind, name, b)
	return io.NopCloser(bytes.NewReader(b)), nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// Put stores the object and, if s keeps it, keeps a copy.
func (s *Store) Put(ctx context.Context, kind store.Kind, name string, r io.Reader, size int64) error {
	if size > MaxObject || !keeps(ctx, kind, name) {
		return s.Store.Put(ctx, kind, name, r, size)
	}
	b, err := io.ReadAll(io.LimitReader(store.CtxReader{Ctx: ctx, R: r}, size+1))
	if err != nil {
		return fmt.Errorf("put %s/%s: %w", kind, name, err)
	}
	if err := s.Store.Put(ctx, kind, name, bytes.NewReader(b), size); err != nil {
		return err
	}
	if int64(len(b)) == size {
		s.keep(kind, name, b)
	}
	return nil
}

// Delete deletes the object from the store and drops the local copy.
func (s *Store) Delete(ctx context.Context, kind store.Kind, name string) error {
	err := s.Store.Delete(ctx, kind, name)
	if store.ValidName(name) && kind.Valid() {
		if rerr := os.Remove(s.path(kind, name)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
			err = fmt.Errorf("dropping the cached copy of %s/%s: %w", kind, name, rerr)
		}
	}
	return err
}

// path returns where the copy of kind/name lives: the store's own layout
// (docs/format.md §4.3) under dir.
func (s *Store) path(kind store.Kind, name string) string {
	return filepath.Join(s.dir, filepath.FromSlash(store.ObjectPath(kind, name)))
}

// hashes reports whether b's SHA-256 is the content address name.
func hashes(b []byte, name string) bool {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]) == name
}
