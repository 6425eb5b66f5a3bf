package tlog

import (
	"context"
	"errors"
	"fmt"
	"math"

	xtlog "golang.org/x/mod/sumdb/tlog"
)

// Errors of the client's checks over tiles, besides ErrInconsistent and
// ErrMalformed.
var (
	// ErrTile means fetched tiles do not hash to the checkpoint's root, or
	// have the wrong size: the server is lying or broken.
	ErrTile = errors.New("tiles do not match the checkpoint")
	// ErrNotIncluded means a leaf is not the one the tree holds at its
	// index.
	ErrNotIncluded = errors.New("leaf not in the log at that index")
)

// MaxReadLeaves bounds the leaves one ReadLeaves call returns.
const MaxReadLeaves = 1 << 16

// A TileFetcher fetches a tile or entry bundle by its C2SP path
// ("tile/0/x001/234.p/5", "tile/entries/000"). Whatever it returns is
// checked against a checkpoint before use; it should refuse to read more
// than MaxTileSize (hash tiles) or MaxBundleSize (bundles) bytes.
type TileFetcher interface {
	Tile(ctx context.Context, path string) ([]byte, error)
}

// tileReader adapts a TileFetcher to x/mod's TileReader, remembering the
// fetcher's own failure so it is not mistaken for a lying server.
type tileReader struct {
	ctx context.Context
	f   TileFetcher
	err error
}

func (r *tileReader) Height() int                      { return TileHeight }
func (r *tileReader) SaveTiles([]xtlog.Tile, [][]byte) {}

func (r *tileReader) ReadTiles(tiles []xtlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	for i, t := range tiles {
		b, err := r.f.Tile(r.ctx, pathOf(t))
		if err != nil {
			r.err = fmt.Errorf("fetching %s: %w", pathOf(t), err)
			return nil, r.err
		}
		if len(b) != t.W*xtlog.HashSize {
			return nil, fmt.Errorf("%s has %d bytes, not %d: %w", pathOf(t), len(b), t.W*xtlog.HashSize, ErrTile)
		}
		data[i] = b
	}
	return data, nil
}

// readHashes returns the stored hashes at the given indexes of the tree c,
// from tiles that are first checked to hash to c's root.
func readHashes(ctx context.Context, f TileFetcher, c Checkpoint, indexes []int64) ([]Hash, error) {
	if c.Size == 0 || c.Size > math.MaxInt64 {
		return nil, fmt.Errorf("reading hashes of a tree of size %d: %w", c.Size, ErrTileRange)
	}
	r := &tileReader{ctx: ctx, f: f}
	hs, err := xtlog.TileHashReader(c.Tree(), r).ReadHashes(indexes)
	switch {
	case r.err != nil:
		return nil, r.err
	case errors.Is(err, ErrTile):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("tiles of %s at size %d: %v: %w", c.Origin, c.Size, err, ErrTile)
	}
	return hs, nil
}

// VerifyConsistency checks that the tree of oldSize with root oldRoot is a
// prefix of the tree of c, whose signatures the caller has verified, using
// tiles authenticated against c's root. It fails with ErrInconsistent if
// not, ErrTile if the tiles lie.
func VerifyConsistency(ctx context.Context, f TileFetcher, oldSize uint64, oldRoot Hash, c Checkpoint) error {
	if oldSize == 0 || oldSize >= c.Size {
		return VerifyConsistencyProof(nil, oldSize, oldRoot, c)
	}
	root, err := xtlog.TreeHash(int64(oldSize), xtlog.HashReaderFunc(func(idx []int64) ([]Hash, error) {
		return readHashes(ctx, f, c, idx)
	}))
	if err != nil {
		return err
	}
	if root != oldRoot {
		return fmt.Errorf("%s at size %d does not extend the tree of size %d seen before: %w", c.Origin, c.Size, oldSize, ErrInconsistent)
	}
	return nil
}

// VerifyInclusion checks that leaf is entry index of the tree of c, whose
// signatures the caller has verified.
func VerifyInclusion(ctx context.Context, f TileFetcher, c Checkpoint, index uint64, leaf []byte) error {
	if index >= c.Size {
		return fmt.Errorf("leaf %d in a tree of size %d: %w", index, c.Size, ErrNotIncluded)
	}
	hs, err := readHashes(ctx, f, c, []int64{xtlog.StoredHashIndex(0, int64(index))})
	if err != nil {
		return err
	}
	if hs[0] != xtlog.RecordHash(leaf) {
		return fmt.Errorf("leaf %d of %s at size %d: %w", index, c.Origin, c.Size, ErrNotIncluded)
	}
	return nil
}

// ReadLeaves returns leaves start to end-1 (at most MaxReadLeaves) of the
// tree of c, whose signatures the caller has verified, from entry bundles;
// each leaf is checked against the tree's level-0 hashes, themselves
// authenticated against c's root.
func ReadLeaves(ctx context.Context, f TileFetcher, c Checkpoint, start, end uint64) ([][]byte, error) {
	if start > end || end > c.Size || end-start > MaxReadLeaves {
		return nil, fmt.Errorf("leaves %d to %d of a tree of size %d (at most %d at once): %w", start, end, c.Size, MaxReadLeaves, ErrTileRange)
	}
	if start == end {
		return nil, nil
	}
	var leaves [][]byte
	for n := start / TileWidth; n*TileWidth < end; n++ {
		w := min(TileWidth, c.Size-n*TileWidth)
		path := EntriesPath(int64(n), int(w))
		b, err := f.Tile(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("fetching %s: %w", path, err)
		}
		bundle, err := ParseBundle(b, int(w))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		lo, hi := max(start, n*TileWidth)-n*TileWidth, min(end, n*TileWidth+w)-n*TileWidth
		leaves = append(leaves, bundle[lo:hi]...)
	}
	indexes := make([]int64, len(leaves))
	for i := range leaves {
		indexes[i] = xtlog.StoredHashIndex(0, int64(start)+int64(i))
	}
	hs, err := readHashes(ctx, f, c, indexes)
	if err != nil {
		return nil, err
	}
	for i, l := range leaves {
		if hs[i] != xtlog.RecordHash(l) {
			return nil, fmt.Errorf("leaf %d of %s from its entry bundle: %w", start+uint64(i), c.Origin, ErrNotIncluded)
		}
	}
	return leaves, nil
}
