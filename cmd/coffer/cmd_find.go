package main

import (
	"context"
	"fmt"

	"github.com/coffer-backup/coffer/internal/finder"
	"github.com/coffer-backup/coffer/internal/termsafe"
)

// runFind prints the items of the chosen snapshots whose names match any
// PATTERN: with --json one object per match, else one line each.
func runFind(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usageError{"usage: coffer find PATTERN... [--snapshot SNAP]... [--newest N]"}
	}
	m, err := finder.Compile(args)
	if err != nil {
		return usageError{err.Error()}
	}
	if e.o.newest < 0 {
		return usageError{fmt.Sprintf("--newest %d: must not be negative", e.o.newest)}
	}
	s, snaps, err := e.openSnapshots(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	snaps, err = finder.Select(snaps, e.o.snapshots, e.o.newest)
	if err == nil {
		err = s.repo.LoadIndex(ctx)
	}
	if err != nil {
		return err
	}
	return finder.Find(ctx, s.repo, snaps, m, e.printMatch())
}

// printMatch returns the function printing one match.
func (e *env) printMatch() func(finder.Match) error {
	if enc := e.jsonLines(); enc != nil {
		return func(f finder.Match) error { return enc(f) }
	}
	return func(f finder.Match) error {
		_, err := fmt.Fprintf(e.stdout, "%s  %s  %-7s  %12d  %s\n", f.Snapshot.Short(),
			f.MTime.Local().Format("2006-01-02 15:04:05"), f.Type, f.Size, termsafe.Name(f.Path))
		return err
	}
}
