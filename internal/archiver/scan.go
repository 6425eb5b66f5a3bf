package archiver

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/coffer-backup/coffer/internal/fsmeta"
	"github.com/coffer-backup/coffer/internal/tree"
)

// Item is an item a backup would store, as DryRun reports it.
type Item struct {
	Path string     // absolute
	Node *tree.Node // its metadata, without content
	// Read is set for a regular file whose content a backup would read:
	// one the parent snapshot does not hold unchanged.
	Read bool
}

// DryRun walks paths as Run does, leaving out the same items, and calls fn
// for each item the snapshot would hold, a directory before its entries.
// It reads no file's content and writes nothing to the repository; it
// reads the parent snapshot's trees (and needs the index loaded) to tell
// which files would be read. It returns, as warnings, the items it could
// not read, which Run would leave out; an error of fn stops it.
func (a *Archiver) DryRun(ctx context.Context, paths []string, fn func(Item) error) ([]error, error) {
	abs, err := absPaths(paths)
	if err != nil {
		return nil, err
	}
	parent, err := a.parentRoot(ctx)
	if err != nil {
		return nil, err
	}
	var warnings []error
	l := &lister{a: a, fn: fn, warn: func(err error) { warnings = append(warnings, err) }}
	for _, p := range abs {
		n, err := fsmeta.Stat(p)
		if err != nil {
			return warnings, fmt.Errorf("%s: %w", p, err)
		}
		n.Name = []byte(filepath.Base(p))
		if err := l.visit(ctx, nil, p, n, parent[string(n.Name)]); err != nil {
			return warnings, err
		}
	}
	return warnings, nil
}

// Scan adds up the sizes of the regular files a backup of paths would
// hold into Stats.BytesTotal, so a progress display can estimate the time
// left. It is optional and may run concurrently with Run; errors are
// ignored, the total is only an estimate.
func (a *Archiver) Scan(ctx context.Context, paths []string) {
	l := &lister{a: a, warn: func(error) {}, fn: func(it Item) error {
		if it.Node.Type == tree.File {
			a.Stats.BytesTotal.Add(int64(it.Node.Size))
		}
		return nil
	}}
	abs, _ := absPaths(paths)
	for _, p := range abs {
		if n, err := fsmeta.Stat(p); err == nil {
			n.Name = []byte(filepath.Base(p))
			_ = l.visit(ctx, nil, p, n, nil)
		}
	}
}

// lister walks like Run, one item after another, reporting items instead
// of storing them.
type lister struct {
	a    *Archiver
	fn   func(Item) error
	warn func(error)
}

// visit reports n, entry of scope sc (nil for a backed-up path) found at
// abs, and, for a directory the filter keeps, its entries; old is the
// item in the parent snapshot, if any.
func (l *lister) visit(ctx context.Context, sc *scope, abs string, n, old *tree.Node) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if n.Type != tree.Dir {
		read := n.Type == tree.File && (old == nil || !l.a.reusable(old, n))
		return l.fn(Item{Path: abs, Node: n, Read: read})
	}
	ld, keep := l.a.openDir(sc, string(n.Name), abs, n, l.warn)
	if !keep {
		return nil
	}
	if err := l.fn(Item{Path: abs, Node: n}); err != nil {
		ld.dir.release()
		return err
	}
	olds := alignOld(ld.names, l.a.oldChildren(ctx, old))
	nodes, _ := l.a.entries(ctx, ld, abs, olds, false, l.warn)
	ld.dir.release() // before descending, as walkDir does
	for i, cn := range nodes {
		if cn == nil {
			continue
		}
		if err := l.visit(ctx, ld.inner, joinName(abs, ld.names[i]), cn, olds[i]); err != nil {
			return err
		}
	}
	return ctx.Err()
}
