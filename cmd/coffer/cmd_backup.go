package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/coffer-backup/coffer/internal/account"
	"github.com/coffer-backup/coffer/internal/archiver"
	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/pattern"
	"github.com/coffer-backup/coffer/internal/snapshot"
)

type backupResult struct {
	Snapshot blob.ID          `json:"snapshot"`
	Parent   *blob.ID         `json:"parent,omitempty"`
	Summary  snapshot.Summary `json:"summary"`
	Warnings []string         `json:"warnings,omitempty"`
}

func runBackup(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usageError{"backup needs at least one PATH"}
	}
	for _, p := range args {
		if _, err := os.Lstat(p); err != nil {
			return fmt.Errorf("cannot back up %s: %w", p, err)
		}
	}
	var pats pattern.List
	for _, text := range e.o.excludes {
		p, err := pattern.Parse(text, pattern.Options{})
		if err != nil {
			return usageError{fmt.Sprintf("--exclude: %v", err)}
		}
		pats.Add(p)
	}
	tags, err := cleanTags(e.o.tags)
	if err != nil {
		return err
	}
	s, err := e.openRepo(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	sess, err := s.repo.StartSession(ctx, e.hostname())
	if err != nil {
		return err
	}
	defer func() {
		if err := sess.End(context.WithoutCancel(ctx)); err != nil {
			e.say("warning: %v (prune will treat it as stale after a day)", err)
		}
	}()
	if err := s.repo.LoadIndex(ctx); err != nil {
		return err
	}
	opts := archiver.Options{Filter: archiver.Filter{Patterns: pats}, Tags: tags, Hostname: e.hostname(), Version: version}
	if u, err := user.Current(); err == nil {
		opts.Username = u.Username
	}
	if opts.Parent, err = e.findParent(ctx, s, opts.Hostname, args); err != nil {
		return err
	}
	a := archiver.New(s.repo, opts)
	if e.interactive() {
		scanCtx, cancelScan := context.WithCancel(ctx)
		defer cancelScan()
		go a.Scan(scanCtx, args)
	}
	stop := e.startProgress(backupProgress(&a.Stats))
	res, err := a.Run(ctx, args)
	stop()
	if err != nil {
		return err
	}
	if err := s.record(ctx, res.Snapshot); err != nil {
		return err
	}
	for _, w := range res.Warnings {
		e.say("warning: %s", w)
	}
	out := backupResult{Snapshot: res.Snapshot, Summary: res.Summary}
	if opts.Parent != nil {
		out.Parent = &opts.Parent.ID
	}
	for _, w := range res.Warnings {
		out.Warnings = append(out.Warnings, w.Error())
	}
	if err := e.emit(out, func(w io.Writer) { printBackup(w, &out) }); err != nil {
		return err
	}
	if len(res.Warnings) > 0 {
		return partialError{len(res.Warnings)}
	}
	return nil
}

func printBackup(w io.Writer, r *backupResult) {
	s := r.Summary
	fmt.Fprintf(w, "snapshot %s saved\n", r.Snapshot.Short())
	fmt.Fprintf(w, "files: %d new, %d changed, %d unmodified\n", s.FilesNew, s.FilesChanged, s.FilesUnmodified)
	fmt.Fprintf(w, "dirs:  %d new, %d changed, %d unmodified\n", s.DirsNew, s.DirsChanged, s.DirsUnmodified)
	fmt.Fprintf(w, "read %s, added %s to the store in %.2fs\n", humanBytes(int64(s.BytesRead)), humanBytes(int64(s.BytesAdded)), s.Duration.Seconds())
}

func (e *env) hostname() string {
	if e.o.host != "" {
		return e.o.host
	}
	h, _ := os.Hostname()
	return h
}

// record records a new snapshot in the device chain, which this device
// then remembers, so that no store can later withhold it unnoticed.
func (s *session) record(ctx context.Context, id blob.ID) error {
	c, err := account.RecordSnapshot(ctx, s.store, s.chain, s.dev, id)
	if err != nil {
		return err
	}
	return s.setChain(c)
}

// findParent returns the snapshot to compare with: --parent, else the
// newest snapshot of the same host and paths that this device or another
// full device wrote (an append-only device's snapshot could claim any
// content for unchanged files); nil with --force.
func (e *env) findParent(ctx context.Context, s *session, host string, paths []string) (*snapshot.Stored, error) {
	if e.o.force {
		return nil, nil
	}
	snaps, err := e.snapshots(ctx, s)
	if err != nil {
		return nil, err
	}
	if e.o.parent != "" {
		p, err := snapshot.Find(snaps, e.o.parent)
		return &p, err
	}
	abs := make([]string, len(paths))
	for i, p := range paths {
		abs[i], _ = filepath.Abs(p)
	}
	slices.Sort(abs)
	for i := len(snaps) - 1; i >= 0; i-- {
		sp := slices.Clone(snaps[i].Paths)
		slices.Sort(sp)
		a := snaps[i].Author
		if snaps[i].Hostname == host && slices.Equal(sp, abs) && (!a.AppendOnly || a.Device == s.dev.ID) {
			return &snaps[i], nil
		}
	}
	return nil, nil
}

// cleanTags drops repeated tags and refuses ones a snapshot cannot hold,
// before any work is done.
func cleanTags(tags []string) ([]string, error) {
	var out []string
	for _, t := range tags {
		if t == "" || strings.ContainsAny(t, ",\n") || !utf8.ValidString(t) {
			return nil, usageError{fmt.Sprintf("--tag %q: a tag must be non-empty UTF-8 without commas or newlines", t)}
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}
