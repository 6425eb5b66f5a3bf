// Package archiver backs up file-system trees into a repository: it walks
// the paths, reads and chunks files in parallel with bounded memory, stores
// new blobs and directory trees, and records a snapshot. Files unchanged
// since the parent snapshot are not read again.
package archiver

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/fsmeta"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/termsafe"
	"github.com/coffer-backup/coffer/internal/tree"
)

// Options tune a backup.
type Options struct {
	Filter   Filter // what to leave out; the snapshot records its patterns' texts
	Tags     []string
	Hostname string
	Username string
	Parent   *snapshot.Stored // files unchanged since this snapshot are not read
	Workers  int              // file readers; default one per CPU, at least two
	Walkers  int              // directory listers besides the caller; default one per CPU
	Version  string           // program version recorded in the snapshot
	// Verbose, if set, is told of each regular file Run stores, by its
	// absolute path: FileNew or FileChanged once it was read, FileUnmodified
	// when its content is taken from the parent unread. It is called from
	// several goroutines at once.
	Verbose func(path string, what FileEvent)
}

// FileEvent is what Run did with one regular file (Options.Verbose).
type FileEvent string

// The events of Options.Verbose.
const (
	FileNew        FileEvent = "new"       // not in the parent: read
	FileChanged    FileEvent = "changed"   // in the parent with other metadata: read
	FileUnmodified FileEvent = "unchanged" // as in the parent: not read
)

// note tells Options.Verbose, if set, of an event.
func (a *Archiver) note(path string, what FileEvent) {
	if a.opts.Verbose != nil {
		a.opts.Verbose(path, what)
	}
}

// Stats counts what a backup did; its fields are updated atomically while
// the backup runs, so a progress display can read them.
type Stats struct {
	FilesNew, FilesChanged, FilesUnmodified atomic.Int64
	DirsNew, DirsChanged, DirsUnmodified    atomic.Int64
	BytesRead, BytesAdded, BlobsAdded       atomic.Int64
	BytesSkipped                            atomic.Int64 // size of unmodified files, not read
	BytesHoles                              atomic.Int64 // holes of sparse files, not read
	TotalFiles, TotalBytes                  atomic.Int64 // files in the snapshot and their size
	BytesTotal                              atomic.Int64 // estimate from Scan, if it runs
}

// Result is the outcome of a backup that completed.
type Result struct {
	Snapshot blob.ID
	Summary  snapshot.Summary
	// Warnings lists items that could not be read and were left out. A
	// snapshot is still written; the caller reports a partial backup.
	Warnings []error
}

// Archiver runs one backup.
type Archiver struct {
	r     *repo.Repo
	opts  Options
	Stats Stats

	jobs   chan fileJob
	wg     sync.WaitGroup
	cancel context.CancelCauseFunc

	walkers chan struct{}  // a token per directory walker running besides the caller
	walking sync.WaitGroup // those walkers

	warnMu   sync.Mutex
	warnings []error
}

// New returns an Archiver writing to r.
func New(r *repo.Repo, opts Options) *Archiver {
	if opts.Workers <= 0 {
		// Each reader holds a chunker buffer (8 MiB) and a compressor's
		// history (up to 4 MiB): one per CPU keeps the CPUs busy, and a
		// first backup's peak memory under 150 MiB on two.
		opts.Workers = max(2, runtime.GOMAXPROCS(0))
	}
	if opts.Walkers <= 0 {
		opts.Walkers = runtime.GOMAXPROCS(0)
	}
	return &Archiver{r: r, opts: opts, walkers: make(chan struct{}, opts.Walkers)}
}

func (a *Archiver) warn(err error) {
	a.warnMu.Lock()
	defer a.warnMu.Unlock()
	a.warnings = append(a.warnings, err)
}

// fail stops the backup with a fatal error.
func (a *Archiver) fail(err error) { a.cancel(err) }

// Run backs up paths and writes a snapshot.
func (a *Archiver) Run(ctx context.Context, paths []string) (*Result, error) {
	start := time.Now()
	abs, err := absPaths(paths)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	a.cancel = cancel
	root, err := a.walkRoots(ctx, abs)
	if err != nil {
		return nil, err
	}
	if err := a.r.Flush(ctx); err != nil {
		return nil, err
	}
	sn := &snapshot.Snapshot{
		Time: start, Hostname: a.opts.Hostname, Username: a.opts.Username,
		Paths: abs, Tags: a.opts.Tags, Excludes: patternTexts(a.opts.Filter.Patterns), Tree: root,
		ProgramVersion: a.opts.Version,
	}
	if a.opts.Parent != nil {
		p := a.opts.Parent.ID
		sn.Parent = &p
	}
	sum := a.summary(time.Since(start))
	sn.Summary = &sum
	id, err := a.r.SaveSnapshot(ctx, sn)
	if err != nil {
		return nil, err
	}
	return &Result{Snapshot: id, Summary: sum, Warnings: a.warnings}, nil
}

func (a *Archiver) summary(d time.Duration) snapshot.Summary {
	s := &a.Stats
	u := func(v *atomic.Int64) uint64 { return uint64(v.Load()) }
	return snapshot.Summary{
		FilesNew: u(&s.FilesNew), FilesChanged: u(&s.FilesChanged), FilesUnmodified: u(&s.FilesUnmodified),
		DirsNew: u(&s.DirsNew), DirsChanged: u(&s.DirsChanged), DirsUnmodified: u(&s.DirsUnmodified),
		BytesRead: u(&s.BytesRead), BytesAdded: u(&s.BytesAdded), Duration: d,
		TotalFiles: u(&s.TotalFiles), TotalBytes: u(&s.TotalBytes),
	}
}

func absPaths(paths []string) ([]string, error) {
	if len(paths) == 0 {
		return nil, errors.New("no path to back up")
	}
	out := make([]string, len(paths))
	names := map[string]string{}
	for i, p := range paths {
		ap, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		base := filepath.Base(ap)
		if !tree.ValidName([]byte(base)) {
			return nil, fmt.Errorf("%s: back up the directories inside it instead", ap)
		}
		if other, dup := names[base]; dup {
			return nil, fmt.Errorf("%s and %s would both be stored as %q in the snapshot; back them up separately", other, ap, base)
		}
		names[base] = ap
		out[i] = ap
	}
	return out, nil
}

// walkRoots backs up every path and stores the snapshot's root tree, whose
// entries are the paths' base names.
func (a *Archiver) walkRoots(ctx context.Context, paths []string) (blob.ID, error) {
	a.jobs = make(chan fileJob, 4*a.opts.Workers)
	for range a.opts.Workers {
		a.wg.Add(1)
		go a.fileWorker(ctx)
	}
	parent, err := a.parentRoot(ctx)
	if err != nil {
		return blob.ID{}, err
	}
	done := make(chan []*tree.Node, 1)
	top := &dirState{children: make([]*tree.Node, len(paths)), onDone: func(nodes []*tree.Node) { done <- nodes }}
	top.pending.Store(int64(len(paths)) + 1)
	for i, p := range paths {
		n, skipped, err := fsmeta.StatWarn(p)
		if err != nil {
			a.walking.Wait()
			close(a.jobs)
			a.wg.Wait()
			return blob.ID{}, fmt.Errorf("%s: %w", p, err)
		}
		for _, w := range skipped {
			a.warn(fmt.Errorf("%s: %w", termsafe.Name(p), w))
		}
		n.Name = []byte(filepath.Base(p))
		a.visit(ctx, top, i, nil, nil, p, n, parent[string(n.Name)])
	}
	a.childDone(ctx, top, -1, nil)
	a.walking.Wait()
	close(a.jobs)
	a.wg.Wait()
	var nodes []*tree.Node
	select {
	case nodes = <-done:
	case <-ctx.Done():
	}
	if err := context.Cause(ctx); err != nil {
		return blob.ID{}, err
	}
	t := &tree.Tree{Nodes: compact(nodes)}
	t.Sort()
	ids, err := a.saveTrees(ctx, t.Nodes)
	if err != nil {
		return blob.ID{}, err
	}
	if len(ids) != 1 {
		return blob.ID{}, fmt.Errorf("too many paths for one snapshot")
	}
	return ids[0], nil
}

func compact(nodes []*tree.Node) []*tree.Node {
	out := nodes[:0]
	for _, n := range nodes {
		if n != nil {
			out = append(out, n)
		}
	}
	return out
}

// visit handles one entry of scope sc (nil for a backed-up path):
// directories are walked, files queued for reading (relative to from, the
// directory holding them, if not nil), anything else recorded as it is.
func (a *Archiver) visit(ctx context.Context, d *dirState, slot int, sc *scope, from *sharedDir, path string, n *tree.Node, old *tree.Node) {
	switch n.Type {
	case tree.Dir:
		a.walkDirAsync(ctx, d, slot, sc, path, n, old)
	case tree.File:
		if old != nil && a.reusable(old, n) {
			n.Content = old.Content
			a.Stats.FilesUnmodified.Add(1)
			a.Stats.BytesSkipped.Add(int64(n.Size))
			a.note(path, FileUnmodified)
			a.childDone(ctx, d, slot, n)
			return
		}
		a.queue(ctx, fileJob{path: path, name: string(n.Name), from: from, node: n, dir: d, slot: slot, changed: old != nil})
	default:
		a.childDone(ctx, d, slot, n)
	}
}

// queue hands j to a file worker, holding j.from open until the worker
// has opened the file.
func (a *Archiver) queue(ctx context.Context, j fileJob) {
	j.from.hold()
	select {
	case a.jobs <- j:
	case <-ctx.Done():
		j.from.release()
		a.childDone(ctx, j.dir, j.slot, nil)
	}
}

// walkDirAsync walks a directory on a walker of its own if one is free,
// otherwise here. A directory's entries complete in any order (dirState),
// so walking directories in parallel changes no tree, only the order in
// which files are read: listing and stating entries, a backup's work when
// little has changed, then uses every CPU.
func (a *Archiver) walkDirAsync(ctx context.Context, d *dirState, slot int, sc *scope, path string, n, old *tree.Node) {
	select {
	case a.walkers <- struct{}{}:
	default:
		a.walkDir(ctx, d, slot, sc, path, n, old)
		return
	}
	a.walking.Add(1)
	go func() {
		defer a.walking.Done()
		defer func() { <-a.walkers }()
		a.walkDir(ctx, d, slot, sc, path, n, old)
	}()
}

// reusable reports whether a file's content may be taken from the parent
// snapshot without reading it: same metadata and every blob still indexed.
func (a *Archiver) reusable(old, cur *tree.Node) bool {
	if old.Type != tree.File || !fsmeta.Unchanged(old, cur) {
		return false
	}
	for _, e := range old.Content {
		if !e.IsHole() && !a.r.Index.Has(e.ID) {
			return false
		}
	}
	return true
}
