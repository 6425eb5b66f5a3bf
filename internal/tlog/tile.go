package tlog

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	xtlog "golang.org/x/mod/sumdb/tlog"
)

// Tile is a tile's coordinates, the x/mod type; C2SP tiles have height
// TileHeight, and level -1 stands for entry bundles.
type Tile = xtlog.Tile

// Tiling constants of C2SP tlog-tiles (docs/transparency.md §T.3).
const (
	TileHeight = 8
	// TileWidth is the number of hashes in a full tile or entries in a
	// full bundle.
	TileWidth = 1 << TileHeight
	// MaxTileSize is the size of a full hash tile.
	MaxTileSize = TileWidth * xtlog.HashSize
	// MaxBundleSize is the size of a full bundle of the largest leaves.
	MaxBundleSize = TileWidth * (2 + MaxLeafSize)
	// entriesLevel is the level x/mod uses for data tiles.
	entriesLevel = -1
	// maxPathSize bounds a tile path: "tile/entries/" and seven groups of
	// an int64 index and ".p/255" fit in it.
	maxPathSize = 64
)

// ErrTileRange means a tile or bundle reaches beyond the tree: a server
// answers 404 for it.
var ErrTileRange = errors.New("tile beyond the tree")

// TilePath returns the C2SP path "tile/<level>/<n>[.p/<width>]" of a hash
// tile, with n written in 3-digit groups, all but the last prefixed "x";
// width is the number of hashes, TileWidth for a full tile.
func TilePath(level int, n int64, width int) string {
	return "tile/" + strconv.Itoa(level) + "/" + indexPath(n, width)
}

// EntriesPath returns the C2SP path "tile/entries/<n>[.p/<width>]" of an
// entry bundle holding width entries.
func EntriesPath(n int64, width int) string {
	return "tile/entries/" + indexPath(n, width)
}

// pathOf returns the C2SP path of a tile of height TileHeight.
func pathOf(t Tile) string {
	if t.L == entriesLevel {
		return EntriesPath(t.N, t.W)
	}
	return TilePath(t.L, t.N, t.W)
}

// indexPath writes n in 3-digit groups and the partial-width suffix.
func indexPath(n int64, width int) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n >= 1000 {
		n /= 1000
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	if width != TileWidth {
		s += ".p/" + strconv.Itoa(width)
	}
	return s
}

// ParseTilePath decodes a hash tile path (level 0 to 63) or an entry
// bundle path (returned with level -1), accepting only the canonical form
// TilePath and EntriesPath write, with widths 1 to TileWidth.
func ParseTilePath(path string) (Tile, error) {
	bad := fmt.Errorf("tile path %.80q: %w", path, ErrMalformed)
	f := strings.Split(path, "/")
	if len(path) > maxPathSize || len(f) < 3 || f[0] != "tile" {
		return Tile{}, bad
	}
	t := Tile{H: TileHeight, L: entriesLevel, W: TileWidth}
	if f[1] != "entries" {
		l, err := strconv.ParseUint(f[1], 10, 6)
		if err != nil {
			return Tile{}, bad
		}
		t.L = int(l)
	}
	f = f[2:]
	if last := len(f) - 1; last > 0 && strings.HasSuffix(f[last-1], ".p") {
		w, err := strconv.ParseUint(f[last], 10, 8)
		if err != nil || w == 0 {
			return Tile{}, bad
		}
		t.W = int(w)
		f[last-1] = strings.TrimSuffix(f[last-1], ".p")
		f = f[:last]
	}
	for _, g := range f {
		d, err := strconv.ParseUint(strings.TrimPrefix(g, "x"), 10, 10)
		if err != nil || d > 999 || t.N > (math.MaxInt64-int64(d))/1000 {
			return Tile{}, bad
		}
		t.N = t.N*1000 + int64(d)
	}
	if pathOf(t) != path {
		return Tile{}, bad
	}
	return t, nil
}

// CheckTile reports whether every hash of tile t (or every entry of
// bundle t) exists in a tree of the given size, with an error wrapping
// ErrTileRange if not.
func CheckTile(t Tile, size uint64) error {
	level := max(t.L, 0)
	ok := size <= math.MaxInt64 && t.H == TileHeight && t.L >= entriesLevel && t.L < TileHeight && t.N >= 0 && t.W >= 1 && t.W <= TileWidth
	if ok {
		have := size >> (TileHeight * level) // hashes at the tile's level
		ok = uint64(t.W) <= have && uint64(t.N) <= (have-uint64(t.W))/TileWidth
	}
	if !ok {
		return fmt.Errorf("%s in a tree of size %d: %w", pathOf(t), size, ErrTileRange)
	}
	return nil
}

// ReadTile returns the bytes of hash tile t of a tree of the given size,
// read from the server's stored hashes (those of x/mod tlog.StoredHashes).
func ReadTile(t Tile, size uint64, r HashReader) ([]byte, error) {
	if t.L == entriesLevel {
		return nil, fmt.Errorf("%s is an entry bundle, not a hash tile: %w", pathOf(t), ErrTileRange)
	}
	if err := CheckTile(t, size); err != nil {
		return nil, err
	}
	b, err := xtlog.ReadTileData(t, r)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", pathOf(t), err)
	}
	return b, nil
}

// MarshalBundle encodes 1 to TileWidth leaves as an entry bundle (§T.3):
// each as its length (2 bytes, big-endian) and its bytes.
func MarshalBundle(entries [][]byte) ([]byte, error) {
	if len(entries) == 0 || len(entries) > TileWidth {
		return nil, fmt.Errorf("bundle of %d entries: %w", len(entries), ErrMalformed)
	}
	var b []byte
	for i, e := range entries {
		if len(e) > MaxLeafSize {
			return nil, fmt.Errorf("bundle entry %d of %d bytes (at most %d): %w", i, len(e), MaxLeafSize, ErrMalformed)
		}
		b = append(append(b, byte(len(e)>>8), byte(len(e))), e...)
	}
	return b, nil
}

// ParseBundle decodes an entry bundle that must hold exactly width
// entries of at most MaxLeafSize bytes each, and nothing else.
func ParseBundle(b []byte, width int) ([][]byte, error) {
	if width < 1 || width > TileWidth || len(b) > MaxBundleSize {
		return nil, fmt.Errorf("bundle of %d bytes for %d entries: %w", len(b), width, ErrMalformed)
	}
	entries := make([][]byte, 0, width)
	for len(entries) < width {
		if len(b) < 2 || int(b[0])<<8|int(b[1]) > min(len(b)-2, MaxLeafSize) {
			return nil, fmt.Errorf("bundle entry %d is truncated or too long: %w", len(entries), ErrMalformed)
		}
		n := int(b[0])<<8 | int(b[1])
		entries = append(entries, b[2:2+n:2+n])
		b = b[2+n:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("bundle of %d entries has %d trailing bytes: %w", width, len(b), ErrMalformed)
	}
	return entries, nil
}
