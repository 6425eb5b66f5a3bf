package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/coffer-backup/coffer/internal/archiver"
	"github.com/coffer-backup/coffer/internal/pattern"
)

// ignoreFile is the per-directory ignore file a backup reads.
const ignoreFile = ".cofferignore"

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
	fs.BoolVar(&o.oneFileSystem, "one-file-system", false, "do not cross into other file systems: record their mount points empty")
	fs.BoolVar(&o.dryRun, "dry-run", false, "list what would be backed up and read, and write nothing to the store")
}

// backupFilter returns what the flags leave out, refusing a malformed
// pattern or an unreadable exclude file before any work is done.
func (e *env) backupFilter() (archiver.Filter, error) {
	f := archiver.Filter{IgnoreFile: ignoreFile, ExcludeCaches: e.o.excludeCaches,
		IfPresent: e.o.excludeIfPresent, LargerThan: e.o.excludeLargerThan.n, OneFileSystem: e.o.oneFileSystem}
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
