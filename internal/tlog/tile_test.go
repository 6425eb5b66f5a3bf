package tlog

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	xtlog "golang.org/x/mod/sumdb/tlog"
)

func TestTilePaths(t *testing.T) {
	tests := []struct {
		level int
		n     int64
		width int
		path  string
	}{
		{0, 0, 256, "tile/0/000"},
		{0, 0, 5, "tile/0/000.p/5"},
		{1, 17, 255, "tile/1/017.p/255"},
		{2, 1000, 256, "tile/2/x001/000"},
		{0, 1234067, 256, "tile/0/x001/x234/067"},
		{63, 1<<63 - 1, 1, "tile/63/x009/x223/x372/x036/x854/x775/807.p/1"},
		{-1, 0, 256, "tile/entries/000"},
		{-1, 1234067, 8, "tile/entries/x001/x234/067.p/8"},
	}
	for _, tc := range tests {
		var got string
		if tc.level == entriesLevel {
			got = EntriesPath(tc.n, tc.width)
		} else {
			got = TilePath(tc.level, tc.n, tc.width)
		}
		if got != tc.path {
			t.Errorf("path of %d/%d/%d: got %q, want %q", tc.level, tc.n, tc.width, got, tc.path)
		}
		tile, err := ParseTilePath(tc.path)
		if err != nil || tile != (Tile{H: 8, L: tc.level, N: tc.n, W: tc.width}) {
			t.Errorf("ParseTilePath(%q) = %+v, %v", tc.path, tile, err)
		}
		// x/mod writes the same coordinates with the height and "data".
		x := Tile{H: 8, L: tc.level, N: tc.n, W: tc.width}.Path()
		x = strings.Replace(strings.Replace(x, "tile/8/", "tile/", 1), "tile/data/", "tile/entries/", 1)
		if x != tc.path {
			t.Errorf("x/mod path %q differs from %q", x, tc.path)
		}
	}
}

func TestParseTilePathRefuses(t *testing.T) {
	for _, p := range []string{
		"", "tile", "tile/0", "tile/0/", "/tile/0/000", "tile/0/000/",
		"tile/0/0", "tile/0/0000", "tile/0/x000", "tile/0/x000/001", "tile/0/001/x002", "tile/0/y001/002",
		"tile/00/000", "tile/64/000", "tile/-1/000", "tile/+1/000", "tile/8/0/000", "tile/data/000",
		"tile/0/000.p/256", "tile/0/000.p/0", "tile/0/000.p/05", "tile/0/000.p/", "tile/0/000.p", "tile/0/000.p/1/2",
		"tile/entries/000.p/300", "tile/ENTRIES/000",
		"tile/0/x009/x223/x372/x036/x854/x775/808", "tile/0/x001/x009/x223/x372/x036/x854/x775/807",
		"tile/0/+01", "tile/0/ 01", "tile/0/0x1",
	} {
		if tile, err := ParseTilePath(p); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseTilePath(%q) = %+v, %v", p, tile, err)
		}
	}
}

func TestCheckTile(t *testing.T) {
	tests := []struct {
		path string
		size uint64
		ok   bool
	}{
		{"tile/0/000.p/5", 5, true},
		{"tile/0/000.p/5", 4, false},
		{"tile/0/000.p/4", 5, true},
		{"tile/0/000", 255, false},
		{"tile/0/000", 256, true},
		{"tile/1/000.p/1", 256, true},
		{"tile/1/000.p/1", 255, false},
		{"tile/0/001.p/1", 257, true},
		{"tile/0/001.p/2", 257, false},
		{"tile/2/000.p/1", 65536, true},
		{"tile/2/000.p/1", 65535, false},
		{"tile/7/000.p/1", 1 << 63, false},
		{"tile/8/000.p/1", 1<<63 - 1, false},
		{"tile/63/x009/x223/x372/x036/x854/x775/807", 1<<63 - 1, false},
		{"tile/0/x036/x028/x797/x018/x963/966", 1<<63 - 1, true},
		{"tile/0/x036/x028/x797/x018/x963/967.p/255", 1<<63 - 1, true},
		{"tile/0/x036/x028/x797/x018/x963/967", 1<<63 - 1, false},
		{"tile/entries/000.p/5", 5, true},
		{"tile/entries/000.p/6", 5, false},
		{"tile/entries/000", 0, false},
	}
	for _, tc := range tests {
		tile, err := ParseTilePath(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckTile(tile, tc.size); (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrTileRange) {
			t.Errorf("CheckTile(%s, %d) = %v", tc.path, tc.size, err)
		}
	}
}

// TestReadTile checks the server's tiles against x/mod's own tile
// authentication: a client's TileHashReader accepts them.
func TestReadTile(t *testing.T) {
	m := newMemLog(t, 600)
	for _, size := range []int64{1, 255, 256, 257, 511, 512, 600} {
		for _, tile := range xtlog.NewTiles(TileHeight, 0, size) {
			b, err := ReadTile(tile, uint64(size), m)
			if err != nil || len(b) != tile.W*32 {
				t.Fatalf("size %d, %s: %d bytes, %v", size, pathOf(tile), len(b), err)
			}
		}
	}
	if _, err := ReadTile(Tile{H: 8, L: -1, W: 1}, 600, m); !errors.Is(err, ErrTileRange) {
		t.Fatalf("read a bundle as a hash tile: %v", err)
	}
	if _, err := ReadTile(Tile{H: 8, L: 0, N: 3, W: 1}, 600, m); !errors.Is(err, ErrTileRange) {
		t.Fatalf("read a tile beyond the tree: %v", err)
	}
}

func TestBundle(t *testing.T) {
	leaves := [][]byte{{}, {1}, bytes.Repeat([]byte{2}, MaxLeafSize)}
	b, err := MarshalBundle(leaves)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, append([]byte{0, 0, 0, 1, 1, 0, MaxLeafSize}, leaves[2]...)) {
		t.Fatalf("bundle bytes %x", b)
	}
	got, err := ParseBundle(b, 3)
	if err != nil || len(got) != 3 || !bytes.Equal(got[1], leaves[1]) || !bytes.Equal(got[2], leaves[2]) {
		t.Fatalf("ParseBundle = %x, %v", got, err)
	}
	refuse := []struct {
		name  string
		b     []byte
		width int
	}{
		{"fewer entries", b, 4},
		{"trailing bytes", b, 2},
		{"truncated length", []byte{0}, 1},
		{"truncated entry", []byte{0, 2, 1}, 1},
		{"entry too long", append([]byte{0, MaxLeafSize + 1}, make([]byte, MaxLeafSize+1)...), 1},
		{"width 0", nil, 0},
		{"width 257", b, 257},
		{"too big", make([]byte, MaxBundleSize+1), 256},
	}
	for _, tc := range refuse {
		if _, err := ParseBundle(tc.b, tc.width); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v", tc.name, err)
		}
	}
	for _, n := range []int{0, 257} {
		if _, err := MarshalBundle(make([][]byte, n)); !errors.Is(err, ErrMalformed) {
			t.Errorf("bundle of %d entries: %v", n, err)
		}
	}
	if _, err := MarshalBundle([][]byte{make([]byte, MaxLeafSize+1)}); !errors.Is(err, ErrMalformed) {
		t.Errorf("bundle with a long entry: %v", err)
	}
}
