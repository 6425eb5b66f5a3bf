package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/coffer-backup/coffer/internal/blob"
)

// Stored is a snapshot together with the name of the object that holds it
// and, when read through the account's device chain, its author.
type Stored struct {
	ID blob.ID
	*Snapshot
	Author Author
}

// Author is the device that wrote a snapshot, as the device chain's
// snapshot entry records it (docs/format.md §8.4): authenticated by that
// device's signature, unlike everything inside the snapshot. Its zero
// value means the snapshot was read without the chain.
type Author struct {
	Device     string // DeviceID
	Name       string // the device's name in the chain
	AppendOnly bool   // the device had append-only rights
	Entry      uint64 // the chain entry that records the snapshot
}

// Errors Find returns, wrapped with the reference that failed.
var (
	ErrNotFound  = errors.New("no such snapshot")
	ErrAmbiguous = errors.New("ambiguous snapshot ID prefix")
)

// Latest is the reference Find resolves to the newest snapshot.
const Latest = "latest"

// Find resolves a user's reference to one snapshot: "latest" names the
// newest (by Time, then by ID, as Sort orders them) that a device with full
// rights wrote, so that a snapshot an append-only device dates in the
// future never becomes what "latest" restores; anything else must be a
// prefix, 1 to 64 hexadecimal digits in either case, of exactly one
// snapshot's ID. snaps must hold distinct IDs.
func Find(snaps []Stored, ref string) (Stored, error) {
	if ref == Latest {
		return latest(snaps)
	}
	return findPrefix(snaps, ref)
}

// FindOf is Find among snapshots the user chose by their author device:
// "latest" is the newest of them, whatever its author's rights, since the
// user named that device.
func FindOf(snaps []Stored, ref string) (Stored, error) {
	if ref == Latest {
		if len(snaps) == 0 {
			return Stored{}, fmt.Errorf("%s: the device has no snapshots: %w", Latest, ErrNotFound)
		}
		return slices.MaxFunc(snaps, compare), nil
	}
	return findPrefix(snaps, ref)
}

// findPrefix resolves an ID prefix.
func findPrefix(snaps []Stored, ref string) (Stored, error) {
	prefix := strings.ToLower(ref)
	if len(prefix) == 0 || len(prefix) > 2*blob.IDSize || strings.Trim(prefix, "0123456789abcdef") != "" {
		return Stored{}, fmt.Errorf("%q is neither %q nor a hexadecimal snapshot ID prefix: %w", ref, Latest, ErrNotFound)
	}
	var found []Stored
	for _, s := range snaps {
		if strings.HasPrefix(s.ID.String(), prefix) {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 0:
		return Stored{}, fmt.Errorf("no snapshot ID starts with %q: %w", ref, ErrNotFound)
	case 1:
		return found[0], nil
	}
	return Stored{}, fmt.Errorf("%d snapshot IDs start with %q; give more digits: %w", len(found), ref, ErrAmbiguous)
}

// latest returns the newest snapshot not written by an append-only device.
func latest(snaps []Stored) (Stored, error) {
	full := slices.DeleteFunc(slices.Clone(snaps), func(s Stored) bool { return s.Author.AppendOnly })
	switch {
	case len(full) > 0:
		return slices.MaxFunc(full, compare), nil
	case len(snaps) > 0:
		return Stored{}, fmt.Errorf("%s: only append-only devices wrote snapshots here; name one by its ID: %w", Latest, ErrNotFound)
	}
	return Stored{}, fmt.Errorf("%s: the repository has no snapshots: %w", Latest, ErrNotFound)
}

// Sort orders snapshots oldest first: by Time, then by ID, so that the
// order is the same everywhere whatever order they were listed in.
func Sort(snaps []Stored) { slices.SortFunc(snaps, compare) }

func compare(a, b Stored) int {
	if c := a.Time.Compare(b.Time); c != 0 {
		return c
	}
	return bytes.Compare(a.ID[:], b.ID[:])
}
