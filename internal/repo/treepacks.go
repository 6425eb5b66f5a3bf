package repo

import (
	"context"
	"errors"
	"fmt"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/pack"
	"github.com/coffer-backup/coffer/internal/store"
)

// treePackMemory bounds the bytes of tree packs a Repo keeps in memory.
const treePackMemory = 64 << 20

// newTreePacks returns the cache of tree packs read whole, most recently
// used first, up to max bytes in all (docs/format.md §6.7). A failure is
// kept too, so that a pack that cannot be had whole is read blob by blob
// from then on, unless the read was cancelled.
func newTreePacks(max int64) *loadCache[blob.ID] {
	return newLoadCache[blob.ID](max, func(err error) bool {
		return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	})
}

// wholeTreePack reports whether the copy at loc is read through its whole
// pack: a tree blob in a pack the index lists as a tree pack, of a size
// the store listed and at most pack.TreeReadSize (docs/format.md §6.7).
func (r *Repo) wholeTreePack(t blob.Type, loc index.Location) bool {
	if t != blob.Tree || loc.Type != t || !r.Index.TreePack(loc.Pack) {
		return false
	}
	sizes := r.sizes.Load()
	if sizes == nil {
		return false
	}
	size, ok := (*sizes)[loc.Pack]
	return ok && size <= pack.TreeReadSize
}

// loadFromTreePack reads a copy from its tree pack, fetched whole once,
// checked against its name and kept. If the pack cannot be had whole, it
// reads the copy alone, as for any other pack.
func (r *Repo) loadFromTreePack(ctx context.Context, t blob.Type, id blob.ID, loc index.Location, dst []byte) ([]byte, error) {
	data, err := r.trees.get(loc.Pack, func() ([]byte, error) { return r.readTreePack(ctx, loc.Pack) })
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return r.loadRange(ctx, t, id, loc, dst)
	}
	start, end := int64(loc.Offset), int64(loc.Offset)+int64(loc.Length)
	if end > int64(len(data)) {
		return nil, badCopyError{fmt.Errorf("%s blob %s lies beyond the end of pack %s", t, id.Short(), loc.Pack.Short())}
	}
	return r.OpenBlob(dst, t, id, data[start:end], int(loc.RawLength))
}

// readTreePack reads a tree pack whole, asking a cache in front of the
// store to keep it (docs/format.md §12), and checks that its bytes hash
// to its name (§6.7).
func (r *Repo) readTreePack(ctx context.Context, id blob.ID) ([]byte, error) {
	b, err := store.ReadAll(store.Keep(ctx), r.st, store.Packs, id.String(), pack.TreeReadSize)
	if err != nil {
		return nil, fmt.Errorf("reading tree pack %s: %w", id.Short(), err)
	}
	if crypt.ContentID(b) != id {
		return nil, fmt.Errorf("tree pack %s: content does not match its name (altered or swapped)", id.Short())
	}
	return b, nil
}
