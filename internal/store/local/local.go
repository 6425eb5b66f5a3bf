// Package local implements Coffer's default store: a directory on a local or
// mounted file system (docs/format.md §4.3). Every object is a read-only file
// published atomically and never overwritten, so a crash leaves either the
// whole object or nothing, and two processes may share one store.
package local

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/coffer-backup/coffer/internal/store"
)

// Layout constants (docs/format.md §4.3).
const (
	tmpDir     = store.TempDir  // holds objects being written
	dirPerm    = 0o700          // store directories: private to the owner
	objectPerm = 0o444          // objects: read-only once published
	tempMaxAge = 24 * time.Hour // Open removes temp files older than this
)

// ErrNotStore is returned by Open when a directory lacks the store layout.
var ErrNotStore = errors.New("not a Coffer store")

// Store is a store.Store kept in a directory. It holds no open files between
// calls and is safe for concurrent use by goroutines and processes.
type Store struct {
	dir    string
	shards sync.Map // pack shard directories known to be durable
}

var _ store.Store = (*Store)(nil)

// layoutDirs lists the directories, relative to the store root, that make up
// an empty store.
func layoutDirs() []string {
	dirs := []string{tmpDir}
	for _, k := range store.Kinds {
		dirs = append(dirs, string(k))
	}
	return dirs
}

// Create makes an empty store in dir, creating dir if needed. It fails if dir
// exists and is not an empty directory.
func Create(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("creating store %s: %w", dir, err)
	}
	if err := checkEmpty(abs); err != nil {
		return nil, fmt.Errorf("creating store %s: %w", abs, err)
	}
	if err := os.MkdirAll(abs, dirPerm); err != nil {
		return nil, fmt.Errorf("creating store %s: %w", abs, err)
	}
	for _, d := range layoutDirs() {
		if err := os.Mkdir(filepath.Join(abs, d), dirPerm); err != nil {
			return nil, fmt.Errorf("creating store %s: %w", abs, err)
		}
	}
	if err := errors.Join(syncDir(abs), syncDir(filepath.Dir(abs))); err != nil {
		return nil, fmt.Errorf("creating store %s: %w", abs, err)
	}
	return &Store{dir: abs}, nil
}

// checkEmpty returns nil if dir is missing or an empty directory.
func checkEmpty(dir string) error {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if len(names) > 0 {
		return errors.New("directory exists and is not empty")
	}
	if err == io.EOF {
		return nil
	}
	return err
}

// Open opens the store in dir. It fails, wrapping ErrNotStore, unless dir
// holds every directory of the layout. Open removes temp files left for more
// than a day by crashed writers; fresh ones may belong to another process and
// are kept. Cleaning is best effort so that a read-only store still opens.
func Open(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("opening store %s: %w: not a directory", abs, ErrNotStore)
	}
	for _, d := range layoutDirs() {
		if fi, err := os.Stat(filepath.Join(abs, d)); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("opening store %s: %w: it has no %q directory", abs, ErrNotStore, d)
		}
	}
	s := &Store{dir: abs}
	s.cleanTemp(time.Now())
	return s, nil
}

// cleanTemp removes regular files in the temp directory last modified more
// than tempMaxAge before now, ignoring errors.
func (s *Store) cleanTemp(now time.Time) {
	dir := filepath.Join(s.dir, tmpDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() || now.Sub(fi.ModTime()) <= tempMaxAge {
			continue
		}
		_ = os.Remove(filepath.Join(dir, e.Name())) // best effort, see Open
	}
}

// Close releases nothing: the Store holds no resources between calls.
func (s *Store) Close() error { return nil }

// objectDir and objectPath are the shared layout (docs/format.md §4.3).
func objectDir(kind store.Kind, name string) string  { return store.ObjectDir(kind, name) }
func objectPath(kind store.Kind, name string) string { return store.ObjectPath(kind, name) }

// abs turns a relative slash path into an absolute path inside the store.
func (s *Store) abs(rel string) string {
	return filepath.Join(s.dir, filepath.FromSlash(rel))
}
