package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/coffer-backup/coffer/internal/account"
	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/checker"
	"github.com/coffer-backup/coffer/internal/pruner"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/stats"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/termsafe"
)

func runCheck(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 {
		return usageError{"check takes no arguments"}
	}
	s, err := e.openRepo(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	rep, err := checker.Check(ctx, s.repo, e.o.readData)
	if err != nil {
		return err
	}
	if err := checkHistory(ctx, s, rep); err != nil {
		return err
	}
	if err := e.emit(rep, func(w io.Writer) {
		fmt.Fprintf(w, "checked %s, %s, %s, %s", plural(rep.Snapshots, "snapshot"), plural(rep.Trees, "tree"), plural(rep.Packs, "pack"), plural(rep.Blobs, "blob"))
		if e.o.readData {
			fmt.Fprintf(w, "; read %d packs", rep.ReadPacks)
		}
		fmt.Fprintln(w)
		for _, n := range rep.Notes {
			fmt.Fprintf(w, "note: %s\n", termsafe.Text(n))
		}
		if len(rep.Errors) == 0 {
			fmt.Fprintln(w, "no errors found")
		}
	}); err != nil {
		return err
	}
	for _, m := range rep.Errors {
		e.say("problem: %s", m)
	}
	if len(rep.Errors) > 0 {
		hint := "nothing was changed; restore what you can with 'coffer restore' and report the problems"
		if len(rep.BadCopies) > 0 {
			hint = "nothing was changed; 'coffer repair' on a full device rebuilds the index from the copies that authenticate"
		}
		return withHint(fmt.Errorf("check found %s", plural(len(rep.Errors), "problem")), hint)
	}
	return nil
}

type forgetResult struct {
	Keep   []keptRow      `json:"keep"`
	Remove []blob.ID      `json:"remove"`
	Prune  *pruner.Result `json:"prune,omitempty"`
	DryRun bool           `json:"dry_run"`
}

type keptRow struct {
	ID      blob.ID  `json:"id"`
	Reasons []string `json:"reasons"`
}

func runForget(ctx context.Context, e *env, args []string) error {
	if (len(args) > 0) == !e.o.keep.Empty() {
		return usageError{"forget needs snapshot IDs or a policy (at least one of --keep-last/--keep-hourly/--keep-daily/--keep-weekly/--keep-monthly/--keep-yearly N, --keep-within SPAN, --keep-tag T), not both"}
	}
	s, err := e.openRepo(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	h, err := e.history(ctx, s)
	if err != nil {
		return err
	}
	res := forgetResult{DryRun: e.o.dryRun, Keep: []keptRow{}, Remove: []blob.ID{}}
	if len(args) > 0 {
		res.Remove, err = named(h, args)
	} else if err = h.MissingError(s.chain); err == nil {
		res.Keep, res.Remove = byPolicy(e.o.filter.Select(h.Snapshots), e.o.keep)
	}
	if err != nil {
		return err
	}
	if !e.o.dryRun {
		if err := s.forget(ctx, h, res.Remove); err != nil {
			return err
		}
	}
	if e.o.prune {
		opts := pruner.Options{DryRun: e.o.dryRun, IgnoreSessions: e.o.ignoreSessions}
		if e.o.dryRun {
			opts.Forgotten = res.Remove // not deleted, but prune must plan as if they were
		}
		if res.Prune, err = pruner.Prune(ctx, s.repo, opts); err != nil {
			return err
		}
	}
	return e.emit(res, func(w io.Writer) {
		for _, k := range res.Keep {
			fmt.Fprintf(w, "keep   %s  %s\n", k.ID.Short(), joinNames(k.Reasons, ", "))
		}
		verb := "removed"
		if e.o.dryRun {
			verb = "would remove"
		}
		for _, id := range res.Remove {
			fmt.Fprintf(w, "%s %s\n", verb, id.Short())
		}
		if res.Prune != nil {
			printPrune(w, res.Prune)
		}
	})
}

func runPrune(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 {
		return usageError{"prune takes no arguments"}
	}
	s, err := e.openRepo(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := pruner.Prune(ctx, s.repo, pruner.Options{DryRun: e.o.dryRun, IgnoreSessions: e.o.ignoreSessions})
	if err != nil {
		return err
	}
	return e.emit(res, func(w io.Writer) { printPrune(w, res) })
}

func printPrune(w io.Writer, r *pruner.Result) {
	fmt.Fprintf(w, "prune: deleted %d packs (%s), repacked %d, %d packs planned for deletion",
		r.DeletedPacks, humanBytes(r.BytesFreed), r.RepackedPacks, r.PlannedPacks)
	if len(r.Pending) > 0 {
		fmt.Fprintf(w, "; %d plans wait for backups in progress", len(r.Pending))
	}
	fmt.Fprintln(w)
	for _, s := range r.WaitingFor {
		fmt.Fprintf(w, "waiting for backup session %s on %s, started %s, last seen %s (if it was killed: prune --ignore-session %.8s)\n",
			s.ID, termsafe.Name(s.Host), s.Start.Local().Format(time.DateTime), s.Refreshed.Local().Format(time.DateTime), s.ID)
	}
}

func runStats(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 {
		return usageError{"stats takes no arguments"}
	}
	s, err := e.openRepo(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	st, err := stats.Compute(ctx, s.repo)
	if err != nil {
		return err
	}
	return e.emit(st, func(w io.Writer) {
		fmt.Fprintf(w, "snapshots:          %d\n", st.Snapshots)
		fmt.Fprintf(w, "files (latest):     %d, %s\n", st.LatestFiles, humanBytes(st.LatestBytes))
		fmt.Fprintf(w, "unique blobs:       %d (%s before compression)\n", st.Blobs, humanBytes(st.RawBytes))
		fmt.Fprintf(w, "stored:             %s in %d packs\n", humanBytes(st.StoredBytes), st.Packs)
		if st.RawBytes > 0 {
			fmt.Fprintf(w, "compression:        %.1f%% of original\n", 100*float64(st.StoredBytes)/float64(st.RawBytes))
		}
	})
}

// plural formats a count with its noun, in the plural unless it is one.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// forget records in the device chain that this device forgets ids, then
// deletes them and the objects of snapshots the chain forgot before (left
// by an interrupted forget, or brought back by the store).
func (s *session) forget(ctx context.Context, h *account.History, ids []blob.ID) error {
	if len(ids) > 0 {
		c, err := account.Forget(ctx, s.repo, s.chain, s.dev, ids)
		if err != nil {
			return err
		}
		if err := s.setChain(c); err != nil {
			return err
		}
	}
	for id := range h.Forgotten {
		if err := s.repo.DeleteSnapshot(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// checkHistory adds to rep what the device chain says of the store's
// snapshots (docs/format.md §8.4): each recorded snapshot the store lacks
// is an error, each snapshot object the chain does not record a note.
func checkHistory(ctx context.Context, s *session, rep *checker.Report) error {
	h, err := account.ReadHistory(ctx, s.repo, s.chain)
	if err != nil {
		return err
	}
	for _, m := range h.Missing {
		rep.Errors = append(rep.Errors, fmt.Sprintf("snapshot %s, recorded by device %s in device chain entry %d, is missing from the store",
			blob.ID(m.ID).Short(), m.Author, m.Seq))
	}
	for _, id := range h.Ignored {
		why := "the device chain does not record it"
		if seq, ok := h.Forgotten[id]; ok {
			why = fmt.Sprintf("device chain entry %d forgot it", seq)
		}
		rep.Notes = append(rep.Notes, fmt.Sprintf("snapshot object %s is ignored: %s", id.Short(), why))
	}
	return nil
}

// byPolicy applies a retention policy (docs/format.md §8.1).
func byPolicy(snaps []snapshot.Stored, p snapshot.Policy) (keep []keptRow, remove []blob.ID) {
	kept, removed := snapshot.Apply(snaps, p)
	keep = []keptRow{}
	for _, k := range kept {
		keep = append(keep, keptRow{k.ID, k.Reasons})
	}
	remove = []blob.ID{}
	for _, r := range removed {
		remove = append(remove, r.ID)
	}
	return keep, remove
}

// named resolves the snapshots a user names, by ID prefix or latest,
// among those the chain records, present or missing: forgetting a
// snapshot the store lost is how a user accepts the loss.
func named(h *account.History, refs []string) ([]blob.ID, error) {
	all := slices.Clone(h.Snapshots)
	for _, m := range h.Missing {
		all = append(all, snapshot.Stored{ID: blob.ID(m.ID), Snapshot: &snapshot.Snapshot{Time: m.Time}})
	}
	var ids []blob.ID
	for _, ref := range refs {
		sn, err := snapshot.Find(all, ref)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(ids, sn.ID) {
			ids = append(ids, sn.ID)
		}
	}
	return ids, nil
}
