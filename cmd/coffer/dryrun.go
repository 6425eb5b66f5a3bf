package main

import (
	"context"
	"fmt"
	"io"

	"github.com/coffer-backup/coffer/internal/archiver"
	"github.com/coffer-backup/coffer/internal/termsafe"
	"github.com/coffer-backup/coffer/internal/tree"
)

// dryRunRow is one item a backup would store, as `backup --dry-run
// --json` prints it.
type dryRunRow struct {
	Path string `json:"path"`
	Type string `json:"type"`
	Size uint64 `json:"size"`
	Read bool   `json:"read"`
}

// dryRunTotals counts what a dry run listed.
type dryRunTotals struct {
	items, read, unchanged int
	bytes                  uint64
}

func (t *dryRunTotals) add(it archiver.Item) {
	t.items++
	switch {
	case it.Read:
		t.read++
		t.bytes += it.Node.Size
	case it.Node.Type == tree.File:
		t.unchanged++
	}
}

// dryRunBackup lists what a backup with opts would store and read. It
// opens no backup session and writes nothing to the store: it only reads
// the index and the parent snapshot. Items it cannot read are warnings,
// and make it return a partialError, as the backup would.
func (e *env) dryRunBackup(ctx context.Context, s *session, opts archiver.Options, args []string) error {
	if err := s.repo.LoadIndex(ctx); err != nil {
		return err
	}
	var err error
	if opts.Parent, err = e.findParent(ctx, s, opts.Hostname, args); err != nil {
		return err
	}
	var totals dryRunTotals
	enc := e.jsonLines()
	warnings, err := archiver.New(s.repo, opts).DryRun(ctx, args, func(it archiver.Item) error {
		totals.add(it)
		if enc != nil {
			return enc(dryRunRow{Path: it.Path, Type: it.Node.Type.String(), Size: it.Node.Size, Read: it.Read})
		}
		_, err := fmt.Fprintf(e.stdout, "%-9s %s\n", dryRunMark(it), termsafe.Name(it.Path))
		return err
	})
	for _, w := range warnings {
		e.say("warning: %s", w)
	}
	if err != nil {
		return err
	}
	if enc == nil {
		printDryRunTotals(e.stdout, totals)
	}
	if len(warnings) > 0 {
		return partialError{n: len(warnings), dryRun: true}
	}
	return nil
}

// dryRunMark is the first column of a dry run's listing: "read" or
// "unchanged" for a file, else the item's type.
func dryRunMark(it archiver.Item) string {
	switch {
	case it.Read:
		return "read"
	case it.Node.Type == tree.File:
		return "unchanged"
	}
	return it.Node.Type.String()
}

func printDryRunTotals(w io.Writer, t dryRunTotals) {
	fmt.Fprintf(w, "dry run: %d items; would read %d files (%s), %d unchanged; nothing was written\n",
		t.items, t.read, humanBytes(int64(t.bytes)), t.unchanged)
}
