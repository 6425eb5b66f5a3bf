package treewalk

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/tree"
)

// errTooDeep is returned by Sizes for directories nested beyond MaxDepth;
// Limits.Measure turns it into a budget error naming the snapshot.
var errTooDeep = errors.New("directories nest too deeply")

// Sizes measures listings, remembering the size of every tree blob it has
// measured, so that each distinct tree is loaded once however many
// directories list it: measuring costs what storing the trees cost, not
// what walking them would. It descends at most MaxDepth levels. It is not
// safe for concurrent use.
type Sizes struct {
	l    Loader
	memo map[blob.ID]Size
	path *tree.Path // of the tree being measured, for errors
}

// NewSizes returns a Sizes loading trees through l.
func NewSizes(l Loader) *Sizes {
	return &Sizes{l: l, memo: make(map[blob.ID]Size), path: tree.NewPath("/")}
}

// Of returns the size of walking the listing made of the tree blobs ids, the
// contents of the directory at path base ("/" or "" for a root).
func (s *Sizes) Of(ctx context.Context, base string, ids []blob.ID) (Size, error) {
	s.path = tree.NewPath(base)
	return s.listing(ctx, ids, depthOf(base)+1)
}

// depthOf returns the number of names in a '/'-separated path.
func depthOf(p string) int {
	p = strings.Trim(p, "/")
	if p == "" {
		return 0
	}
	return strings.Count(p, "/") + 1
}

// listing measures a directory's tree blobs, whose entries are at depth.
func (s *Sizes) listing(ctx context.Context, ids []blob.ID, depth int) (Size, error) {
	var total Size
	for _, id := range ids {
		sz, err := s.blob(ctx, id, depth)
		if err != nil {
			return Size{}, err
		}
		total = total.Plus(sz)
	}
	return total, nil
}

// blob measures one tree blob, from memory if it was measured before.
func (s *Sizes) blob(ctx context.Context, id blob.ID, depth int) (Size, error) {
	if sz, ok := s.memo[id]; ok {
		if depth-1+sz.Depth > MaxDepth {
			return Size{}, fmt.Errorf("%s: %w", s.path, errTooDeep)
		}
		return sz, nil
	}
	nodes, n, err := load(ctx, s.l, id)
	if err != nil {
		return Size{}, fmt.Errorf("%s: %w", s.path, err)
	}
	if len(nodes) > 0 && depth > MaxDepth {
		return Size{}, fmt.Errorf("%s: %w", s.path, errTooDeep)
	}
	sz := Size{TreeBytes: uint64(n)}
	for _, node := range nodes {
		ns, err := s.node(ctx, node, depth)
		if err != nil {
			return Size{}, err
		}
		sz = sz.Plus(ns)
	}
	s.memo[id] = sz
	return sz, nil
}

// node measures one item at depth and, for a directory, what it holds.
func (s *Sizes) node(ctx context.Context, n *tree.Node, depth int) (Size, error) {
	sz := Size{Entries: 1, Depth: 1}
	switch n.Type {
	case tree.File:
		sz.Files, sz.FileBytes = 1, n.Size
	case tree.Dir:
		s.path.Push(n.Name)
		sub, err := s.listing(ctx, n.Subtrees, depth+1)
		s.path.Pop()
		if err != nil {
			return Size{}, err
		}
		sub.Depth++
		sz = sz.Plus(sub)
	}
	return sz, nil
}

// Measure returns the size of walking the listing ids, the contents of
// the directory at path base, or an error wrapping ErrBudget if that walk
// would exceed lim. s may be shared by the measures of several snapshots.
func (lim Limits) Measure(ctx context.Context, s *Sizes, base string, ids ...blob.ID) (Size, error) {
	sz, err := s.Of(ctx, base, ids)
	if errors.Is(err, errTooDeep) {
		return Size{}, lim.exceeded(MaxDepth, "nested directories")
	}
	if err != nil {
		return Size{}, err
	}
	return sz, lim.Check(sz)
}

// Measure returns the size of walking r in full, or an error wrapping
// ErrBudget if it exceeds r's limits.
func Measure(ctx context.Context, l Loader, r Root) (Size, error) {
	return r.Limits.Measure(ctx, NewSizes(l), "/", r.Tree)
}
