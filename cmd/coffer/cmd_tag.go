package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/coffer-backup/coffer/internal/account"
	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/termsafe"
)

// tagSetFlag is tag --set: given at all, it replaces the tags; an empty
// value adds none, so that an empty --set removes them all.
type tagSetFlag struct {
	given bool
	tags  []string
}

func (t *tagSetFlag) String() string { return strings.Join(t.tags, ",") }
func (t *tagSetFlag) Set(s string) error {
	t.given = true
	if s != "" {
		t.tags = append(t.tags, s)
	}
	return nil
}

type tagResult struct {
	Changed   []retagRow `json:"changed"`
	Unchanged []blob.ID  `json:"unchanged"`
}

type retagRow struct {
	Old  blob.ID  `json:"old"`
	New  blob.ID  `json:"new"`
	Tags []string `json:"tags"`
}

func runTag(ctx context.Context, e *env, args []string) error {
	change := snapshot.TagChange{Replace: e.o.tagSet.given, Set: e.o.tagSet.tags, Add: e.o.tagAdd, Remove: e.o.tagRemove}
	if len(args) == 0 {
		return usageError{"tag needs at least one SNAP"}
	}
	if err := change.Check(); err != nil {
		return usageError{err.Error()}
	}
	s, snaps, err := e.openSnapshots(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	chosen, err := e.findAll(snaps, args)
	if err != nil {
		return err
	}
	done, c, err := account.Retag(ctx, s.repo, s.chain, s.dev, chosen, change)
	if c != s.chain {
		if serr := s.setChain(c); err == nil {
			err = serr
		}
	}
	if errors.Is(err, devices.ErrNoRight) {
		err = withHint(err, "only a full device can change tags, and only of snapshots a full device wrote; nothing was changed")
	}
	if err != nil {
		return err
	}
	return e.emit(tagRows(chosen, done), func(w io.Writer) { printTags(w, tagRows(chosen, done)) })
}

// findAll resolves each reference, once per snapshot.
func (e *env) findAll(snaps []snapshot.Stored, refs []string) ([]snapshot.Stored, error) {
	var out []snapshot.Stored
	for _, ref := range refs {
		sn, err := e.find(snaps, ref)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(out, func(o snapshot.Stored) bool { return o.ID == sn.ID }) {
			out = append(out, sn)
		}
	}
	return out, nil
}

func tagRows(chosen []snapshot.Stored, done []account.Retagged) tagResult {
	res := tagResult{Changed: []retagRow{}, Unchanged: []blob.ID{}}
	for _, d := range done {
		res.Changed = append(res.Changed, retagRow{Old: d.Old, New: d.New, Tags: append([]string{}, d.Tags...)})
	}
	for _, s := range chosen {
		if !slices.ContainsFunc(done, func(d account.Retagged) bool { return d.Old == s.ID }) {
			res.Unchanged = append(res.Unchanged, s.ID)
		}
	}
	return res
}

func printTags(w io.Writer, r tagResult) {
	for _, c := range r.Changed {
		tags := make([]string, len(c.Tags))
		for i, t := range c.Tags {
			tags[i] = termsafe.Name(t)
		}
		fmt.Fprintf(w, "snapshot %s is now %s, tags: %s\n", c.Old.Short(), c.New.Short(), strings.Join(tags, ", "))
	}
	for _, id := range r.Unchanged {
		fmt.Fprintf(w, "snapshot %s unchanged\n", id.Short())
	}
}
