// Package store defines the narrow storage interface every Coffer backend
// implements: a flat namespace of immutable, write-once objects grouped by
// kind (docs/format.md §4). A backend never sees a plaintext byte; it is
// trusted for nothing, and everything read back is verified by the caller.
package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
)

// Kind groups objects. Each kind is a directory (local store), a URL path
// segment (remote store) or a key prefix (object storage).
type Kind string

// The kinds of object a repository holds (docs/format.md §4).
const (
	Config    Kind = "config"    // the repository configuration, one object named "config"
	Keys      Kind = "keys"      // the account root key wrapped to each device and to the recovery key
	Packs     Kind = "packs"     // packs of encrypted blobs, named by SHA-256 of their bytes
	Index     Kind = "index"     // encrypted index objects, named by SHA-256 of their bytes
	Snapshots Kind = "snapshots" // encrypted snapshots, named by SHA-256 of their bytes
	Sessions  Kind = "sessions"  // markers of backups in progress (docs/format.md §8)
	Prune     Kind = "prune"     // pending-deletion plans of prune (docs/format.md §8)
)

// Kinds lists every kind, in a stable order.
var Kinds = []Kind{Config, Keys, Packs, Index, Snapshots, Sessions, Prune}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	for _, v := range Kinds {
		if k == v {
			return true
		}
	}
	return false
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,127}$`)

// ValidName reports whether name may name an object: 1 to 128 characters of
// lower-case letters, digits, '.', '_' and '-', not starting with a
// punctuation mark. No name can escape its kind's namespace.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// CheckName returns an error naming the object if kind or name is invalid.
func CheckName(kind Kind, name string) error {
	if !kind.Valid() {
		return fmt.Errorf("unknown object kind %q", kind)
	}
	if !ValidName(name) {
		return fmt.Errorf("invalid object name %q in %s", name, kind)
	}
	return nil
}

// Errors every backend returns, wrapped with context, so callers can test
// them with errors.Is.
var (
	ErrNotFound = errors.New("object not found")
	ErrExists   = errors.New("object already exists")
)

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Name string
	Size int64
}

// Store is the storage interface. Objects are immutable: Put never replaces
// an existing object. All methods are safe for concurrent use by several
// goroutines and by several processes sharing the same backend.
type Store interface {
	// Put stores size bytes read from r under kind/name. It is atomic: the
	// object is either fully visible with exactly those bytes, or absent,
	// even if the process crashes. If the object already exists, Put
	// returns an error wrapping ErrExists and leaves it unchanged.
	Put(ctx context.Context, kind Kind, name string, r io.Reader, size int64) error

	// Get returns length bytes of kind/name starting at offset; a negative
	// length reads to the end. A missing object yields ErrNotFound. The
	// caller must close the reader and must verify what it reads.
	Get(ctx context.Context, kind Kind, name string, offset, length int64) (io.ReadCloser, error)

	// Stat returns the size of kind/name, or ErrNotFound.
	Stat(ctx context.Context, kind Kind, name string) (ObjectInfo, error)

	// List calls fn for every object of the kind, in no particular order.
	// If fn returns an error, List stops and returns it.
	List(ctx context.Context, kind Kind, fn func(ObjectInfo) error) error

	// Delete removes kind/name. Deleting a missing object returns an error
	// wrapping ErrNotFound.
	Delete(ctx context.Context, kind Kind, name string) error

	// Close releases the backend's resources.
	Close() error
}

// PutBytes stores b as kind/name.
func PutBytes(ctx context.Context, s Store, kind Kind, name string, b []byte) error {
	if err := s.Put(ctx, kind, name, bytes.NewReader(b), int64(len(b))); err != nil {
		return fmt.Errorf("writing %s/%s: %w", kind, name, err)
	}
	return nil
}

// ReadAll reads a whole object, refusing one larger than limit bytes so that
// a hostile store cannot make the caller allocate without bound.
func ReadAll(ctx context.Context, s Store, kind Kind, name string, limit int64) ([]byte, error) {
	rc, err := s.Get(ctx, kind, name, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s/%s: %w", kind, name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s/%s is larger than the %d-byte limit for its kind", kind, name, limit)
	}
	return b, nil
}

// keepKey marks a context whose reads a caching layer should keep.
type keepKey struct{}

// Keep returns ctx marked so that a caching layer in front of a store
// keeps a local copy of the whole objects read with it: the reader says it
// will want them again (a tree pack, docs/format.md §6.7). A store without
// such a layer ignores the mark.
func Keep(ctx context.Context) context.Context { return context.WithValue(ctx, keepKey{}, true) }

// Kept reports whether ctx was marked by Keep.
func Kept(ctx context.Context) bool { return ctx.Value(keepKey{}) != nil }
