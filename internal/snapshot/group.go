package snapshot

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// GroupBy chooses what retention groups snapshots by (docs/format.md §8.1,
// "Retention"). Whatever it says, an append-only device's snapshots are
// always a group of their own: they can never push out, nor be counted
// with, another device's.
type GroupBy struct {
	Host, Paths, Tags, Device bool
}

// DefaultGroupBy groups by author device, hostname and set of paths.
var DefaultGroupBy = GroupBy{Host: true, Paths: true, Device: true}

// ErrGroupBy is wrapped by every error of ParseGroupBy.
var ErrGroupBy = errors.New("group by a comma-separated list of host, paths, tags and device, or nothing")

// ParseGroupBy parses a comma-separated list of "host", "paths", "tags"
// and "device"; the empty string groups by nothing (but append-only
// authors, as always).
func ParseGroupBy(s string) (GroupBy, error) {
	var g GroupBy
	if s == "" {
		return g, nil
	}
	for _, f := range strings.Split(s, ",") {
		switch f {
		case "host":
			g.Host = true
		case "paths":
			g.Paths = true
		case "tags":
			g.Tags = true
		case "device":
			g.Device = true
		default:
			return GroupBy{}, fmt.Errorf("group %q: %w", f, ErrGroupBy)
		}
	}
	return g, nil
}

// String lists what g groups by, as ParseGroupBy reads it.
func (g GroupBy) String() string {
	var parts []string
	for _, p := range []struct {
		on   bool
		name string
	}{{g.Host, "host"}, {g.Paths, "paths"}, {g.Tags, "tags"}, {g.Device, "device"}} {
		if p.on {
			parts = append(parts, p.name)
		}
	}
	return strings.Join(parts, ",")
}

// key identifies s's group under g. The author is part of it when g
// groups by device, and always when the author had append-only rights,
// which the device chain authenticates (docs/format.md §8.4).
func (g GroupBy) key(s Stored) string {
	var parts []string
	if g.Device || s.Author.AppendOnly {
		parts = append(parts, "device="+s.Author.Device)
	}
	if s.Author.AppendOnly { // apart from what the same device wrote with full rights
		parts = append(parts, "append-only")
	}
	if g.Host {
		parts = append(parts, "host="+s.Hostname)
	}
	if g.Paths {
		parts = append(parts, "paths="+sortedJoin(s.Paths))
	}
	if g.Tags {
		parts = append(parts, "tags="+sortedJoin(s.Tags))
	}
	return strings.Join(parts, "\x00")
}

func sortedJoin(l []string) string {
	l = slices.Clone(l)
	slices.Sort(l)
	return strings.Join(l, "\x01")
}
