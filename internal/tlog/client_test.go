package tlog

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestVerifyConsistency(t *testing.T) {
	m := newMemLog(t, 600)
	ctx := context.Background()
	for _, sizes := range [][2]uint64{{0, 1}, {1, 1}, {1, 2}, {3, 5}, {255, 256}, {256, 257}, {100, 600}, {511, 512}, {512, 600}, {600, 600}} {
		old, c := m.checkpoint(t, sizes[0]), m.checkpoint(t, sizes[1])
		s := &server{m: m, size: c.Size}
		if err := VerifyConsistency(ctx, s, old.Size, old.Root, c); err != nil {
			t.Fatalf("%d→%d: %v", old.Size, c.Size, err)
		}
		if old.Size == 0 {
			continue
		}
		forked := old.Root
		forked[0] ^= 1
		if err := VerifyConsistency(ctx, s, old.Size, forked, c); !errors.Is(err, ErrInconsistent) {
			t.Fatalf("%d→%d from a forked root: %v", old.Size, c.Size, err)
		}
	}
	big := m.checkpoint(t, 600)
	if err := VerifyConsistency(ctx, &server{m: m, size: 600}, 601, big.Root, big); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("rollback accepted: %v", err)
	}
}

func TestVerifyInclusion(t *testing.T) {
	m := newMemLog(t, 600)
	ctx := context.Background()
	for _, size := range []uint64{1, 256, 257, 600} {
		c := m.checkpoint(t, size)
		s := &server{m: m, size: size}
		for _, i := range []uint64{0, size / 2, size - 1} {
			if err := VerifyInclusion(ctx, s, c, i, m.leaves[i]); err != nil {
				t.Fatalf("leaf %d of %d: %v", i, size, err)
			}
			if err := VerifyInclusion(ctx, s, c, i, m.leaves[(i+1)%600]); !errors.Is(err, ErrNotIncluded) {
				t.Fatalf("wrong leaf %d of %d: %v", i, size, err)
			}
		}
		if err := VerifyInclusion(ctx, s, c, size, m.leaves[size%600]); !errors.Is(err, ErrNotIncluded) {
			t.Fatalf("leaf beyond the tree: %v", err)
		}
	}
}

func TestReadLeaves(t *testing.T) {
	m := newMemLog(t, 600)
	ctx := context.Background()
	c := m.checkpoint(t, 600)
	s := &server{m: m, size: 600}
	for _, r := range [][2]uint64{{0, 0}, {0, 1}, {5, 6}, {0, 256}, {250, 260}, {255, 513}, {0, 600}, {599, 600}} {
		got, err := ReadLeaves(ctx, s, c, r[0], r[1])
		if err != nil {
			t.Fatalf("%v: %v", r, err)
		}
		if len(got) != int(r[1]-r[0]) {
			t.Fatalf("%v: %d leaves", r, len(got))
		}
		for i, l := range got {
			if !bytes.Equal(l, m.leaves[r[0]+uint64(i)]) {
				t.Fatalf("%v: leaf %d differs", r, i)
			}
		}
	}
	for _, r := range [][2]uint64{{5, 4}, {0, 601}, {601, 601}} {
		if _, err := ReadLeaves(ctx, s, c, r[0], r[1]); !errors.Is(err, ErrTileRange) {
			t.Fatalf("range %v: %v", r, err)
		}
	}
}

// TestLyingServer checks that changed tiles or bundles are refused with an
// error saying which check failed, and a fetch failure is not mistaken
// for a lie.
func TestLyingServer(t *testing.T) {
	m := newMemLog(t, 600)
	ctx := context.Background()
	c := m.checkpoint(t, 600)
	flip := func(target string) func(string, []byte) []byte {
		return func(path string, b []byte) []byte {
			if path == target {
				b = bytes.Clone(b)
				b[len(b)-1] ^= 1
			}
			return b
		}
	}
	tests := []struct {
		name   string
		tamper func(string, []byte) []byte
		check  func(*server) error
		want   error
	}{
		{"level-0 tile", flip("tile/0/001"), func(s *server) error { return VerifyInclusion(ctx, s, c, 300, m.leaves[300]) }, ErrTile},
		{"partial level-0 tile", flip("tile/0/002.p/88"), func(s *server) error { return VerifyInclusion(ctx, s, c, 599, m.leaves[599]) }, ErrTile},
		{"level-1 tile", flip("tile/1/000.p/2"), func(s *server) error { return VerifyConsistency(ctx, s, 300, m.checkpoint(t, 300).Root, c) }, ErrTile},
		{"short tile", func(p string, b []byte) []byte { return b[:len(b)-1] }, func(s *server) error { return VerifyInclusion(ctx, s, c, 1, m.leaves[1]) }, ErrTile},
		{"entry bundle", flip("tile/entries/001"), func(s *server) error { _, err := ReadLeaves(ctx, s, c, 500, 512); return err }, ErrNotIncluded},
		{"truncated bundle", func(p string, b []byte) []byte { return b[:len(b)-1] }, func(s *server) error { _, err := ReadLeaves(ctx, s, c, 0, 1); return err }, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.check(&server{m: m, size: 600, tamper: tc.tamper}); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	down := &server{m: m, size: 300} // cannot serve the tiles of size 600
	if err := VerifyInclusion(ctx, down, c, 599, m.leaves[599]); errors.Is(err, ErrTile) || !strings.Contains(err.Error(), "fetching") {
		t.Fatalf("fetch failure reported as %v", err)
	}
}
