//go:build linux || darwin

package fusefs

import (
	"fmt"
	"slices"
	"time"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/tree"
)

// vdir is a directory the mount adds around the snapshots: its
// subdirectories, symbolic links (name to target) and snapshot roots.
type vdir struct {
	dirs  map[string]*vdir
	links map[string]string
	snaps map[string]*snapshot.Stored
}

func newVdir() *vdir {
	return &vdir{dirs: map[string]*vdir{}, links: map[string]string{}, snaps: map[string]*snapshot.Stored{}}
}

// dir returns the subdirectory called name, adding it if missing.
func (d *vdir) dir(name string) *vdir {
	if d.dirs[name] == nil {
		d.dirs[name] = newVdir()
	}
	return d.dirs[name]
}

// minIDLen is the shortest snapshot directory name, as short IDs print.
const minIDLen = 8

// timeLayout names snapshots in hosts/ and tags/ by their time in the
// local zone, with its offset, so that names sort by time within a zone.
const timeLayout = "2006-01-02T15:04:05Z07:00"

// layout builds the mount's tree around snaps:
//
//	snapshots/ID/...      each snapshot's items, ID its shortest unique prefix of at least 8 digits
//	snapshots/latest      -> ID of the snapshot "latest" names (snapshot.Find)
//	hosts/HOST/TIME       -> ../../snapshots/ID, for each snapshot of HOST
//	hosts/HOST/latest     -> TIME of the latest of them
//	tags/TAG/TIME, tags/TAG/latest likewise
//
// TIME is the snapshot's time (timeLayout), followed by "-ID" for
// snapshots of one directory that share it. A host or tag that cannot be
// a file name (empty, "." or "..", with '/', longer than 255 bytes) has no
// directory: layout returns an error naming it, and its snapshots are in
// snapshots/ only.
func layout(snaps []snapshot.Stored) (*vdir, []error) {
	root := newVdir()
	ids := root.dir("snapshots")
	names := idNames(snaps)
	for i := range snaps {
		ids.snaps[names[snaps[i].ID]] = &snaps[i]
	}
	if l, err := snapshot.Find(snaps, snapshot.Latest); err == nil {
		ids.links[snapshot.Latest] = names[l.ID]
	}
	errs := group(root.dir("hosts"), snaps, names, "host", func(s snapshot.Stored) []string { return []string{s.Hostname} })
	errs = append(errs, group(root.dir("tags"), snaps, names, "tag", func(s snapshot.Stored) []string { return s.Tags })...)
	return root, errs
}

// idNames names each snapshot by the shortest prefix of its ID, at least
// minIDLen digits, that no other snapshot's ID shares.
func idNames(snaps []snapshot.Stored) map[blob.ID]string {
	n := minIDLen
	for ; n < 2*blob.IDSize; n++ {
		seen := make(map[string]bool, len(snaps))
		for _, s := range snaps {
			seen[s.ID.String()[:n]] = true
		}
		if len(seen) == len(snaps) {
			break
		}
	}
	names := make(map[blob.ID]string, len(snaps))
	for _, s := range snaps {
		names[s.ID] = s.ID.String()[:n]
	}
	return names
}

// group adds to parent a directory for each key (host or tag) of the
// snapshots, linking to the snapshots that have it.
func group(parent *vdir, snaps []snapshot.Stored, names map[blob.ID]string, what string, keys func(snapshot.Stored) []string) []error {
	members := map[string][]snapshot.Stored{}
	var errs []error
	for _, s := range snaps {
		for _, k := range keys(s) {
			if !tree.ValidName([]byte(k)) {
				errs = append(errs, fmt.Errorf("snapshot %s: %s %q cannot be a file name; the snapshot is only under snapshots/", s.ID.Short(), what, k))
				continue
			}
			members[k] = append(members[k], s)
		}
	}
	for k, list := range members {
		d := parent.dir(k)
		times := timeNames(list, names)
		for _, s := range list {
			d.links[times[s.ID]] = "../../snapshots/" + names[s.ID]
		}
		if l, err := snapshot.Find(list, snapshot.Latest); err == nil {
			d.links[snapshot.Latest] = times[l.ID]
		}
	}
	return errs
}

// timeNames names each snapshot of one directory by its time, adding
// "-ID" to the names of snapshots that share a time.
func timeNames(list []snapshot.Stored, names map[blob.ID]string) map[blob.ID]string {
	count := map[string]int{}
	for _, s := range list {
		count[timeName(s.Time)]++
	}
	out := make(map[blob.ID]string, len(list))
	for _, s := range list {
		t := timeName(s.Time)
		if count[t] > 1 {
			t += "-" + names[s.ID]
		}
		out[s.ID] = t
	}
	return out
}

func timeName(t time.Time) string { return t.Local().Format(timeLayout) }

// sortedNames returns the keys of m in order.
func sortedNames[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
