package restorer

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/pattern"
	"github.com/coffer-backup/coffer/internal/tree"
	"github.com/coffer-backup/coffer/internal/treewalk"
)

// ErrNothingSelected is returned when the Include and Exclude patterns
// leave nothing of the snapshot to restore.
var ErrNothingSelected = errors.New("the include and exclude patterns select nothing in the snapshot")

// openDir is a directory of the snapshot being walked, made in the target
// only when something in it is restored (or it is included itself).
type openDir struct {
	rel      string
	node     *tree.Node
	included bool // Include selects it, so everything in it
	made     bool
	failed   bool // making it failed: nothing in it is restored
}

// excluded reports whether Exclude leaves out the item at rel. The walk
// does not enter an excluded directory, so what it holds is left out too.
func (rs *Restorer) excluded(rel string, isDir bool) bool {
	return rs.opts.Exclude.Match(rel, isDir) == pattern.Matched
}

// included reports whether Include selects the item at rel: there is no
// Include, or it selects the directory the item is in, or its last
// pattern matching rel is not negated.
func (rs *Restorer) included(rel string, isDir bool) bool {
	if rs.opts.Include.Len() == 0 {
		return true
	}
	if n := len(rs.open); n > 0 && rs.open[n-1].included {
		return true
	}
	return rs.opts.Include.Match(rel, isDir) == pattern.Matched
}

// makeParents makes the directories being walked that are not yet made,
// outermost first, so that an item can be restored in the innermost. It
// reports false if one cannot be made (an error, or kept by
// OverwriteNever): nothing in it is restored.
func (rs *Restorer) makeParents() bool {
	for i := range rs.open {
		d := &rs.open[i]
		if d.failed {
			return false
		}
		if d.made {
			continue
		}
		if err := rs.root.Mkdir(d.rel, rs.replace()); err != nil {
			d.failed = true
			if !rs.kept(d.rel, err) {
				rs.addErr(fmt.Errorf("%s: %w", d.rel, err))
			}
			return false
		}
		d.made = true
		rs.dirs = append(rs.dirs, dirMeta{d.rel, d.node})
		rs.Stats.Dirs.Add(1)
		rs.note(d.rel, Restored)
	}
	return true
}

// measure fails, before anything is written, if a pattern of Include
// matches nothing in the snapshot, or if what the restore may visit,
// every occurrence of a shared tree counted, exceeds the limits. With only
// literal paths to include, it measures and loads only the trees on their
// way and below them; otherwise the whole snapshot. The trees it needs are
// prefetched in parallel and kept for the walk (trees), so each distinct
// tree is read once while the cache has room.
func (rs *Restorer) measure(ctx context.Context, rootTree blob.ID) error {
	lits, globs := splitIncludes(rs.opts.Include)
	sizes := treewalk.NewSizes(rs.trees)
	if len(lits) > 0 && len(globs) == 0 {
		return rs.measureLiterals(ctx, sizes, rootTree, lits)
	}
	rs.trees.prefetch(ctx, []blob.ID{rootTree})
	if _, err := rs.opts.Limits.Measure(ctx, sizes, "/", rootTree); err != nil {
		return err
	}
	for _, lit := range lits {
		if _, err := lookup(ctx, rs.trees, rootTree, lit); err != nil {
			return err
		}
	}
	return rs.search(ctx, rootTree, globs)
}

// literal is an Include pattern that names one path.
type literal struct {
	path    string
	dirOnly bool
}

// splitIncludes separates the patterns that name one path from the
// others; negated patterns are in neither.
func splitIncludes(l pattern.List) (lits []literal, globs []*pattern.Pattern) {
	for _, p := range l.Patterns() {
		if path, dirOnly, ok := p.Literal(); ok {
			lits = append(lits, literal{path, dirOnly})
		} else if !p.Negated() {
			globs = append(globs, p)
		}
	}
	return lits, globs
}

// measureLiterals checks that each literal path exists and measures what
// lies below them.
func (rs *Restorer) measureLiterals(ctx context.Context, sizes *treewalk.Sizes, rootTree blob.ID, lits []literal) error {
	var total treewalk.Size
	for _, lit := range lits {
		n, err := lookup(ctx, rs.trees, rootTree, lit)
		if err != nil {
			return err
		}
		rs.trees.prefetch(ctx, n.Subtrees)
		sz, err := rs.opts.Limits.Measure(ctx, sizes, "/"+lit.path, n.Subtrees...)
		if err != nil {
			return err
		}
		total = total.Plus(sz)
	}
	return rs.opts.Limits.Check(total)
}

// lookup returns the item a literal names; one that names a directory
// (a trailing '/') must be one.
func lookup(ctx context.Context, l treewalk.Loader, rootTree blob.ID, lit literal) (*tree.Node, error) {
	n, err := treewalk.Lookup(ctx, l, rootTree, "/"+lit.path)
	if err == nil && lit.dirOnly && n.Type != tree.Dir {
		err = fmt.Errorf("/%s/: %w", lit.path, ErrNotInSnapshot)
	}
	return n, err
}

// search fails with an error wrapping ErrNotInSnapshot if one of the
// patterns matches no item of the snapshot. It enters only directories
// below which a pattern not yet matched may match, and stops when all
// have. The caller has measured the whole snapshot.
func (rs *Restorer) search(ctx context.Context, rootTree blob.ID, pats []*pattern.Pattern) error {
	left := pats
	var walk func(rel string, ids []blob.ID) error
	walk = func(rel string, ids []blob.ID) error {
		nodes, err := treewalk.Entries(ctx, rs.trees, ids)
		if err != nil {
			return err
		}
		for _, n := range nodes {
			p := join(rel, string(n.Name))
			left = unmatched(left, p, n.Type == tree.Dir)
			if n.Type == tree.Dir && len(left) > 0 && mayMatchBelow(left, p) {
				if err := walk(p, n.Subtrees); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk("", []blob.ID{rootTree}); err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("include pattern %q matches nothing: %w", left[0], ErrNotInSnapshot)
	}
	return nil
}

// unmatched returns the patterns that do not match the item at rel,
// without copying them when none does.
func unmatched(pats []*pattern.Pattern, rel string, isDir bool) []*pattern.Pattern {
	match := func(p *pattern.Pattern) bool { return p.Match(rel, isDir) }
	if !slices.ContainsFunc(pats, match) {
		return pats
	}
	return slices.DeleteFunc(slices.Clone(pats), match)
}

func mayMatchBelow(pats []*pattern.Pattern, dir string) bool {
	for _, p := range pats {
		if p.MayMatchBelow(dir) {
			return true
		}
	}
	return false
}

// join returns the path of entry name of directory dir ("" is the root).
func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
