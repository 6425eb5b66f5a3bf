package repo

import (
	"context"
	"fmt"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/index"
)

// WindowReader reads blobs for a reader that needs many of them, such as a
// restore: it fetches packs in aligned windows of a fixed size and keeps the
// most recent windows, so that small blobs cost one read per window rather
// than one each, and a store that watches reads sees whole windows, not
// blob boundaries (docs/format.md §10). Blobs larger than half a window are
// read on their own. It is safe for concurrent use; memory is bounded by
// window × windows.
type WindowReader struct {
	r       *Repo
	window  int64
	sizes   map[blob.ID]int64
	windows *loadCache[windowKey]
}

type windowKey struct {
	pack blob.ID
	idx  int64
}

// NewWindowReader returns a WindowReader keeping at most windows windows of
// window bytes each.
func (r *Repo) NewWindowReader(ctx context.Context, window int64, windows int) (*WindowReader, error) {
	sizes, err := r.PackSizes(ctx)
	if err != nil {
		return nil, err
	}
	keep := func(error) bool { return false } // a failed read is tried again
	return &WindowReader{r: r, window: window, sizes: sizes,
		windows: newLoadCache[windowKey](window*int64(windows), keep)}, nil
}

// LoadBlob reads one blob, appending its plaintext to dst. Like
// Repo.LoadBlob it tries every copy the index lists until one
// authenticates (docs/format.md §7.3).
func (w *WindowReader) LoadBlob(ctx context.Context, t blob.Type, id blob.ID, dst []byte) ([]byte, error) {
	return w.r.loadCopies(ctx, t, id, dst, w.loadCopy)
}

// loadCopy reads one copy through its window, or on its own when it is
// large, straddles windows or lies beyond the pack's listed size; a tree
// in a tree pack is read from the whole pack (docs/format.md §6.7).
func (w *WindowReader) loadCopy(ctx context.Context, t blob.Type, id blob.ID, loc index.Location, dst []byte) ([]byte, error) {
	if w.r.wholeTreePack(t, loc) {
		return w.r.loadFromTreePack(ctx, t, id, loc, dst)
	}
	start, end := int64(loc.Offset), int64(loc.Offset)+int64(loc.Length)
	size, known := w.sizes[loc.Pack]
	if loc.Type != t || !known || end > size || int64(loc.Length) > w.window/2 || start/w.window != (end-1)/w.window {
		return w.r.LoadCopy(ctx, t, id, loc, dst)
	}
	idx := start / w.window
	data, err := w.get(ctx, windowKey{loc.Pack, idx}, min(w.window, size-idx*w.window))
	if err != nil {
		return nil, err
	}
	off := idx * w.window
	return w.r.OpenBlob(dst, t, id, data[start-off:end-off], int(loc.RawLength))
}

// get returns a window, reading it unless it is cached or being read.
func (w *WindowReader) get(ctx context.Context, key windowKey, length int64) ([]byte, error) {
	return w.windows.get(key, func() ([]byte, error) {
		data, err := w.r.ReadPackRange(ctx, key.pack, key.idx*w.window, length)
		if err != nil {
			return nil, fmt.Errorf("reading window %d of pack %s: %w", key.idx, key.pack.Short(), err)
		}
		return data, nil
	})
}
