package snapshot

import (
	"slices"
	"strings"
)

// Filter selects snapshots as restic's --host, --tag and --path do
// (docs/cli.md): a snapshot passes if its hostname is one of Hosts, it
// carries every tag of at least one of TagSets (each a comma-separated
// list), and its paths include every one of Paths. An empty field selects
// everything.
type Filter struct {
	Hosts, TagSets, Paths []string
}

// Empty reports whether f selects every snapshot.
func (f Filter) Empty() bool { return len(f.Hosts)+len(f.TagSets)+len(f.Paths) == 0 }

// Match reports whether s passes f.
func (f Filter) Match(s *Snapshot) bool {
	return (len(f.Hosts) == 0 || slices.Contains(f.Hosts, s.Hostname)) &&
		f.matchTags(s.Tags) && f.matchPaths(s.Paths)
}

func (f Filter) matchTags(tags []string) bool {
	if len(f.TagSets) == 0 {
		return true
	}
	return slices.ContainsFunc(f.TagSets, func(set string) bool {
		for _, t := range strings.Split(set, ",") {
			if !slices.Contains(tags, t) {
				return false
			}
		}
		return true
	})
}

func (f Filter) matchPaths(paths []string) bool {
	for _, p := range f.Paths {
		if !slices.Contains(paths, p) {
			return false
		}
	}
	return true
}

// Select returns the snapshots of snaps that pass f, in their order.
func (f Filter) Select(snaps []Stored) []Stored {
	if f.Empty() {
		return snaps
	}
	var out []Stored
	for _, s := range snaps {
		if f.Match(s.Snapshot) {
			out = append(out, s)
		}
	}
	return out
}
