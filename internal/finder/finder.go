// Package finder finds the items of snapshots whose names match glob
// patterns (coffer find). Every snapshot is walked with treewalk.Walk, so
// each is measured first and one whose shared trees would expand past its
// budget is refused before anything of it is reported.
package finder

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/tree"
	"github.com/coffer-backup/coffer/internal/treewalk"
)

// pattern is one glob and what it is matched against.
type pattern struct {
	glob string
	// names is 0 for a glob matched against base names (it has no '/'),
	// -1 for one matched against whole paths (it starts with '/'), else
	// the number of names it has, matched against as many last names of a
	// path.
	names int
}

// Matcher matches paths against any of a list of globs.
type Matcher struct{ patterns []pattern }

// Compile returns a Matcher of globs in path.Match syntax ('*', '?', '[...]'
// and '\' escapes; '*' never matches '/'). A glob without '/' is matched
// against an item's base name; one starting with '/' against its whole
// path; any other one with '/' against the last names of the path, as
// many as it has, so "docs/*.md" matches /home/ann/docs/a.md. A trailing
// '/' is ignored. It fails on a malformed glob or an empty list.
func Compile(globs []string) (*Matcher, error) {
	if len(globs) == 0 {
		return nil, fmt.Errorf("no pattern given")
	}
	m := &Matcher{}
	for _, g := range globs {
		if _, err := path.Match(g, ""); err != nil || g == "" {
			return nil, fmt.Errorf("pattern %q: %w", g, cmpErr(err))
		}
		p := pattern{glob: g}
		if len(g) > 1 {
			p.glob = strings.TrimSuffix(g, "/")
		}
		switch {
		case strings.HasPrefix(p.glob, "/"):
			p.names = -1
		case strings.Contains(p.glob, "/"):
			p.names = strings.Count(p.glob, "/") + 1
		}
		m.patterns = append(m.patterns, p)
	}
	return m, nil
}

func cmpErr(err error) error {
	if err == nil {
		return fmt.Errorf("empty pattern")
	}
	return err
}

// Match reports whether the item at p, a '/'-separated path starting with
// '/', matches any of the globs.
func (m *Matcher) Match(p string) bool {
	for _, pt := range m.patterns {
		if ok, _ := path.Match(pt.glob, subject(p, pt.names)); ok {
			return true
		}
	}
	return false
}

// subject returns what a glob of names names is matched against: the base
// name for 0, the whole path for -1, else the last names of p ("" if p has
// fewer).
func subject(p string, names int) string {
	switch names {
	case 0:
		return p[strings.LastIndexByte(p, '/')+1:]
	case -1:
		return p
	}
	i := len(p)
	for range names {
		i = strings.LastIndexByte(p[:i], '/')
		if i < 0 {
			return ""
		}
	}
	return p[i+1:]
}

// Match is one item found.
type Match struct {
	Snapshot blob.ID   `json:"snapshot"`
	Path     string    `json:"path"`
	Type     string    `json:"type"`
	Size     uint64    `json:"size"`
	MTime    time.Time `json:"mtime"`
}

// Find calls fn for every item of each snapshot, in order, whose path m
// matches, walking the snapshot with treewalk.Walk: it stops at the first
// error, which for a snapshot over its budget wraps treewalk.ErrBudget.
func Find(ctx context.Context, l treewalk.Loader, snaps []snapshot.Stored, m *Matcher, fn func(Match) error) error {
	for _, sn := range snaps {
		err := treewalk.Walk(ctx, l, treewalk.RootOf(sn), func(p string, n *tree.Node) error {
			if !m.Match(p) {
				return nil
			}
			return fn(Match{Snapshot: sn.ID, Path: p, Type: n.Type.String(), Size: n.Size, MTime: time.Unix(0, n.MTime)})
		})
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", sn.ID.Short(), err)
		}
	}
	return nil
}

// Select returns the snapshots to search, oldest first: those refs name
// (each "latest" or an ID prefix, as snapshot.Find resolves them), or all
// of snaps if refs is empty; then, if newest is positive, only the newest
// of them.
func Select(snaps []snapshot.Stored, refs []string, newest int) ([]snapshot.Stored, error) {
	if newest < 0 {
		return nil, fmt.Errorf("--newest %d: must not be negative", newest)
	}
	out := slices.Clone(snaps)
	if len(refs) > 0 {
		out = out[:0:0]
		for _, ref := range refs {
			sn, err := snapshot.Find(snaps, ref)
			if err != nil {
				return nil, err
			}
			if !slices.ContainsFunc(out, func(s snapshot.Stored) bool { return s.ID == sn.ID }) {
				out = append(out, sn)
			}
		}
	}
	snapshot.Sort(out)
	if newest > 0 && len(out) > newest {
		out = out[len(out)-newest:]
	}
	return out, nil
}
