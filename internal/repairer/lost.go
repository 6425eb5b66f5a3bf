package repairer

import (
	"context"
	"fmt"
	"path"
	"slices"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/tree"
)

// findLost makes the index of authentic copies r.Index and reports every
// item of every snapshot that needs a blob it does not hold.
func (rp *repairer) findLost(ctx context.Context) error {
	rp.r.Index = rp.authentic(rp.res.BadPacks)
	snaps, bad, err := rp.r.ReadableSnapshots(ctx)
	if err != nil {
		return err
	}
	for _, b := range bad {
		rp.res.Problems = append(rp.res.Problems, fmt.Sprintf("snapshot: %v", b))
	}
	w := &walker{r: rp.r, memo: make(map[blob.ID]bool)}
	for _, sn := range snaps {
		if w.lostBelow(ctx, sn.Tree) {
			w.report(ctx, sn.ID, "/", sn.Tree, &rp.res.Lost)
		}
	}
	return ctx.Err()
}

// walker walks trees through an index of authentic copies only.
type walker struct {
	r    *repo.Repo
	memo map[blob.ID]bool // trees walked: whether anything below is lost
}

// lostBelow reports whether the tree, or anything it refers to, has no
// authentic copy. It reads each tree once.
func (w *walker) lostBelow(ctx context.Context, id blob.ID) bool {
	if lost, ok := w.memo[id]; ok {
		return lost
	}
	t, err := w.tree(ctx, id)
	lost := err != nil
	for _, n := range nodes(t) {
		lost = lost || slices.ContainsFunc(n.Content, func(e tree.Extent) bool { return !e.IsHole() && !w.hasData(e.ID) })
		for _, sub := range n.Subtrees {
			lost = w.lostBelow(ctx, sub) || lost
		}
	}
	w.memo[id] = lost
	return lost
}

// report appends what is lost below the tree at path of the snapshot.
func (w *walker) report(ctx context.Context, snap blob.ID, at string, id blob.ID, out *[]Lost) {
	t, err := w.tree(ctx, id)
	if err != nil {
		*out = append(*out, Lost{Snapshot: snap, Path: at, Type: blob.Tree.String(), Blob: id})
		return
	}
	for _, n := range nodes(t) {
		p := path.Join(at, string(n.Name))
		var seen []blob.ID
		for _, e := range n.Content {
			if !e.IsHole() && !w.hasData(e.ID) && !slices.Contains(seen, e.ID) {
				seen = append(seen, e.ID)
				*out = append(*out, Lost{Snapshot: snap, Path: p, Type: blob.Data.String(), Blob: e.ID})
			}
		}
		for _, sub := range n.Subtrees {
			if w.lostBelow(ctx, sub) {
				w.report(ctx, snap, p, sub, out)
			}
		}
	}
}

func (w *walker) tree(ctx context.Context, id blob.ID) (*tree.Tree, error) {
	b, err := w.r.LoadBlob(ctx, blob.Tree, id, nil)
	if err != nil {
		return nil, err
	}
	t, err := tree.Decode(b)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (w *walker) hasData(id blob.ID) bool {
	return slices.ContainsFunc(w.r.Index.Copies(id), func(l index.Location) bool { return l.Type == blob.Data })
}

// nodes returns the nodes of t, none if t is nil.
func nodes(t *tree.Tree) []*tree.Node {
	if t == nil {
		return nil
	}
	return t.Nodes
}
