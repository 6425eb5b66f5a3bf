package archiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sync/atomic"

	"github.com/coffer-backup/coffer/internal/fsmeta"
	"github.com/coffer-backup/coffer/internal/pattern"
	"github.com/coffer-backup/coffer/internal/termsafe"
	"github.com/coffer-backup/coffer/internal/tree"
)

// Filter chooses what a backup leaves out, besides items it cannot read.
// The backed-up paths themselves are never left out; everything inside an
// item left out is left out too.
type Filter struct {
	// Patterns are matched against each item's path relative to the
	// backed-up path it lies under, and those beginning with '/' also
	// against its absolute path (pattern.List.MatchRooted). They take
	// precedence over ignore files.
	Patterns pattern.List
	// IgnoreFile names the per-directory ignore file (".cofferignore"):
	// its lines, in gitignore syntax, are matched against paths relative
	// to its directory, below it, a deeper file taking precedence over a
	// shallower one. "" reads none.
	IgnoreFile string
	// ExcludeCaches leaves out directories holding a CACHEDIR.TAG file
	// that starts with the signature of the Cache Directory Tagging
	// Specification.
	ExcludeCaches bool
	// IfPresent leaves out directories holding an entry of one of these
	// names.
	IfPresent []string
	// LargerThan leaves out regular files of more bytes; 0 is no limit.
	LargerThan int64
	// OneFileSystem records a directory on another file system than its
	// backed-up path (a mount point) as empty, and leaves out other items
	// there.
	OneFileSystem bool
}

// cacheTag is the file, and cacheSignature how it starts, that marks a
// cache directory (https://bford.info/cachedir/).
const (
	cacheTag       = "CACHEDIR.TAG"
	cacheSignature = "Signature: 8a477f597d28d172789f06886806bc55"
)

// maxIgnoreFile bounds the size of an ignore file.
const maxIgnoreFile = 1 << 20

// scope is what applies to the entries of one directory being walked.
type scope struct {
	root    string // the backed-up path the directory lies under
	rel     string // the directory, relative to root ("" for root)
	dev     uint64 // root's device
	ignores []ignoreLayer
}

// ignoreLayer is one ignore file's patterns and the directory they apply
// below, relative to the scope's root.
type ignoreLayer struct {
	base string
	list pattern.List
}

// child returns the scope of the entries of directory name, captured as
// n; a nil sc stands above a backed-up path, abs.
func (sc *scope) child(name, abs string, n *tree.Node) *scope {
	if sc == nil {
		return &scope{root: abs, dev: n.Device}
	}
	return &scope{root: sc.root, rel: sc.relOf(name), dev: sc.dev, ignores: slices.Clip(sc.ignores)}
}

// relOf returns the path of entry name relative to the scope's root.
func (sc *scope) relOf(name string) string {
	if sc.rel == "" {
		return name
	}
	return sc.rel + "/" + name
}

// excluded reports whether the patterns of the ignore files and of the
// filter leave out the entry name of scope sc, at abs, taken as a
// directory if isDir: the last pattern that matches is not negated.
func (a *Archiver) excluded(sc *scope, name, abs string, isDir bool) bool {
	if len(sc.ignores) == 0 && a.opts.Filter.Patterns.Len() == 0 {
		return false
	}
	rel := sc.relOf(name)
	v := pattern.NoMatch
	for _, l := range sc.ignores {
		below := rel
		if l.base != "" {
			below = rel[len(l.base)+1:]
		}
		if w := l.list.Match(below, isDir); w != pattern.NoMatch {
			v = w
		}
	}
	if w := a.opts.Filter.Patterns.MatchRooted(rel, abs, isDir); w != pattern.NoMatch {
		v = w
	}
	return v == pattern.Matched
}

// entry captures the entry name of the directory dir, in scope sc, unless
// the filter leaves it out; it warns about an entry it cannot capture. An
// entry excluded whatever its type is not even looked at. old, the entry
// in the parent snapshot if any, lends its extended attributes while the
// file's status change time and identity are unchanged (fsmeta.Dir.StatSince).
func (a *Archiver) entry(sc *scope, d *fsmeta.Dir, dir, name string, old *tree.Node, warn func(error)) (*tree.Node, bool) {
	p := joinName(dir, name)
	if a.excluded(sc, name, p, false) && a.excluded(sc, name, p, true) || !validName(p, name, warn) {
		return nil, false
	}
	n, skipped, err := d.StatSince(name, old)
	if err != nil {
		warn(fmt.Errorf("%s: %w", termsafe.Name(p), err))
		return nil, false
	}
	if a.leftOut(sc, name, p, n) {
		return nil, false
	}
	warnAll(p, skipped, warn)
	return n, true
}

// toOpen reports whether the entry name of the directory dir, in scope sc,
// listed as a regular file, is to be opened and captured by a file worker
// (fileJob.capture): the filter keeps it as a file and its name is valid.
func (a *Archiver) toOpen(sc *scope, dir, name string, warn func(error)) bool {
	p := joinName(dir, name)
	return !a.excluded(sc, name, p, false) && validName(p, name, warn)
}

// validName reports whether the name of the entry at p fits the format,
// and warns if not.
func validName(p, name string, warn func(error)) bool {
	if !tree.ValidName([]byte(name)) { // over 255 bytes (docs/format.md §5.2)
		warn(fmt.Errorf("%s: name of %d bytes, longer than the %d the format allows: skipped", termsafe.Name(p), len(name), tree.MaxNameLen))
		return false
	}
	return true
}

// warnAll warns of what capturing the entry at p could not record, such
// as Windows' alternate data streams.
func warnAll(p string, skipped []error, warn func(error)) {
	for _, w := range skipped {
		warn(fmt.Errorf("%s: %w", termsafe.Name(p), w))
	}
}

// leftOut reports whether the filter leaves out the entry name of scope
// sc, at abs, captured as n, by its patterns, size or file system.
func (a *Archiver) leftOut(sc *scope, name, abs string, n *tree.Node) bool {
	return a.excluded(sc, name, abs, n.Type == tree.Dir) || a.filtered(sc, n)
}

// filtered reports whether the filter leaves out the entry n of scope sc
// by its size or file system.
func (a *Archiver) filtered(sc *scope, n *tree.Node) bool {
	f := &a.opts.Filter
	if f.LargerThan > 0 && n.Type == tree.File && n.Size > uint64(f.LargerThan) {
		return true
	}
	return f.OneFileSystem && n.Type != tree.Dir && n.Device != sc.dev
}

// listedDir is a directory a backup keeps, open to capture its entries.
type listedDir struct {
	inner *scope     // the scope of its entries
	dir   *sharedDir // nil for a directory on another file system
	names []string
}

// sharedDir is a listed directory's handle, held open while its walker
// lists it and while any of its files waits in a fileJob to be opened
// relative to it, and closed by whoever releases it last. A walker
// releases its hold before it descends (walkDir), so the directories open
// at once are bounded by the walkers and the jobs queued, not by depth.
type sharedDir struct {
	*fsmeta.Dir
	refs atomic.Int32
}

// hold adds a hold on d; a nil d is never closed.
func (d *sharedDir) hold() {
	if d != nil {
		d.refs.Add(1)
	}
}

// release drops a hold on d, closing it with the last.
func (d *sharedDir) release() {
	if d != nil && d.refs.Add(-1) == 0 {
		_ = d.Close() // read only: nothing to lose
	}
}

// openDir lists the directory abs, entry name of scope sc (nil for a
// backed-up path), captured as n. It returns it open, or keep false if
// the directory is left out: it cannot be listed (with a warning), or
// holds a cache tag or an IfPresent entry. A directory on another file
// system is kept, with no entries. The caller releases l.dir.
func (a *Archiver) openDir(sc *scope, name, abs string, n *tree.Node, warn func(error)) (l listedDir, keep bool) {
	l.inner = sc.child(name, abs, n)
	if sc != nil && a.opts.Filter.OneFileSystem && n.Device != l.inner.dev {
		return l, true
	}
	d, names, err := fsmeta.OpenDir(abs)
	if err != nil {
		warn(fmt.Errorf("%s: %w", termsafe.Name(abs), err))
		return l, false
	}
	if a.marked(abs, names) {
		_ = d.Close() // read only: nothing to lose
		return l, false
	}
	a.readIgnoreFile(l.inner, abs, names, warn)
	l.dir, l.names = &sharedDir{Dir: d}, names
	l.dir.refs.Store(1)
	return l, true
}

// entries captures the entries of l that the filter keeps, by the index
// of their names (nil for one left out). With mayOpen, an entry new since
// the parent snapshot that the directory lists as a regular file is not
// captured here but marked in opens: a file worker opens it and captures
// it from the open file (fsmeta.CaptureFile), which saves a first backup a
// system call and a path lookup per file. olds[i] is the entry of
// l.names[i] in the parent snapshot, if any (alignOld).
func (a *Archiver) entries(ctx context.Context, l listedDir, abs string, olds []*tree.Node, mayOpen bool, warn func(error)) (nodes []*tree.Node, opens []bool) {
	nodes, opens = make([]*tree.Node, len(l.names)), make([]bool, len(l.names))
	for i, name := range l.names {
		switch {
		case ctx.Err() != nil:
			return nodes, opens
		case mayOpen && olds[i] == nil && l.dir.Regular(i):
			opens[i] = a.toOpen(l.inner, abs, name, warn)
		default:
			nodes[i], _ = a.entry(l.inner, l.dir.Dir, abs, name, olds[i], warn)
		}
	}
	return nodes, opens
}

// marked reports whether a directory, holding names, is left out for an
// IfPresent entry or a valid cache tag.
func (a *Archiver) marked(dir string, names []string) bool {
	f := &a.opts.Filter
	for _, m := range f.IfPresent {
		if _, ok := slices.BinarySearch(names, m); ok {
			return true
		}
	}
	if _, ok := slices.BinarySearch(names, cacheTag); !ok || !f.ExcludeCaches {
		return false
	}
	b, err := readSmall(filepath.Join(dir, cacheTag), len(cacheSignature))
	return err == nil && string(b) == cacheSignature
}

// readIgnoreFile adds the patterns of the directory's ignore file, if it
// has one, to its scope. A line it cannot parse, or a file it cannot read,
// is a warning; the other lines apply.
func (a *Archiver) readIgnoreFile(sc *scope, dir string, names []string, warn func(error)) {
	name := a.opts.Filter.IgnoreFile
	if _, ok := slices.BinarySearch(names, name); name == "" || !ok {
		return
	}
	p := filepath.Join(dir, name)
	b, err := readSmall(p, maxIgnoreFile+1)
	if err == nil && len(b) > maxIgnoreFile {
		err = fmt.Errorf("larger than %d bytes", maxIgnoreFile)
	}
	if err != nil {
		warn(fmt.Errorf("%s: %w: not applied", termsafe.Name(p), err))
		return
	}
	list, errs := pattern.ParseLines(string(b), pattern.Options{})
	for _, err := range errs {
		warn(fmt.Errorf("%s: %w: line not applied", termsafe.Name(p), err))
	}
	sc.ignores = append(sc.ignores, ignoreLayer{base: sc.rel, list: list})
}

var (
	errNotRegular = errors.New("not a regular file")
	errSymlink    = errors.New("a symbolic link, not followed")
)

// readSmall reads at most max bytes from the start of the regular file
// at path, without following a symbolic link or blocking on a fifo.
func readSmall(path string, max int) ([]byte, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	of, err := statOpened(f)
	if err != nil {
		return nil, err
	}
	if !of.regular {
		return nil, errNotRegular
	}
	return io.ReadAll(io.NewSectionReader(f, 0, int64(max)))
}

// patternTexts returns the texts of the patterns, as given, for the
// snapshot to record.
func patternTexts(l pattern.List) []string {
	var out []string
	for _, p := range l.Patterns() {
		out = append(out, p.String())
	}
	return out
}
