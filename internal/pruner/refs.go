package pruner

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/tree"
)

// refs is the set of blobs that snapshots reference, trees included.
//
// It keeps 16-byte prefixes in a sorted slice, 16 bytes per blob. A prefix
// can only err on the safe side: a blob that merely shares its prefix with
// a referenced one counts as referenced and is kept (the chance is about
// 2^-105 per blob, index.Master). The trees already walked are kept by
// full ID, so that a collision can never skip a walk.
type refs struct {
	trees  map[blob.ID]struct{}
	ids    []index.Prefix // ids[:sorted] is sorted and free of duplicates
	sorted int
}

func newRefs() *refs { return &refs{trees: make(map[blob.ID]struct{})} }

// add walks the trees of snapshots not walked before. The set only grows:
// a snapshot deleted since an earlier add still counts, which keeps more,
// never less. A tree that cannot be read stops the walk with an error,
// since what lies below it is unknown.
func (s *refs) add(ctx context.Context, r *repo.Repo, snaps []snapshot.Stored) error {
	var level []blob.ID
	for _, sn := range snaps {
		if s.visit(sn.Tree) {
			level = append(level, sn.Tree)
		}
	}
	for len(level) > 0 {
		next, err := s.walkLevel(ctx, r, level)
		if err != nil {
			return fmt.Errorf("walking the trees of %d snapshots: %w", len(snaps), err)
		}
		level = next
		s.compact(false)
	}
	s.compact(true)
	return nil
}

// visit records a tree and reports whether it is new.
func (s *refs) visit(id blob.ID) bool {
	if _, ok := s.trees[id]; ok {
		return false
	}
	s.trees[id] = struct{}{}
	s.ids = append(s.ids, index.PrefixOf(id))
	return true
}

// walkLevel reads the trees of one level in parallel, records the blobs
// they reference, and returns the subtrees not visited before.
func (s *refs) walkLevel(ctx context.Context, r *repo.Repo, level []blob.ID) ([]blob.ID, error) {
	var (
		mu   sync.Mutex
		next []blob.ID
	)
	err := parallel(ctx, len(level), func(i int) error {
		b, err := r.LoadBlob(ctx, blob.Tree, level[i], nil)
		if err != nil {
			return fmt.Errorf("tree %s: %w", level[i].Short(), err)
		}
		t, err := tree.Decode(b)
		if err != nil {
			return fmt.Errorf("tree %s: %w", level[i].Short(), err)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, n := range t.Nodes {
			for _, e := range n.Content {
				if !e.IsHole() {
					s.ids = append(s.ids, index.PrefixOf(e.ID))
				}
			}
			for _, sub := range n.Subtrees {
				if s.visit(sub) {
					next = append(next, sub)
				}
			}
		}
		return nil
	})
	return next, err
}

// compact sorts and deduplicates ids, when forced or once the unsorted
// tail has grown as large as the sorted part, so that memory stays within
// about twice the number of distinct blobs.
func (s *refs) compact(force bool) {
	if !force && len(s.ids) < 2*s.sorted+1<<16 {
		return
	}
	slices.SortFunc(s.ids, comparePrefix)
	s.ids = slices.Compact(s.ids)
	s.sorted = len(s.ids)
}

// has reports whether a blob with prefix p is referenced. Only valid after
// add returned.
func (s *refs) has(p index.Prefix) bool {
	_, ok := slices.BinarySearchFunc(s.ids[:s.sorted], p, comparePrefix)
	return ok
}

func comparePrefix(a, b index.Prefix) int { return bytes.Compare(a[:], b[:]) }
