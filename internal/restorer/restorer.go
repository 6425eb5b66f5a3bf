// Package restorer writes a snapshot, or part of it, back to the file
// system with its metadata. It never writes outside the target directory,
// whatever names the snapshot holds, and never replaces existing files
// unless asked to.
package restorer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/fsmeta"
	"github.com/coffer-backup/coffer/internal/pattern"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/tree"
	"github.com/coffer-backup/coffer/internal/treewalk"
)

// Options tune a restore.
type Options struct {
	Target string
	// Include, matched against paths relative to the snapshot root
	// ("data/a/x" for /data/a/x), selects what to restore: an item it
	// matches (the last matching pattern not negated), everything in a
	// directory it matches, and the directories on the way to them. Empty
	// selects everything.
	Include pattern.List
	// Exclude leaves out the items it matches, and what they hold.
	Exclude   pattern.List
	Overwrite Overwrite // what to do where the target already holds an item
	Workers   int       // ranges of packs, or trees, read at once
	// Limits bound what the restore may visit (treewalk.LimitsFor the
	// snapshot); zero fields stand for the absolute caps.
	Limits treewalk.Limits
	// Verbose, if set, is told of each item by its path relative to the
	// target: Restored once it was created (a directory when made, before
	// its metadata), Kept when an item in the target is left as it is. It
	// is called from several goroutines at once.
	Verbose func(rel string, what Event)
}

// Event is what a restore did with one item (Options.Verbose).
type Event string

// The events of Options.Verbose.
const (
	Restored Event = "restored"
	Kept     Event = "kept"
)

// note tells Options.Verbose, if set, of an event.
func (rs *Restorer) note(rel string, what Event) {
	if rs.opts.Verbose != nil {
		rs.opts.Verbose(rel, what)
	}
}

// maxBatch bounds the data extents planned before the pack phase runs,
// and so the memory of the plan (a few hundred bytes an extent, with the
// tree nodes of its files): a larger restore runs in batches, each reading
// every pack range it needs once. (A variable for tests.)
var maxBatch = 1 << 18

// maxPath is the longest path, relative to the target, that the kernel
// resolves (PATH_MAX less the NUL); longer ones cannot be created.
const maxPath = 4095

// maxErrs bounds the errors kept for the report; the rest are counted.
const maxErrs = 1000

// Overwrite says what a restore does with an item already in the target
// where it would create one. An existing directory is always merged into,
// and nothing is ever written through an existing file: a replaced item is
// removed and created anew (fsmeta.Root).
type Overwrite uint8

const (
	// OverwriteRefuse leaves an existing item as it is and counts it as an
	// error (the default).
	OverwriteRefuse Overwrite = iota
	// OverwriteAlways replaces any existing item but a directory that is
	// not empty.
	OverwriteAlways
	// OverwriteIfChanged leaves an existing item of the same type, size and
	// modification time (a file), target (a symbolic link) or device
	// number as it is, without reading it, and replaces the others.
	OverwriteIfChanged
	// OverwriteNever leaves every existing item as it is, and restores
	// nothing inside an existing item that is not a directory.
	OverwriteNever
)

// Stats counts what a restore did, updated atomically while it runs.
type Stats struct {
	Files, Dirs, Others atomic.Int64
	Bytes               atomic.Int64
	Kept                atomic.Int64 // existing items left as they were (OverwriteIfChanged, OverwriteNever)
}

// Restorer runs one restore. The walk creates, in path order, the items
// the patterns select (a directory only when selected itself or on the
// way to something restored) and plans the data of regular files; the
// pack phase then reads each pack range the plan needs once, decrypts
// each blob once and writes it to every file and offset that holds it,
// creating each file when its first blob arrives (docs/format.md §5.0,
// §10).
type Restorer struct {
	r     *repo.Repo
	opts  Options
	Stats Stats
	root  *fsmeta.Root
	trees *trees
	sizes map[blob.ID]int64 // of the packs in the store
	// loadBlob reads one blob on its own (repo.Repo.LoadBlob, which tries
	// every copy the index lists): the trees' reader, and the pack phase's
	// fallback for a blob it cannot read in its range or that fails to
	// authenticate there.
	loadBlob loadFunc
	plan     *plan
	files    *openFiles

	path *tree.Path // of the item being restored, relative to the target
	open []openDir  // the directories being walked, outermost first

	mu       sync.Mutex
	errs     []error // the first maxErrs
	nerrs    int
	nexist   int // errors for items already in the target
	warnings []error
	dirs     []dirMeta            // directories, in creation order
	links    []linkJob            // hard links, made after all files
	firstOf  map[[2]uint64]string // (device, inode) -> first path of a hard-link group
	created  map[string]bool      // first paths of hard-link groups this restore wrote
}

type dirMeta struct {
	rel  string
	node *tree.Node
}

type linkJob struct {
	rel, target string
	node        *tree.Node
}

// New returns a Restorer reading from r.
func New(r *repo.Repo, opts Options) *Restorer {
	if opts.Workers <= 0 {
		opts.Workers = max(4, 2*runtime.GOMAXPROCS(0))
	}
	return &Restorer{r: r, opts: opts, loadBlob: r.LoadBlob, plan: newPlan(),
		firstOf: make(map[[2]uint64]string), created: make(map[string]bool)}
}

func (rs *Restorer) addErr(err error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.nerrs++
	if errors.Is(err, fs.ErrExist) {
		rs.nexist++
	}
	if len(rs.errs) < maxErrs {
		rs.errs = append(rs.errs, err)
	}
}

func (rs *Restorer) addWarnings(ws []error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.warnings = append(rs.warnings, ws...)
}

// Warnings returns metadata that could not be restored (for example
// ownership when not running as root).
func (rs *Restorer) Warnings() []error { return rs.warnings }

// Run restores the tree rooted at rootTree into the target. Before it
// writes anything, it fails if an Include pattern matches nothing (an
// error wrapping ErrNotInSnapshot) or if what it would restore exceeds
// Options.Limits (an error wrapping treewalk.ErrBudget): a snapshot whose
// directories share trees can expand to far more items than it stores.
// Items it cannot restore make it fail with an *Error once it has restored
// the others; if the patterns select nothing, it fails with
// ErrNothingSelected.
func (rs *Restorer) Run(ctx context.Context, rootTree blob.ID) error {
	sizes, err := rs.r.PackSizes(ctx)
	if err != nil {
		return err
	}
	rs.sizes = sizes
	rs.trees = newTrees(rs.loadBlob, rs.opts.Workers)
	if err := rs.measure(ctx, rootTree); err != nil {
		return err
	}
	if err := os.MkdirAll(rs.opts.Target, 0o700); err != nil {
		return fmt.Errorf("creating target: %w", err)
	}
	root, err := fsmeta.OpenRoot(rs.opts.Target)
	if err != nil {
		return fmt.Errorf("opening target: %w", err)
	}
	defer root.Close()
	rs.root, rs.files = root, newOpenFiles(root, rs.replace())
	rs.path = tree.NewPath("")
	if err := rs.walk(ctx, rootTree); err != nil {
		// Finishes the files begun, or removes them if ctx is done.
		_ = rs.flush(context.WithoutCancel(ctx), ctx.Err())
		return err
	}
	if err := rs.flush(ctx, nil); err != nil {
		return err
	}
	if err := rs.finish(ctx); err != nil {
		return err
	}
	return rs.result()
}

// result is what a restore that ran to the end returns: an *Error if items
// could not be restored, ErrNothingSelected if the patterns selected
// nothing, or nil.
func (rs *Restorer) result() error {
	if rs.nerrs > 0 {
		return &Error{Count: rs.nerrs, Existing: rs.nexist, First: rs.errs[0]}
	}
	if rs.restored() == 0 && rs.opts.Include.Len()+rs.opts.Exclude.Len() > 0 {
		return ErrNothingSelected
	}
	return nil
}

// restored returns how many items the restore made or kept.
func (rs *Restorer) restored() int64 {
	s := &rs.Stats
	return s.Files.Load() + s.Dirs.Load() + s.Others.Load() + s.Kept.Load()
}

// Error is what Run returns when items could not be restored.
type Error struct {
	Count    int   // items that could not be restored
	Existing int   // of them, those the target already held (with OverwriteRefuse)
	First    error // the first of their errors
}

func (e *Error) Error() string {
	if e.Count == 1 {
		return e.First.Error()
	}
	return fmt.Sprintf("%d items could not be restored; first: %v", e.Count, e.First)
}

func (e *Error) Unwrap() error { return e.First }

// walk restores the entries listed by the tree blobs of the directory at
// rs.path.
func (rs *Restorer) walk(ctx context.Context, ids ...blob.ID) error {
	for _, id := range ids {
		b, err := rs.trees.LoadBlob(ctx, blob.Tree, id, nil)
		if err != nil {
			return fmt.Errorf("directory %q: %w", "/"+rs.path.String(), err)
		}
		t, err := tree.Decode(b)
		if err != nil {
			return fmt.Errorf("directory %q: tree %s: %w", "/"+rs.path.String(), id.Short(), err)
		}
		for _, n := range t.Nodes {
			if err := rs.child(ctx, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// child restores n, an entry of the directory at rs.path.
func (rs *Restorer) child(ctx context.Context, n *tree.Node) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	rs.path.Push(n.Name)
	defer rs.path.Pop()
	if rs.path.Len() > maxPath {
		rel := rs.path.String()
		rs.addErr(fmt.Errorf("%.64s…: path of %d bytes: %w", rel, len(rel), syscall.ENAMETOOLONG))
		return nil
	}
	return rs.entry(ctx, rs.path.String(), n)
}

// entry restores one item, if the patterns select it; it returns only
// errors that stop the restore.
func (rs *Restorer) entry(ctx context.Context, rel string, n *tree.Node) error {
	isDir := n.Type == tree.Dir
	if rs.excluded(rel, isDir) {
		return nil
	}
	inc := rs.included(rel, isDir)
	if isDir {
		return rs.dir(ctx, rel, n, inc)
	}
	if !inc || !rs.makeParents() || rs.unchanged(rel, n) {
		return nil
	}
	if n.Type == tree.File && n.Links > 1 {
		key := [2]uint64{n.Device, n.Inode}
		if first, ok := rs.firstOf[key]; ok {
			rs.links = append(rs.links, linkJob{rel, first, n})
			return nil
		}
		rs.firstOf[key] = rel
	}
	switch n.Type {
	case tree.File:
		return rs.startFile(ctx, rel, n)
	case tree.Symlink:
		rs.apply(rel, n, rs.root.Symlink(n.LinkTarget, rel, rs.replace()))
	default:
		rs.apply(rel, n, rs.root.Mknod(rel, n, rs.replace()))
	}
	return nil
}

// dir walks a directory of the snapshot. It is made at once if included,
// else only when something in it is restored; it is not entered at all
// when nothing in it can be.
func (rs *Restorer) dir(ctx context.Context, rel string, n *tree.Node, included bool) error {
	if !included && !rs.opts.Include.MayMatchBelow(rel) {
		return nil
	}
	rs.open = append(rs.open, openDir{rel: rel, node: n, included: included})
	defer func() { rs.open = rs.open[:len(rs.open)-1] }()
	if included && !rs.makeParents() {
		return nil
	}
	return rs.walk(ctx, n.Subtrees...)
}

// replace reports whether an existing item in the way is replaced.
func (rs *Restorer) replace() bool {
	return rs.opts.Overwrite == OverwriteAlways || rs.opts.Overwrite == OverwriteIfChanged
}

// kept reports whether err is the item already in the target at rel
// that OverwriteNever keeps; it counts it.
func (rs *Restorer) kept(rel string, err error) bool {
	if rs.opts.Overwrite != OverwriteNever || !errors.Is(err, fs.ErrExist) {
		return false
	}
	rs.Stats.Kept.Add(1)
	rs.note(rel, Kept)
	return true
}

// unchanged reports whether OverwriteIfChanged keeps the item the target
// holds at rel, as fsmeta.Root.Holds tells; it counts it. An item it
// cannot examine is replaced, or its error reported, as any other.
func (rs *Restorer) unchanged(rel string, n *tree.Node) bool {
	if rs.opts.Overwrite != OverwriteIfChanged {
		return false
	}
	if same, err := rs.root.Holds(rel, n); err != nil || !same {
		return false
	}
	rs.Stats.Kept.Add(1)
	rs.note(rel, Kept)
	return true
}

// apply sets an item's metadata once it exists (err is its creation's
// outcome).
func (rs *Restorer) apply(rel string, n *tree.Node, err error) {
	if err != nil {
		if !rs.kept(rel, err) {
			rs.addErr(fmt.Errorf("%s: %w", rel, err))
		}
		return
	}
	if n.Type != tree.File && n.Type != tree.Dir {
		rs.Stats.Others.Add(1)
		rs.note(rel, Restored)
	}
	ws, err := rs.root.Apply(rel, n, fsmeta.ApplyOptions{})
	rs.addWarnings(ws)
	if err != nil {
		rs.addErr(fmt.Errorf("%s: %w", rel, err))
	}
}

// finish makes hard links and sets directory metadata, children first.
func (rs *Restorer) finish(ctx context.Context) error {
	if err := rs.link(ctx); err != nil {
		return err
	}
	for i := len(rs.dirs) - 1; i >= 0; i-- {
		rs.apply(rs.dirs[i].rel, rs.dirs[i].node, nil)
	}
	return nil
}

// link makes the hard links of the restore. A link is made only to a file
// this restore wrote itself, never to whatever already stood at that
// path; the shared inode already has its metadata. When the group's first
// file could not be written, the link is restored as a file of its own,
// through the pack phase, before the links are made. It returns only the
// error of a failed batch.
func (rs *Restorer) link(ctx context.Context) error {
	var linked []linkJob
	for _, l := range rs.links {
		if rs.unchanged(l.rel, l.node) {
			continue
		}
		if !rs.created[l.target] {
			if err := rs.startFile(ctx, l.rel, l.node); err != nil {
				return err
			}
			continue
		}
		linked = append(linked, l)
	}
	if err := rs.flush(ctx, nil); err != nil {
		return err
	}
	for _, l := range linked {
		if err := rs.root.Link(l.target, l.rel, rs.replace()); err != nil {
			if !rs.kept(l.rel, err) {
				rs.addErr(fmt.Errorf("%s: %w", l.rel, err))
			}
			continue
		}
		rs.Stats.Files.Add(1)
		rs.note(l.rel, Restored)
	}
	return nil
}

// ErrNotInSnapshot is wrapped when an Include path names nothing.
var ErrNotInSnapshot = treewalk.ErrNotFound
