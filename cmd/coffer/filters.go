package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/coffer-backup/coffer/internal/archiver"
	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/pattern"
	"github.com/coffer-backup/coffer/internal/restorer"
	"github.com/coffer-backup/coffer/internal/snapshot"
)

// ignoreFile is the per-directory ignore file a backup reads.
const ignoreFile = ".cofferignore"

// filterOpts are the flags of backup and restore that choose what to
// leave out, and restore's --overwrite.
type filterOpts struct {
	excludeArgs       []excludeArg // backup: --exclude, --iexclude, --exclude-file in order
	excludeCaches     bool
	excludeIfPresent  multi
	excludeLargerThan limitFlag
	overwrite         overwriteFlag
}

// excludeKind is the flag an exclusion came from.
type excludeKind string

const (
	excludeGlob  excludeKind = "exclude"
	excludeFold  excludeKind = "iexclude"
	excludeLines excludeKind = "exclude-file"
)

// excludeArg is one --exclude, --iexclude or --exclude-file as given.
type excludeArg struct {
	kind excludeKind
	text string
}

// excludeFlag appends to one list for all three flags, so that their
// order, which decides which pattern takes precedence, is kept.
type excludeFlag struct {
	list *[]excludeArg
	kind excludeKind
}

func (f excludeFlag) String() string { return "" }

func (f excludeFlag) Set(s string) error {
	*f.list = append(*f.list, excludeArg{f.kind, s})
	return nil
}

// limitFlag is a number of bytes that remembers whether it was given.
type limitFlag struct {
	n   int64
	set bool
}

func (l *limitFlag) String() string { return fmt.Sprint(l.n) }

func (l *limitFlag) Set(s string) error {
	var b byteSize
	if err := b.Set(s); err != nil {
		return err
	}
	l.n, l.set = int64(b), true
	return nil
}

// filterFlags registers backup's flags that choose what to leave out.
func filterFlags(fs *flag.FlagSet, o *opts) {
	fs.Var(excludeFlag{&o.excludeArgs, excludeGlob}, "exclude", "leave out items matching this gitignore pattern (repeatable)")
	fs.Var(excludeFlag{&o.excludeArgs, excludeFold}, "iexclude", "like --exclude, ignoring case (repeatable)")
	fs.Var(excludeFlag{&o.excludeArgs, excludeLines}, "exclude-file", "leave out items matching the patterns of this file, one per line as in .gitignore (repeatable)")
	fs.BoolVar(&o.excludeCaches, "exclude-caches", false, "leave out directories holding a valid CACHEDIR.TAG")
	fs.Var(&o.excludeIfPresent, "exclude-if-present", "leave out directories holding an entry of this name (repeatable)")
	fs.Var(&o.excludeLargerThan, "exclude-larger-than", "leave out files larger than this, e.g. 500M or 2GiB")
	fs.BoolVar(&o.oneDevice, "one-file-system", false, "do not cross into other file systems: record their mount points empty")
	fs.BoolVar(&o.dryRun, "dry-run", false, "list what would be backed up and read, and write nothing to the store")
}

// backupFilter returns what the flags leave out, refusing a malformed
// pattern or an unreadable exclude file before any work is done.
func (e *env) backupFilter() (archiver.Filter, error) {
	f := archiver.Filter{IgnoreFile: ignoreFile, ExcludeCaches: e.o.excludeCaches,
		IfPresent: e.o.excludeIfPresent, LargerThan: e.o.excludeLargerThan.n, OneFileSystem: e.o.oneDevice}
	for _, a := range e.o.excludeArgs {
		pats, err := a.patterns()
		if err != nil {
			return f, err
		}
		f.Patterns.Add(pats...)
	}
	for _, name := range f.IfPresent {
		if name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
			return f, usageError{fmt.Sprintf("--exclude-if-present %q: want the name of a directory entry", name)}
		}
	}
	if e.o.excludeLargerThan.set && f.LargerThan == 0 {
		return f, usageError{"--exclude-larger-than 0 would leave out every file that is not empty; give a size of at least 1"}
	}
	return f, nil
}

// patterns parses one exclusion flag's patterns.
func (a excludeArg) patterns() ([]*pattern.Pattern, error) {
	if a.kind != excludeLines {
		p, err := pattern.Parse(a.text, pattern.Options{FoldCase: a.kind == excludeFold})
		if err != nil {
			return nil, usageError{fmt.Sprintf("--%s: %v", a.kind, err)}
		}
		return []*pattern.Pattern{p}, nil
	}
	b, err := os.ReadFile(a.text)
	if err != nil {
		return nil, fmt.Errorf("--exclude-file: %w", err)
	}
	l, errs := pattern.ParseLines(string(b), pattern.Options{})
	if len(errs) > 0 {
		return nil, usageError{fmt.Sprintf("--exclude-file %s: %v", a.text, errs[0])}
	}
	return l.Patterns(), nil
}

// overwriteFlag is restore's --overwrite MODE.
type overwriteFlag struct{ mode restorer.Overwrite }

var overwriteModes = map[string]restorer.Overwrite{
	"always": restorer.OverwriteAlways, "if-changed": restorer.OverwriteIfChanged, "never": restorer.OverwriteNever,
}

func (f *overwriteFlag) String() string {
	for name, m := range overwriteModes {
		if m == f.mode {
			return name
		}
	}
	return ""
}

func (f *overwriteFlag) Set(s string) error {
	m, ok := overwriteModes[s]
	if !ok {
		return errors.New("want always, if-changed or never")
	}
	f.mode = m
	return nil
}

// restoreSelection parses restore's --include and --exclude patterns,
// refusing a malformed one before anything is read.
func (e *env) restoreSelection() (include, exclude pattern.List, err error) {
	for _, set := range []struct {
		flag  string
		texts []string
		list  *pattern.List
	}{{"include", e.o.includes, &include}, {"exclude", e.o.excludes, &exclude}} {
		for _, text := range set.texts {
			p, err := pattern.Parse(text, pattern.Options{})
			if err != nil {
				return include, exclude, usageError{fmt.Sprintf("--%s: %v", set.flag, err)}
			}
			set.list.Add(p)
		}
	}
	return include, exclude, nil
}

// restoreHint adds advice to a restore that failed on items already in
// the target, or on an include pattern that matches nothing.
func restoreHint(err error) error {
	var re *restorer.Error
	switch {
	case errors.As(err, &re) && re.Existing > 0:
		return withHint(err, fmt.Sprintf("the target already holds %d of these items: --overwrite always replaces them, --overwrite if-changed only those whose size or modification time differ, --overwrite never keeps them", re.Existing))
	case errors.Is(err, restorer.ErrNotInSnapshot), errors.Is(err, restorer.ErrNothingSelected):
		return withHint(err, "patterns match paths as 'coffer ls SNAP' prints them, from the snapshot's root; one without '/' (but at its end) matches names at any depth")
	}
	return err
}

func printRestore(w io.Writer, id blob.ID, r *restoreResult) {
	fmt.Fprintf(w, "restored snapshot %s to %s: %d files, %d directories, %d other items, %s",
		id.Short(), r.Target, r.Files, r.Dirs, r.Others, humanBytes(r.Bytes))
	if r.Kept > 0 {
		fmt.Fprintf(w, "; %d existing items kept", r.Kept)
	}
	fmt.Fprintln(w)
}

// withinFlag is forget --keep-within.
type withinFlag snapshot.Within

func (w *withinFlag) String() string { return snapshot.Within(*w).String() }
func (w *withinFlag) Set(s string) error {
	v, err := snapshot.ParseWithin(s)
	*w = withinFlag(v)
	return err
}

// keepTagFlag is forget --keep-tag: one tag a snapshot may carry.
type keepTagFlag []string

func (k *keepTagFlag) String() string { return strings.Join(*k, ",") }
func (k *keepTagFlag) Set(s string) error {
	if err := snapshot.CheckTag(s); err != nil {
		return errors.New("a tag is non-empty and has no comma (repeat --keep-tag to keep several)")
	}
	*k = append(*k, s)
	return nil
}

// groupByFlag is forget --group-by; unset, retention's default grouping
// applies.
type groupByFlag struct{ g **snapshot.GroupBy }

func (f groupByFlag) String() string {
	if f.g == nil || *f.g == nil {
		return ""
	}
	return (*f.g).String()
}
func (f groupByFlag) Set(s string) error {
	g, err := snapshot.ParseGroupBy(s)
	*f.g = &g
	return err
}
