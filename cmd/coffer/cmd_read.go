package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"time"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/restorer"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/termsafe"
	"github.com/coffer-backup/coffer/internal/tree"
	"github.com/coffer-backup/coffer/internal/treewalk"
)

type snapshotRow struct {
	ID       blob.ID           `json:"id"`
	Short    string            `json:"short_id"`
	Time     time.Time         `json:"time"`
	Hostname string            `json:"hostname"`
	Username string            `json:"username,omitempty"`
	Paths    []string          `json:"paths"`
	Tags     []string          `json:"tags,omitempty"`
	Tree     blob.ID           `json:"tree"`
	Summary  *snapshot.Summary `json:"summary,omitempty"`
	Author   authorRow         `json:"author"`
}

// authorRow is who wrote a snapshot, from its device chain entry.
type authorRow struct {
	Device string `json:"device"`
	Name   string `json:"name"`
	Rights string `json:"rights"`
	Entry  uint64 `json:"entry"`
}

func rowOf(s snapshot.Stored) snapshotRow {
	rights := "full"
	if s.Author.AppendOnly {
		rights = "append-only"
	}
	return snapshotRow{ID: s.ID, Short: s.ID.Short(), Time: s.Time, Hostname: s.Hostname, Username: s.Username,
		Paths: s.Paths, Tags: s.Tags, Tree: s.Tree, Summary: s.Summary,
		Author: authorRow{s.Author.Device, s.Author.Name, rights, s.Author.Entry}}
}

// deviceColumn shows who wrote a snapshot: the author's device name,
// marked when it has append-only rights.
func deviceColumn(r snapshotRow) string {
	d := termsafe.Name(r.Author.Name)
	if d == "" {
		d = r.Author.Device[:8]
	}
	if r.Author.Rights == "append-only" {
		d += " (append-only)"
	}
	return d
}

func runSnapshots(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 {
		return usageError{"snapshots takes no arguments"}
	}
	s, snaps, err := e.openSnapshots(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	rows := make([]snapshotRow, len(snaps))
	for i, sn := range snaps {
		rows[i] = rowOf(sn)
	}
	return e.emit(rows, func(w io.Writer) {
		fmt.Fprintf(w, "%-8s  %-19s  %-16s  %-16s  %-12s  %s\n", "ID", "Time", "Host", "Device", "Tags", "Paths")
		for _, r := range rows {
			fmt.Fprintf(w, "%-8s  %-19s  %-16s  %-16s  %-12s  %s\n", r.Short, r.Time.Local().Format("2006-01-02 15:04:05"),
				termsafe.Name(r.Hostname), deviceColumn(r), joinNames(r.Tags, ","), joinNames(r.Paths, " "))
		}
		fmt.Fprintf(w, "%d snapshots\n", len(rows))
	})
}

type lsRow struct {
	Path  string    `json:"path"`
	Type  string    `json:"type"`
	Size  uint64    `json:"size"`
	Mode  string    `json:"mode"`
	MTime time.Time `json:"mtime"`
	UID   uint32    `json:"uid"`
	GID   uint32    `json:"gid"`
	Link  string    `json:"link_target,omitempty"`
}

func runLs(ctx context.Context, e *env, args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return usageError{"usage: coffer ls SNAP [PATH]"}
	}
	prefix := "/"
	if len(args) == 2 {
		prefix = path.Clean("/" + args[1])
	}
	s, sn, err := e.openSnapshot(ctx, args[0])
	if err != nil {
		return err
	}
	defer s.Close()
	enc := e.jsonLines()
	err = treewalk.WalkAt(ctx, s.repo, treewalk.RootOf(sn), prefix, func(p string, n *tree.Node) error {
		row := lsRow{Path: p, Type: n.Type.String(), Size: n.Size, Mode: fmt.Sprintf("%04o", n.Mode),
			MTime: time.Unix(0, n.MTime), UID: n.UID, GID: n.GID, Link: string(n.LinkTarget)}
		if enc != nil {
			return enc(row)
		}
		_, err := fmt.Fprintln(e.stdout, termsafe.Name(p))
		return err
	})
	if errors.Is(err, treewalk.ErrNotFound) {
		err = fmt.Errorf("%s: no such path in snapshot %s", termsafe.Name(prefix), sn.ID.Short())
	}
	return err
}

// jsonLines returns, with --json, a function printing one JSON object per
// line (for listings too long to hold in memory); nil otherwise.
func (e *env) jsonLines() func(any) error {
	if !e.o.json {
		return nil
	}
	return func(v any) error { return e.emit(v, nil) }
}

func runDiff(ctx context.Context, e *env, args []string) error {
	if len(args) != 2 {
		return usageError{"usage: coffer diff SNAP SNAP"}
	}
	s, snaps, err := e.openSnapshots(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	a, err := e.find(snaps, args[0])
	if err != nil {
		return err
	}
	b, err := e.find(snaps, args[1])
	if err != nil {
		return err
	}
	if err := s.repo.LoadIndex(ctx); err != nil {
		return err
	}
	enc := e.jsonLines()
	marks := map[string]string{"added": "+", "removed": "-", "modified": "M"}
	return treewalk.Diff(ctx, s.repo, treewalk.RootOf(a), treewalk.RootOf(b), func(c treewalk.Change) error {
		if enc != nil {
			return enc(c)
		}
		_, err := fmt.Fprintf(e.stdout, "%s %s\n", marks[c.Kind], termsafe.Name(c.Path))
		return err
	})
}

type restoreResult struct {
	Snapshot blob.ID  `json:"snapshot"`
	Target   string   `json:"target"`
	Files    int64    `json:"files"`
	Dirs     int64    `json:"dirs"`
	Others   int64    `json:"others"`
	Bytes    int64    `json:"bytes"`
	Kept     int64    `json:"kept"`
	Warnings []string `json:"warnings,omitempty"`
}

func runRestore(ctx context.Context, e *env, args []string) error {
	if len(args) != 1 {
		return usageError{"usage: coffer restore SNAP --target DIR"}
	}
	if e.o.target == "" {
		return usageError{"restore needs --target DIR"}
	}
	include, exclude, err := e.restoreSelection()
	if err != nil {
		return err
	}
	s, sn, err := e.openSnapshot(ctx, args[0])
	if err != nil {
		return err
	}
	defer s.Close()
	rs := restorer.New(s.repo, restorer.Options{Target: e.o.target, Include: include, Exclude: exclude,
		Overwrite: e.o.overwrite.mode, Limits: treewalk.LimitsFor(sn), Verbose: e.restoreVerbose()})
	var total int64
	if sn.Summary != nil {
		total = int64(sn.Summary.TotalBytes)
	}
	stop := e.startProgress(restoreProgress(&rs.Stats, total))
	err = rs.Run(ctx, sn.Tree)
	stop()
	res := restoreResult{Snapshot: sn.ID, Target: e.o.target, Files: rs.Stats.Files.Load(), Dirs: rs.Stats.Dirs.Load(),
		Others: rs.Stats.Others.Load(), Bytes: rs.Stats.Bytes.Load(), Kept: rs.Stats.Kept.Load()}
	for _, w := range rs.Warnings() {
		res.Warnings = append(res.Warnings, w.Error())
		e.say("warning: %s", w)
	}
	if err != nil {
		return restoreHint(err)
	}
	return e.emit(res, func(w io.Writer) { printRestore(w, sn.ID, &res) })
}
