// Package treewalk visits the items of a snapshot in path order, and
// compares two snapshots item by item.
package treewalk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/termsafe"
	"github.com/coffer-backup/coffer/internal/tree"
)

// Loader loads a tree blob's plaintext.
type Loader interface {
	LoadBlob(ctx context.Context, t blob.Type, id blob.ID, dst []byte) ([]byte, error)
}

// SkipDir, returned by a walk function for a directory, skips its contents.
var SkipDir = errors.New("skip this directory") //nolint:staticcheck // named after filepath.SkipDir, which it mirrors

// Entries returns the entries listed by a directory's tree blobs.
func Entries(ctx context.Context, l Loader, ids []blob.ID) ([]*tree.Node, error) {
	var out []*tree.Node
	for _, id := range ids {
		b, err := l.LoadBlob(ctx, blob.Tree, id, nil)
		if err != nil {
			return nil, err
		}
		t, err := tree.Decode(b)
		if err != nil {
			return nil, fmt.Errorf("tree %s: %w", id.Short(), err)
		}
		out = append(out, t.Nodes...)
	}
	return out, nil
}

// Walk calls fn for every item below the root tree, parents before
// children, with '/'-separated paths starting with '/'.
func Walk(ctx context.Context, l Loader, root blob.ID, fn func(p string, n *tree.Node) error) error {
	return walk(ctx, l, "/", []blob.ID{root}, fn)
}

func walk(ctx context.Context, l Loader, dir string, ids []blob.ID, fn func(string, *tree.Node) error) error {
	nodes, err := Entries(ctx, l, ids)
	if err != nil {
		return fmt.Errorf("%s: %w", termsafe.Name(dir), err)
	}
	for _, n := range nodes {
		p := path.Join(dir, string(n.Name))
		err := fn(p, n)
		if errors.Is(err, SkipDir) {
			continue
		}
		if err != nil {
			return err
		}
		if n.Type == tree.Dir {
			if err := walk(ctx, l, p, n.Subtrees, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// Change is one difference between two snapshots.
type Change struct {
	Path string `json:"path"`
	Kind string `json:"change"` // "added", "removed", "modified"
}

// Diff calls fn for every item added, removed or modified between the trees
// a and b, in path order. A directory whose listing is unchanged is not
// descended into.
func Diff(ctx context.Context, l Loader, a, b blob.ID, fn func(Change) error) error {
	return diffDir(ctx, l, "/", []blob.ID{a}, []blob.ID{b}, fn)
}

func diffDir(ctx context.Context, l Loader, dir string, a, b []blob.ID, fn func(Change) error) error {
	if slices.Equal(a, b) {
		return nil
	}
	na, err := Entries(ctx, l, a)
	if err != nil {
		return err
	}
	nb, err := Entries(ctx, l, b)
	if err != nil {
		return err
	}
	for i, j := 0, 0; i < len(na) || j < len(nb); {
		var c int
		switch {
		case i == len(na):
			c = 1
		case j == len(nb):
			c = -1
		default:
			c = bytes.Compare(na[i].Name, nb[j].Name)
		}
		var err error
		switch {
		case c < 0:
			err = report(ctx, l, dir, na[i], "removed", fn)
			i++
		case c > 0:
			err = report(ctx, l, dir, nb[j], "added", fn)
			j++
		default:
			err = diffNode(ctx, l, path.Join(dir, string(na[i].Name)), na[i], nb[j], fn)
			i, j = i+1, j+1
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func diffNode(ctx context.Context, l Loader, p string, x, y *tree.Node, fn func(Change) error) error {
	if x.Type != y.Type {
		if err := report(ctx, l, path.Dir(p), x, "removed", fn); err != nil {
			return err
		}
		return report(ctx, l, path.Dir(p), y, "added", fn)
	}
	if modified(x, y) {
		if err := fn(Change{p, "modified"}); err != nil {
			return err
		}
	}
	if x.Type == tree.Dir {
		return diffDir(ctx, l, p, x.Subtrees, y.Subtrees, fn)
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

// report emits a change for n and, for a directory, everything below it.
func report(ctx context.Context, l Loader, dir string, n *tree.Node, kind string, fn func(Change) error) error {
	p := path.Join(dir, string(n.Name))
	if err := fn(Change{p, kind}); err != nil {
		return err
	}
	if n.Type != tree.Dir {
		return nil
	}
	return walk(ctx, l, p, n.Subtrees, func(q string, _ *tree.Node) error { return fn(Change{q, kind}) })
}
