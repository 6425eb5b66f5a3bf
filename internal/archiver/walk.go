package archiver

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/tree"
)

// splitTreeSize is the encoded size at which a directory's listing is cut
// into another tree blob, so no tree blob grows without bound.
const splitTreeSize = 1 << 20

// dirState collects the entries of a directory as they complete, in any
// order; the last one to complete finishes the directory. No goroutine waits
// on a directory, so memory does not grow with the number of directories in
// flight beyond their entry lists.
type dirState struct {
	node     *tree.Node
	old      *tree.Node   // the directory in the parent snapshot, if any
	oldNodes []*tree.Node // old's entries, in order; nil if unknown
	children []*tree.Node
	pending  atomic.Int64 // entries not yet complete, plus one while the walker lists them
	parent   *dirState
	slot     int
	onDone   func([]*tree.Node) // for the root: receives the entries
}

// childDone records entry slot of d (nil: left out) and finishes d when it
// was the last one outstanding. slot -1 releases the walker's hold.
func (a *Archiver) childDone(ctx context.Context, d *dirState, slot int, n *tree.Node) {
	if slot >= 0 {
		d.children[slot] = n
		if n != nil && n.Type == tree.File {
			a.Stats.TotalFiles.Add(1)
			a.Stats.TotalBytes.Add(int64(n.Size))
		}
	}
	if d.pending.Add(-1) != 0 {
		return
	}
	if d.onDone != nil {
		d.onDone(d.children)
		return
	}
	nodes := compact(d.children)
	d.children = nil
	ids, err := a.dirTrees(ctx, d, nodes)
	if err != nil {
		a.fail(err)
		a.childDone(ctx, d.parent, d.slot, nil)
		return
	}
	d.node.Subtrees = ids
	switch {
	case d.old == nil:
		a.Stats.DirsNew.Add(1)
	case slices.Equal(d.old.Subtrees, ids):
		a.Stats.DirsUnmodified.Add(1)
	default:
		a.Stats.DirsChanged.Add(1)
	}
	a.childDone(ctx, d.parent, d.slot, d.node)
}

// dirTrees returns the tree blobs listing d's entries, nodes: the parent
// snapshot's when every entry encodes as there (so the listing's bytes,
// its split and its IDs are the same) and those blobs are still indexed,
// otherwise new ones (saveTrees).
func (a *Archiver) dirTrees(ctx context.Context, d *dirState, nodes []*tree.Node) ([]blob.ID, error) {
	if d.oldNodes != nil && len(d.oldNodes) == len(nodes) && a.indexed(d.old.Subtrees) {
		same := true
		for i, n := range nodes {
			if same = tree.SameEncoding(n, d.oldNodes[i]); !same {
				break
			}
		}
		if same {
			return d.old.Subtrees, nil
		}
	}
	return a.saveTrees(ctx, nodes)
}

// indexed reports whether the index lists every blob of ids.
func (a *Archiver) indexed(ids []blob.ID) bool {
	for _, id := range ids {
		if !a.r.Index.Has(id) {
			return false
		}
	}
	return len(ids) > 0
}

// saveTrees stores a directory listing as one or more tree blobs.
func (a *Archiver) saveTrees(ctx context.Context, nodes []*tree.Node) ([]blob.ID, error) {
	var (
		ids  []blob.ID
		part []*tree.Node
		size int
	)
	flush := func() error {
		b, err := (&tree.Tree{Nodes: part}).Encode()
		if err != nil {
			return err
		}
		id, added, err := a.r.SaveBlob(ctx, blob.Tree, b)
		if err != nil {
			return err
		}
		if added {
			a.Stats.BlobsAdded.Add(1)
			a.Stats.BytesAdded.Add(int64(len(b)))
		}
		ids = append(ids, id)
		part, size = nil, 0
		return nil
	}
	for _, n := range nodes {
		s := n.EncodedSize()
		if size+s > splitTreeSize && len(part) > 0 {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		part = append(part, n)
		size += s
	}
	if len(part) > 0 || len(ids) == 0 {
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// walkDir lists a directory, entry of scope sc (nil for a backed-up
// path), and visits the entries the filter keeps, in order: first its
// files, which are opened relative to it while it is held open, then,
// once the walker has released it, the rest, descending into
// subdirectories.
func (a *Archiver) walkDir(ctx context.Context, parent *dirState, slot int, sc *scope, path string, n *tree.Node, old *tree.Node) {
	l, keep := a.openDir(sc, string(n.Name), path, n, a.warn)
	if !keep {
		a.childDone(ctx, parent, slot, nil)
		return
	}
	oldNodes := a.oldChildren(ctx, old)
	olds := alignOld(l.names, oldNodes)
	nodes, opens := a.entries(ctx, l, path, olds, true, a.warn)
	d := &dirState{node: n, old: old, oldNodes: oldNodes, children: make([]*tree.Node, len(nodes)), parent: parent, slot: slot}
	d.pending.Store(int64(len(nodes)) + 1)
	isFile := func(i int) bool { return opens[i] || nodes[i] != nil && nodes[i].Type == tree.File }
	for i, name := range l.names {
		switch {
		case !isFile(i):
		case ctx.Err() != nil:
			a.childDone(ctx, d, i, nil)
		case opens[i]:
			a.queue(ctx, fileJob{path: joinName(path, name), name: name, from: l.dir, scope: l.inner, dir: d, slot: i, capture: true})
		default:
			a.visit(ctx, d, i, l.inner, l.dir, joinName(path, name), nodes[i], olds[i])
		}
	}
	l.dir.release()
	for i, cn := range nodes {
		switch {
		case isFile(i):
		case cn == nil || ctx.Err() != nil:
			a.childDone(ctx, d, i, nil)
		default:
			a.visit(ctx, d, i, l.inner, nil, joinName(path, l.names[i]), cn, olds[i])
		}
	}
	a.childDone(ctx, d, -1, nil)
}

// oldChildren loads the entries of a directory in the parent snapshot, in
// order; nil if there are none or they cannot be read.
func (a *Archiver) oldChildren(ctx context.Context, old *tree.Node) []*tree.Node {
	if old == nil || old.Type != tree.Dir {
		return nil
	}
	nodes := []*tree.Node{}
	for _, id := range old.Subtrees {
		b, err := a.r.LoadBlob(ctx, blob.Tree, id, nil)
		if err != nil {
			return nil // the parent is only an optimisation
		}
		t, err := tree.Decode(b)
		if err != nil {
			return nil
		}
		nodes = append(nodes, t.Nodes...)
	}
	return nodes
}

// alignOld returns, for each of names (sorted), the entry of old with that
// name, or nil. The tree blobs of a directory hold its entries sorted by
// name without duplicates, and in order across blobs (docs/format.md §5),
// so one merge pass finds them; were old not sorted, some would only be
// missed, and their files read again.
func alignOld(names []string, old []*tree.Node) []*tree.Node {
	out := make([]*tree.Node, len(names))
	j := 0
	for i, name := range names {
		for j < len(old) && string(old[j].Name) < name {
			j++
		}
		if j < len(old) && string(old[j].Name) == name {
			out[i] = old[j]
			j++
		}
	}
	return out
}

// joinName is filepath.Join(dir, name) for a clean dir and a name of one
// component, as directory listings give, without cleaning dir again.
func joinName(dir, name string) string {
	switch {
	case dir == "" || dir == ".":
		return name
	case os.IsPathSeparator(dir[len(dir)-1]):
		return dir + name
	}
	return dir + string(filepath.Separator) + name
}

// parentRoot returns the entries of the parent snapshot's root tree.
func (a *Archiver) parentRoot(ctx context.Context) (map[string]*tree.Node, error) {
	if a.opts.Parent == nil {
		return nil, nil
	}
	m := make(map[string]*tree.Node)
	for _, n := range a.oldChildren(ctx, &tree.Node{Type: tree.Dir, Subtrees: []blob.ID{a.opts.Parent.Tree}}) {
		m[string(n.Name)] = n
	}
	return m, nil
}
