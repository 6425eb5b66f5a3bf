package main

import (
	"context"
	"fmt"
	"io"

	"github.com/coffer-backup/coffer/internal/repairer"
)

// runRepair rebuilds the index from the copies that authenticate
// (internal/repairer). It fails, after printing its result, if a snapshot
// needs a blob of which no authentic copy is left.
func runRepair(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 {
		return usageError{"repair takes no arguments"}
	}
	s, err := e.openRepo(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := repairer.Repair(ctx, s.repo, repairer.Options{DryRun: e.o.dryRun})
	if err != nil {
		return err
	}
	if err := e.emit(res, func(w io.Writer) { printRepair(w, res) }); err != nil {
		return err
	}
	if res.DeleteRefused != "" {
		fmt.Fprintf(e.stderr, "coffer: warning: the store refused to delete what the new index replaces (%s); run 'coffer repair' on a full device to finish\n", res.DeleteRefused)
	}
	if len(res.Lost) > 0 {
		return withHint(fmt.Errorf("snapshots need %s of which no authentic copy is left (listed above)", plural(len(res.Lost), "item")), "restore what you can; the rest is gone from this store")
	}
	return nil
}

func printRepair(w io.Writer, r *repairer.Result) {
	fmt.Fprintf(w, "read %s: %d copies authenticate, %d do not\n", plural(r.Packs, "pack"), r.Copies, len(r.BadCopies))
	for _, c := range r.BadCopies {
		fmt.Fprintf(w, "bad copy: %s\n", c)
	}
	for _, d := range r.DamagedIndex {
		fmt.Fprintf(w, "damaged index: %s\n", d)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "problem: %s\n", p)
	}
	switch {
	case r.WrittenIndex == 0:
		fmt.Fprintln(w, "nothing to repair in the index")
	case r.DryRun:
		fmt.Fprintf(w, "would write %s replacing %s, and delete %s\n",
			plural(r.WrittenIndex, "index object"), plural(len(r.ReplacedIndex), "index object"), plural(len(r.BadPacks), "pack"))
	default:
		fmt.Fprintf(w, "wrote %s; deleted %s of %d and %s of %d\n", plural(r.WrittenIndex, "index object"),
			plural(r.DeletedIndex, "index object"), len(r.ReplacedIndex), plural(r.DeletedPacks, "pack"), len(r.BadPacks))
	}
	for _, l := range r.Lost {
		fmt.Fprintf(w, "lost: snapshot %s %s: %s blob %s\n", l.Snapshot.Short(), l.Path, l.Type, l.Blob.Short())
	}
}
