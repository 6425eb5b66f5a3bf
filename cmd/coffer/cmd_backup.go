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
	"github.com/coffer-backup/coffer/internal/compress"
	"github.com/coffer-backup/coffer/internal/snapshot"
)

type backupResult struct {
	Snapshot blob.ID          `json:"snapshot"`
	Parent   *blob.ID         `json:"parent,omitempty"`
	Summary  snapshot.Summary `json:"summary"`
	Warnings []string         `json:"warnings,omitempty"`
}

func runBackup(ctx context.Context, e *env, args []string) error {
	opts, err := e.backupOptions(args)
	if err != nil {
		return err
	}
	level, err := compress.ParseLevel(e.o.compression)
	if err != nil {
		return usageError{"--compression: " + err.Error()}
	}
	s, err := e.openRepo(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	s.repo.SetCompression(level)
	if e.o.dryRun {
		return e.dryRunBackup(ctx, s, opts, args)
	}
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
	return e.reportBackup(res, opts.Parent)
}

// backupOptions checks the paths and flags of a backup, before any work
// is done, and returns the archiver's options without the parent.
func (e *env) backupOptions(args []string) (archiver.Options, error) {
	if len(args) == 0 {
		return archiver.Options{}, usageError{"backup needs at least one PATH"}
	}
	for _, p := range args {
		if _, err := os.Lstat(p); err != nil {
			return archiver.Options{}, fmt.Errorf("cannot back up %s: %w", p, err)
		}
	}
	f, err := e.backupFilter()
	if err != nil {
		return archiver.Options{}, err
	}
	tags, err := cleanTags(e.o.tags)
	if err != nil {
		return archiver.Options{}, err
	}
	opts := archiver.Options{Filter: f, Tags: tags, Hostname: e.hostname(), Version: version, Verbose: e.backupVerbose()}
	if u, err := user.Current(); err == nil {
		opts.Username = u.Username
	}
	return opts, nil
}

// reportBackup prints a backup's warnings and result; it returns a
// partialError if items were left out.
func (e *env) reportBackup(res *archiver.Result, parent *snapshot.Stored) error {
	for _, w := range res.Warnings {
		e.say("warning: %s", w)
	}
	out := backupResult{Snapshot: res.Snapshot, Summary: res.Summary}
	if parent != nil {
		out.Parent = &parent.ID
	}
	for _, w := range res.Warnings {
		out.Warnings = append(out.Warnings, w.Error())
	}
	if err := e.emit(out, func(w io.Writer) { printBackup(w, &out) }); err != nil {
		return err
	}
	if len(res.Warnings) > 0 {
		return partialError{n: len(res.Warnings)}
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
	if e.o.parent != "" {
		snaps, err := e.snapshots(ctx, s)
		if err != nil {
			return nil, err
		}
		p, err := snapshot.Find(snaps, e.o.parent)
		return &p, err
	}
	abs := make([]string, len(paths))
	for i, p := range paths {
		abs[i], _ = filepath.Abs(p)
	}
	slices.Sort(abs)
	match := func(sn snapshot.Stored) bool {
		sp := slices.Clone(sn.Paths)
		slices.Sort(sp)
		a := sn.Author
		return sn.Hostname == host && slices.Equal(sp, abs) && (!a.AppendOnly || a.Device == s.dev.ID)
	}
	snaps, err := e.snapshotsUntil(ctx, s, match)
	if err != nil {
		return nil, err
	}
	for i := len(snaps) - 1; i >= 0; i-- {
		if match(snaps[i]) {
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
