// Package treewalk visits the items of a snapshot in path order, and
// compares two snapshots item by item. Every walk keeps to the limits of
// its snapshot (Limits): it measures what it will visit first and refuses
// a snapshot whose shared trees would make it huge (docs/format.md §5.6).
package treewalk

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/tree"
)

// Loader loads a tree blob's plaintext.
type Loader interface {
	LoadBlob(ctx context.Context, t blob.Type, id blob.ID, dst []byte) ([]byte, error)
}

// SkipDir, returned by a walk function for a directory, skips its contents.
var SkipDir = errors.New("skip this directory") //nolint:staticcheck // named after filepath.SkipDir, which it mirrors

// ErrNotFound is wrapped when a path names nothing in a snapshot.
var ErrNotFound = errors.New("no such path in the snapshot")

// Entries returns the entries listed by a directory's tree blobs.
func Entries(ctx context.Context, l Loader, ids []blob.ID) ([]*tree.Node, error) {
	var out []*tree.Node
	for _, id := range ids {
		nodes, _, err := load(ctx, l, id)
		if err != nil {
			return nil, err
		}
		out = append(out, nodes...)
	}
	return out, nil
}

// load returns the entries of one tree blob and the blob's size.
func load(ctx context.Context, l Loader, id blob.ID) ([]*tree.Node, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	b, err := l.LoadBlob(ctx, blob.Tree, id, nil)
	if err != nil {
		return nil, 0, err
	}
	t, err := tree.Decode(b)
	if err != nil {
		return nil, 0, fmt.Errorf("tree %s: %w", id.Short(), err)
	}
	return t.Nodes, len(b), nil
}

// Walk calls fn for every item below the root tree, parents before
// children, with '/'-separated paths starting with '/'. It first measures
// the walk and fails, before calling fn, with an error wrapping ErrBudget
// if the walk would exceed r's limits.
func Walk(ctx context.Context, l Loader, r Root, fn func(p string, n *tree.Node) error) error {
	return WalkAt(ctx, l, r, "/", fn)
}

// WalkAt is Walk for the item at path at ("/" for everything) and the
// items below it: fn is called for that item first, unless at is "/". It
// fails with an error wrapping ErrNotFound if at names nothing, and
// measures only what lies below at.
func WalkAt(ctx context.Context, l Loader, r Root, at string, fn func(p string, n *tree.Node) error) error {
	at = path.Clean("/" + at)
	n, err := Lookup(ctx, l, r.Tree, at)
	if err != nil {
		return err
	}
	if _, err := r.Limits.Measure(ctx, NewSizes(l), at, n.Subtrees...); err != nil {
		return err
	}
	w := walker{l: l, fn: fn, p: tree.NewPath(at)}
	if at == "/" {
		return w.dir(ctx, n.Subtrees)
	}
	return w.visit(ctx, at, n)
}

// Lookup returns the item at the '/'-separated path p below the root tree;
// for "/", a directory node listing the root tree.
func Lookup(ctx context.Context, l Loader, root blob.ID, p string) (*tree.Node, error) {
	n := &tree.Node{Type: tree.Dir, Subtrees: []blob.ID{root}}
	names := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	if len(names) > MaxDepth {
		return nil, fmt.Errorf("%s: %w", p, ErrNotFound)
	}
	for i, name := range names {
		if name == "" {
			break
		}
		nodes, err := Entries(ctx, l, n.Subtrees)
		if err != nil {
			return nil, fmt.Errorf("/%s: %w", strings.Join(names[:i], "/"), err)
		}
		if n = find(nodes, name); n == nil {
			return nil, fmt.Errorf("%s: %w", p, ErrNotFound)
		}
	}
	return n, nil
}

// find returns the entry called name, or nil.
func find(nodes []*tree.Node, name string) *tree.Node {
	for _, n := range nodes {
		if string(n.Name) == name {
			return n
		}
	}
	return nil
}

// walker calls fn for items, building their paths in one buffer.
type walker struct {
	l  Loader
	fn func(string, *tree.Node) error
	p  *tree.Path
}

// dir visits the entries of the directory listed by ids, at w.p.
func (w *walker) dir(ctx context.Context, ids []blob.ID) error {
	for _, id := range ids {
		nodes, _, err := load(ctx, w.l, id)
		if err != nil {
			return fmt.Errorf("%s: %w", w.p, err)
		}
		for _, n := range nodes {
			w.p.Push(n.Name)
			err := w.visit(ctx, w.p.String(), n)
			w.p.Pop()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// visit calls fn for n, found at p (w.p's value), then walks its entries.
func (w *walker) visit(ctx context.Context, p string, n *tree.Node) error {
	err := w.fn(p, n)
	if errors.Is(err, SkipDir) {
		return nil
	}
	if err != nil || n.Type != tree.Dir {
		return err
	}
	return w.dir(ctx, n.Subtrees)
}
