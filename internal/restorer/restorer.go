// Package restorer writes a snapshot, or part of it, back to the file
// system with its metadata. It never writes outside the target directory,
// whatever names the snapshot holds, and never replaces existing files
// unless asked to.
package restorer

import (
	"context"
	"fmt"
	"os"
	"path"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/fsmeta"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/tree"
	"github.com/coffer-backup/coffer/internal/treewalk"
)

// Options tune a restore.
type Options struct {
	Target    string
	Include   []string // snapshot paths ('/'-separated, relative to the snapshot root) to restore; all if empty
	Overwrite bool     // replace existing files instead of failing on them
	Workers   int
	// Limits bound what the restore may visit (treewalk.LimitsFor the
	// snapshot); zero fields stand for the absolute caps.
	Limits treewalk.Limits
}

// Restores read packs in aligned windows of readWindow bytes and keep the
// last readWindows of them (docs/format.md §10).
const (
	readWindow  = 4 << 20
	readWindows = 8
)

// maxPath is the longest path, relative to the target, that the kernel
// resolves (PATH_MAX less the NUL); longer ones cannot be created.
const maxPath = 4095

// maxErrs bounds the errors kept for the report; the rest are counted.
const maxErrs = 1000

// Stats counts what a restore did, updated atomically while it runs.
type Stats struct {
	Files, Dirs, Others atomic.Int64
	Bytes               atomic.Int64
}

// Restorer runs one restore.
type Restorer struct {
	r     *repo.Repo
	opts  Options
	Stats Stats
	root  *fsmeta.Root
	blobs *repo.WindowReader

	jobs chan fileJob
	wg   sync.WaitGroup

	path *tree.Path // of the item being restored, relative to the target

	mu       sync.Mutex
	errs     []error // the first maxErrs
	nerrs    int
	warnings []error
	dirs     []dirMeta            // directories, in creation order
	links    []linkJob            // hard links, made after all files
	firstOf  map[[2]uint64]string // (device, inode) -> first path of a hard-link group
	created  map[string]bool      // first paths of hard-link groups this restore wrote
}

type fileJob struct {
	rel  string
	node *tree.Node
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
	includes := make([]string, len(opts.Include))
	for i, inc := range opts.Include {
		includes[i] = strings.Trim(path.Clean("/"+inc), "/")
	}
	opts.Include = includes
	return &Restorer{r: r, opts: opts, firstOf: make(map[[2]uint64]string), created: make(map[string]bool)}
}

func (rs *Restorer) addErr(err error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.nerrs++
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
// writes anything, it fails if an Include path names nothing or if what
// it would restore exceeds Options.Limits (an error wrapping
// treewalk.ErrBudget): a snapshot whose directories share trees can
// expand to far more items than it stores.
func (rs *Restorer) Run(ctx context.Context, rootTree blob.ID) error {
	blobs, err := rs.r.NewWindowReader(ctx, readWindow, readWindows)
	if err != nil {
		return err
	}
	rs.blobs = blobs
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
	rs.root = root
	rs.jobs = make(chan fileJob, 4*rs.opts.Workers)
	for range rs.opts.Workers {
		rs.wg.Add(1)
		go rs.fileWorker(ctx)
	}
	rs.path = tree.NewPath("")
	walkErr := rs.walk(ctx, rootTree)
	close(rs.jobs)
	rs.wg.Wait()
	if walkErr != nil {
		return walkErr
	}
	rs.finish(ctx)
	if n := rs.nerrs; n > 0 {
		if n == 1 {
			return rs.errs[0]
		}
		return fmt.Errorf("%d items could not be restored; first: %w", n, rs.errs[0])
	}
	return nil
}

// measure fails if an Include path names nothing in the snapshot, or if
// the items to restore, every occurrence of a shared tree counted, exceed
// the limits. It loads each distinct tree once (treewalk.Sizes).
func (rs *Restorer) measure(ctx context.Context, rootTree blob.ID) error {
	includes := rs.opts.Include
	if len(includes) == 0 {
		includes = []string{""}
	}
	sizes := treewalk.NewSizes(rs.blobs)
	var total treewalk.Size
	for _, inc := range includes {
		n, err := treewalk.Lookup(ctx, rs.blobs, rootTree, "/"+inc)
		if err != nil {
			return err
		}
		sz, err := rs.opts.Limits.Measure(ctx, sizes, "/"+inc, n.Subtrees...)
		if err != nil {
			return err
		}
		total = total.Plus(sz)
	}
	return rs.opts.Limits.Check(total)
}

// selected reports whether rel is wanted, and whether anything below it is.
func (rs *Restorer) selected(rel string) (self, below bool) {
	if len(rs.opts.Include) == 0 {
		return true, true
	}
	for _, inc := range rs.opts.Include {
		switch {
		case inc == "" || rel == inc || strings.HasPrefix(rel, inc+"/"):
			self = true
		case strings.HasPrefix(inc, rel+"/"):
			below = true
		}
	}
	return self, self || below
}

// walk restores the entries listed by the tree blobs of the directory at
// rs.path.
func (rs *Restorer) walk(ctx context.Context, ids ...blob.ID) error {
	for _, id := range ids {
		b, err := rs.blobs.LoadBlob(ctx, blob.Tree, id, nil)
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
		rs.addErr(fmt.Errorf("%.64s…: path of %d bytes: %w", rel, len(rel), unix.ENAMETOOLONG))
		return nil
	}
	return rs.entry(ctx, rs.path.String(), n)
}

// entry restores one item; it returns only errors that stop the restore.
func (rs *Restorer) entry(ctx context.Context, rel string, n *tree.Node) error {
	self, below := rs.selected(rel)
	if !self && !below {
		return nil
	}
	if n.Type == tree.Dir {
		if err := rs.root.Mkdir(rel, rs.opts.Overwrite); err != nil {
			rs.addErr(fmt.Errorf("%s: %w", rel, err))
			return nil
		}
		rs.dirs = append(rs.dirs, dirMeta{rel, n})
		rs.Stats.Dirs.Add(1)
		return rs.walk(ctx, n.Subtrees...)
	}
	if !self {
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
		select {
		case rs.jobs <- fileJob{rel, n}:
		case <-ctx.Done():
			return ctx.Err()
		}
	case tree.Symlink:
		rs.apply(rel, n, rs.root.Symlink(n.LinkTarget, rel, rs.opts.Overwrite))
	default:
		rs.apply(rel, n, rs.root.Mknod(rel, n, rs.opts.Overwrite))
	}
	return nil
}

// apply sets an item's metadata once it exists (err is its creation's
// outcome).
func (rs *Restorer) apply(rel string, n *tree.Node, err error) {
	if err != nil {
		rs.addErr(fmt.Errorf("%s: %w", rel, err))
		return
	}
	if n.Type != tree.File && n.Type != tree.Dir {
		rs.Stats.Others.Add(1)
	}
	ws, err := rs.root.Apply(rel, n, fsmeta.ApplyOptions{})
	rs.addWarnings(ws)
	if err != nil {
		rs.addErr(fmt.Errorf("%s: %w", rel, err))
	}
}

// finish makes hard links and sets directory metadata, children first. A
// link is made only to a file this restore wrote itself, never to whatever
// already stood at that path; the shared inode already has its metadata.
// When the group's first file could not be written, the link is restored
// as a file of its own.
func (rs *Restorer) finish(ctx context.Context) {
	for _, l := range rs.links {
		if !rs.created[l.target] {
			var err error
			_, err = rs.restoreFile(ctx, l.rel, l.node, nil)
			rs.apply(l.rel, l.node, err)
			continue
		}
		if err := rs.root.Link(l.target, l.rel, rs.opts.Overwrite); err != nil {
			rs.addErr(fmt.Errorf("%s: %w", l.rel, err))
			continue
		}
		rs.Stats.Files.Add(1)
	}
	for i := len(rs.dirs) - 1; i >= 0; i-- {
		rs.apply(rs.dirs[i].rel, rs.dirs[i].node, nil)
	}
}

// ErrNotInSnapshot is wrapped when an Include path names nothing.
var ErrNotInSnapshot = treewalk.ErrNotFound
