package checker_test

import (
	"testing"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/hostile"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/repo"
)

// TestBadCopiesReported plays a device with the keys that lists a false
// copy of every blob. Check reports each false copy, with its pack and
// blob, and nothing else; reading no data it still finds those of trees;
// and every snapshot still restores.
func TestBadCopiesReported(t *testing.T) {
	for _, tc := range []struct {
		name string
		lie  func(t *testing.T, r *repo.Repo) []index.Pack
	}{
		{"pack of random bytes", func(t *testing.T, r *repo.Repo) []index.Pack { return lyingPack(t, r, hostile.RandomBytes) }},
		{"pack of other content", func(t *testing.T, r *repo.Repo) []index.Pack { return lyingPack(t, r, hostile.OtherContent) }},
		{"index shifting the genuine packs", shiftedIndex},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyStore(t)
			lies := tc.lie(t, mustOpen(t, dir))
			want := make(map[index.Blob]blob.ID) // false copy -> its pack
			for _, p := range lies {
				for _, b := range p.Blobs {
					want[b] = p.ID
				}
			}
			full := check(t, mustOpen(t, dir), true)
			if len(full.BadCopies) != len(want) || len(full.Errors) != len(want) {
				t.Fatalf("check --read-data: %d bad copies, %d errors for %d false copies: %q", len(full.BadCopies), len(full.Errors), len(want), full.Errors)
			}
			for _, bc := range full.BadCopies {
				if !matchesFalse(want, bc) || bc.Reason == "" {
					t.Errorf("reported %+v, not one of the false copies", bc)
				}
			}
			quick := check(t, mustOpen(t, dir), false)
			if len(quick.BadCopies) == 0 || len(quick.BadCopies) != len(quick.Errors) {
				t.Errorf("check: %d bad copies, errors %q", len(quick.BadCopies), quick.Errors)
			}
			for _, bc := range quick.BadCopies {
				if bc.Type != "tree" || !matchesFalse(want, bc) {
					t.Errorf("check without data reported %+v", bc)
				}
			}
			if n := restoreAll(t, dir); n != 0 {
				t.Errorf("%d restores failed beside false copies", n)
			}
		})
	}
}

// matchesFalse reports whether bc is one of the false copies.
func matchesFalse(want map[index.Blob]blob.ID, bc repo.BadCopy) bool {
	for b, p := range want {
		if b.ID == bc.Blob && b.Offset == bc.Offset && b.Length == bc.Length && b.Type.String() == bc.Type && p == bc.Pack {
			return true
		}
	}
	return false
}

// lyingPack stores, with r's keys, a pack that lists every blob of the
// repository with lie in its place, and an index object naming it.
func lyingPack(t *testing.T, r *repo.Repo, lie hostile.Lie) []index.Pack {
	t.Helper()
	p, err := hostile.LyingPack(ctx, r, lie)
	if err != nil {
		t.Fatal(err)
	}
	return []index.Pack{p}
}

// shiftedIndex stores an index object listing every genuine pack with its
// blobs one byte later than they are.
func shiftedIndex(t *testing.T, r *repo.Repo) []index.Pack {
	t.Helper()
	lies, err := hostile.ShiftedIndex(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	return lies
}
