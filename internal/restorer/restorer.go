// Package restorer writes a snapshot, or part of it, back to the file
// system with its metadata. It never writes outside the target directory,
// whatever names the snapshot holds, and never replaces existing files
// unless asked to.
package restorer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/fsmeta"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/termsafe"
	"github.com/coffer-backup/coffer/internal/tree"
	"github.com/coffer-backup/coffer/internal/treewalk"
)

// Options tune a restore.
type Options struct {
	Target    string
	Include   []string // snapshot paths ('/'-separated, relative to the snapshot root) to restore; all if empty
	Overwrite bool     // replace existing files instead of failing on them
	Workers   int
}

// Restores read packs in aligned windows of readWindow bytes and keep the
// last readWindows of them (docs/format.md §10).
const (
	readWindow  = 4 << 20
	readWindows = 8
)

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

	mu       sync.Mutex
	errs     []error
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
	rs.errs = append(rs.errs, err)
}

func (rs *Restorer) addWarnings(ws []error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.warnings = append(rs.warnings, ws...)
}

// Warnings returns metadata that could not be restored (for example
// ownership when not running as root).
func (rs *Restorer) Warnings() []error { return rs.warnings }

// Run restores the tree rooted at rootTree into the target.
func (rs *Restorer) Run(ctx context.Context, rootTree blob.ID) error {
	blobs, err := rs.r.NewWindowReader(ctx, readWindow, readWindows)
	if err != nil {
		return err
	}
	rs.blobs = blobs
	if err := rs.checkIncludes(ctx, rootTree); err != nil {
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
	walkErr := rs.walk(ctx, "", rootTree)
	close(rs.jobs)
	rs.wg.Wait()
	if walkErr != nil {
		return walkErr
	}
	rs.finish(ctx)
	if n := len(rs.errs); n > 0 {
		if n == 1 {
			return rs.errs[0]
		}
		return fmt.Errorf("%d items could not be restored; first: %w", n, rs.errs[0])
	}
	return nil
}

// checkIncludes fails, before anything is written, if an Include path names
// nothing in the snapshot.
func (rs *Restorer) checkIncludes(ctx context.Context, rootTree blob.ID) error {
	for _, inc := range rs.opts.Include {
		ids := []blob.ID{rootTree}
		for _, name := range strings.Split(inc, "/") {
			if inc == "" {
				break
			}
			nodes, err := treewalk.Entries(ctx, rs.blobs, ids)
			if err != nil {
				return err
			}
			i := slices.IndexFunc(nodes, func(n *tree.Node) bool { return string(n.Name) == name })
			if i < 0 {
				return fmt.Errorf("%s: %w", termsafe.Name("/"+inc), ErrNotInSnapshot)
			}
			ids = nodes[i].Subtrees
		}
	}
	return nil
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

// walk restores the entries listed by the tree blobs of one directory.
func (rs *Restorer) walk(ctx context.Context, dir string, ids ...blob.ID) error {
	for _, id := range ids {
		b, err := rs.blobs.LoadBlob(ctx, blob.Tree, id, nil)
		if err != nil {
			return fmt.Errorf("directory %q: %w", "/"+dir, err)
		}
		t, err := tree.Decode(b)
		if err != nil {
			return fmt.Errorf("directory %q: tree %s: %w", "/"+dir, id.Short(), err)
		}
		for _, n := range t.Nodes {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := rs.entry(ctx, path.Join(dir, string(n.Name)), n); err != nil {
				return err
			}
		}
	}
	return nil
}

// entry restores one item; it returns only errors that stop the restore.
func (rs *Restorer) entry(ctx context.Context, rel string, n *tree.Node) error {
	self, below := rs.selected(rel)
	if !self && !below {
		return nil
	}
	if n.Type == tree.Dir {
		if err := rs.root.Mkdir(rel, rs.opts.Overwrite); err != nil {
			rs.addErr(fmt.Errorf("%s: %w", termsafe.Name(rel), err))
			return nil
		}
		rs.dirs = append(rs.dirs, dirMeta{rel, n})
		rs.Stats.Dirs.Add(1)
		return rs.walk(ctx, rel, n.Subtrees...)
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
		rs.addErr(fmt.Errorf("%s: %w", termsafe.Name(rel), err))
		return
	}
	if n.Type != tree.File && n.Type != tree.Dir {
		rs.Stats.Others.Add(1)
	}
	ws, err := rs.root.Apply(rel, n, fsmeta.ApplyOptions{})
	rs.addWarnings(ws)
	if err != nil {
		rs.addErr(fmt.Errorf("%s: %w", termsafe.Name(rel), err))
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
			rs.addErr(fmt.Errorf("%s: %w", termsafe.Name(l.rel), err))
			continue
		}
		rs.Stats.Files.Add(1)
	}
	for i := len(rs.dirs) - 1; i >= 0; i-- {
		rs.apply(rs.dirs[i].rel, rs.dirs[i].node, nil)
	}
}

// ErrNotInSnapshot is wrapped when an Include path names nothing.
var ErrNotInSnapshot = errors.New("no such path in the snapshot")
