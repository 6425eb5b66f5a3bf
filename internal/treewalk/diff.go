package treewalk

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/tree"
)

// Change is one difference between two snapshots.
type Change struct {
	Path string `json:"path"`
	Kind string `json:"change"` // "added", "removed", "modified"
}

// Diff calls fn for every item added, removed or modified between the trees
// a and b, in path order. A directory whose listing is unchanged is not
// descended into. It first measures the comparison, remembering the pairs
// of directories it compared, and fails before calling fn with an error
// wrapping ErrBudget if what it would visit of a or of b exceeds that
// snapshot's limits.
func Diff(ctx context.Context, l Loader, a, b Root, fn func(Change) error) error {
	m := diffSizes{sizes: NewSizes(l), memo: make(map[[32]byte][2]Size)}
	sz, err := m.pair(ctx, []blob.ID{a.Tree}, []blob.ID{b.Tree}, 1)
	if errors.Is(err, errTooDeep) {
		err = Limits{Snapshot: bothNames(a, b)}.exceeded(MaxDepth, "nested directories")
	}
	if err == nil {
		err = a.Limits.Check(sz[0])
	}
	if err == nil {
		err = b.Limits.Check(sz[1])
	}
	if err != nil {
		return err
	}
	d := differ{walker{l: l, p: tree.NewPath("/")}, fn}
	return d.dir(ctx, []blob.ID{a.Tree}, []blob.ID{b.Tree})
}

// bothNames names the snapshots of a and b for an error about both.
func bothNames(a, b Root) string {
	names := slices.DeleteFunc([]string{a.Limits.Snapshot, b.Limits.Snapshot}, func(s string) bool { return s == "" })
	return strings.Join(slices.Compact(names), " and ")
}

// merge calls fn for the entries of na and nb in name order: with both
// entries of a name, or with nil for the side that lacks it.
func merge(na, nb []*tree.Node, fn func(x, y *tree.Node) error) error {
	for i, j := 0, 0; i < len(na) || j < len(nb); {
		var x, y *tree.Node
		switch {
		case j == len(nb) || i < len(na) && bytes.Compare(na[i].Name, nb[j].Name) < 0:
			x, i = na[i], i+1
		case i == len(na) || bytes.Compare(na[i].Name, nb[j].Name) > 0:
			y, j = nb[j], j+1
		default:
			x, y, i, j = na[i], nb[j], i+1, j+1
		}
		if err := fn(x, y); err != nil {
			return err
		}
	}
	return nil
}

// diffSizes measures what Diff visits of each side, remembering the size
// of every pair of listings compared and, through sizes, of every tree
// reported whole.
type diffSizes struct {
	sizes *Sizes
	memo  map[[32]byte][2]Size
}

// pair returns what comparing listings a and b, whose entries are at
// depth, visits of a and of b.
func (m *diffSizes) pair(ctx context.Context, a, b []blob.ID, depth int) ([2]Size, error) {
	if slices.Equal(a, b) {
		return [2]Size{}, nil
	}
	key := pairKey(a, b)
	if sz, ok := m.memo[key]; ok {
		if depth-1+max(sz[0].Depth, sz[1].Depth) > MaxDepth {
			return sz, fmt.Errorf("%s: %w", m.sizes.path, errTooDeep)
		}
		return sz, nil
	}
	sz, err := m.compare(ctx, a, b, depth)
	if err == nil {
		m.memo[key] = sz
	}
	return sz, err
}

// compare measures the comparison of listings a and b, not remembered yet.
func (m *diffSizes) compare(ctx context.Context, a, b []blob.ID, depth int) ([2]Size, error) {
	var sz [2]Size
	na, nb, err := m.load(ctx, &sz, a, b)
	if err != nil {
		return sz, err
	}
	if len(na)+len(nb) > 0 && depth > MaxDepth {
		return sz, fmt.Errorf("%s: %w", m.sizes.path, errTooDeep)
	}
	err = merge(na, nb, func(x, y *tree.Node) error {
		s, err := m.change(ctx, x, y, depth)
		sz[0], sz[1] = sz[0].Plus(s[0]), sz[1].Plus(s[1])
		return err
	})
	return sz, err
}

// load returns the entries of both listings, adding their bytes to sz.
func (m *diffSizes) load(ctx context.Context, sz *[2]Size, a, b []blob.ID) (na, nb []*tree.Node, err error) {
	for side, ids := range [][]blob.ID{a, b} {
		for _, id := range ids {
			nodes, n, err := load(ctx, m.sizes.l, id)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", m.sizes.path, err)
			}
			sz[side].TreeBytes = addSat(sz[side].TreeBytes, uint64(n))
			if side == 0 {
				na = append(na, nodes...)
			} else {
				nb = append(nb, nodes...)
			}
		}
	}
	return na, nb, nil
}

// change measures one entry of the comparison: x, y or both may be nil.
func (m *diffSizes) change(ctx context.Context, x, y *tree.Node, depth int) ([2]Size, error) {
	if x != nil && y != nil && x.Type == y.Type && x.Type == tree.Dir {
		m.sizes.path.Push(x.Name)
		sub, err := m.pair(ctx, x.Subtrees, y.Subtrees, depth+1)
		m.sizes.path.Pop()
		one := Size{Entries: 1, Depth: 1}
		sub[0].Depth, sub[1].Depth = sub[0].Depth+1, sub[1].Depth+1
		return [2]Size{one.Plus(sub[0]), one.Plus(sub[1])}, err
	}
	var sz [2]Size
	for side, n := range []*tree.Node{x, y} {
		if n != nil {
			s, err := m.sizes.node(ctx, n, depth)
			if err != nil {
				return sz, err
			}
			sz[side] = s
		}
	}
	return sz, nil
}

// pairKey identifies a pair of listings.
func pairKey(a, b []blob.ID) [32]byte {
	h := sha256.New()
	for _, ids := range [][]blob.ID{a, b} {
		h.Write(binary.AppendUvarint(nil, uint64(len(ids))))
		for _, id := range ids {
			h.Write(id[:])
		}
	}
	return [32]byte(h.Sum(nil))
}

// differ emits the changes between two snapshots.
type differ struct {
	walker
	emit func(Change) error
}

// dir compares the listings a and b of the directory at d.p.
func (d *differ) dir(ctx context.Context, a, b []blob.ID) error {
	if slices.Equal(a, b) {
		return nil
	}
	na, err := Entries(ctx, d.l, a)
	if err != nil {
		return fmt.Errorf("%s: %w", d.p, err)
	}
	nb, err := Entries(ctx, d.l, b)
	if err != nil {
		return fmt.Errorf("%s: %w", d.p, err)
	}
	return merge(na, nb, func(x, y *tree.Node) error {
		name := nameOf(x, y)
		d.p.Push(name)
		defer d.p.Pop()
		return d.node(ctx, x, y)
	})
}

// nameOf returns the name of whichever of x and y is not nil.
func nameOf(x, y *tree.Node) []byte {
	if x != nil {
		return x.Name
	}
	return y.Name
}

// node reports the changes of one name, at d.p, between x and y.
func (d *differ) node(ctx context.Context, x, y *tree.Node) error {
	switch {
	case y == nil:
		return d.report(ctx, x, "removed")
	case x == nil:
		return d.report(ctx, y, "added")
	case x.Type != y.Type:
		if err := d.report(ctx, x, "removed"); err != nil {
			return err
		}
		return d.report(ctx, y, "added")
	}
	if modified(x, y) {
		if err := d.emit(Change{d.p.String(), "modified"}); err != nil {
			return err
		}
	}
	if x.Type == tree.Dir {
		return d.dir(ctx, x.Subtrees, y.Subtrees)
	}
	return nil
}

// modified reports whether an item's restorable metadata or content
// differs; a directory's entries are compared separately.
func modified(x, y *tree.Node) bool {
	return x.Size != y.Size || x.Mode != y.Mode || x.MTime != y.MTime || !bytes.Equal(x.LinkTarget, y.LinkTarget) ||
		x.UID != y.UID || x.GID != y.GID || x.User != y.User || x.Group != y.Group || x.Rdev != y.Rdev ||
		!slices.Equal(x.Content, y.Content) ||
		!slices.EqualFunc(x.Xattrs, y.Xattrs, func(a, b tree.Xattr) bool { return a.Name == b.Name && bytes.Equal(a.Value, b.Value) })
}

// report emits a change of kind for n, at d.p, and for a directory for
// everything below it.
func (d *differ) report(ctx context.Context, n *tree.Node, kind string) error {
	w := walker{l: d.l, p: d.p, fn: func(q string, _ *tree.Node) error { return d.emit(Change{q, kind}) }}
	return w.visit(ctx, d.p.String(), n)
}
