package treewalk

import (
	"cmp"
	"errors"
	"fmt"
	"math"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/snapshot"
)

// Tree blobs are content-addressed, so one tree may be listed under many
// directories and a snapshot's trees form a graph whose walk can visit far
// more items than it stores: forty small trees, each listing two
// directories that share the tree below, make 2^41 items. Every walk here
// therefore first measures what it will visit, counting each distinct tree
// once (Sizes), and refuses a snapshot that exceeds its Limits before
// visiting anything (docs/format.md §5.6).
const (
	// MaxDepth bounds how deeply directories nest. Paths of 2048 names
	// take at least 4096 bytes, more than Linux's PATH_MAX lets a backup
	// read or a restore create, so no honest snapshot reaches it.
	MaxDepth = 2048

	MaxEntries = 1 << 30 // items one walk may visit, whatever a snapshot declares
	MaxBytes   = 1 << 40 // tree-blob bytes one walk may load, likewise
	MinEntries = 1 << 20 // items allowed whatever a snapshot's summary says
	MinBytes   = 1 << 30 // tree-blob bytes likewise

	budgetFactor  = 4    // margin over a summary's totals
	bytesPerEntry = 1024 // tree bytes allowed per declared item
	bytesPerByte  = 64   // file content bytes per allowed tree byte (extent lists)
)

// ErrBudget is wrapped by the error of a walk that would exceed its limits.
var ErrBudget = errors.New("tree walk exceeds budget")

// Limits bound one walk of one snapshot. A zero field stands for its
// absolute cap (MaxEntries, MaxBytes).
type Limits struct {
	Snapshot string // named in errors; may be empty
	Entries  uint64 // items visited, every occurrence of a shared tree counted
	Bytes    uint64 // tree-blob bytes loaded, likewise
}

// LimitsFor returns the limits for walking sn: its summary's totals (files
// and directories; file bytes for the bytes) times a margin, at least the
// floors MinEntries and MinBytes, and never above the caps MaxEntries and
// MaxBytes, which alone apply when there is no summary. The summary is the
// snapshot author's word, so the caps are what binds a hostile one.
func LimitsFor(sn snapshot.Stored) Limits {
	lim := Limits{Snapshot: sn.ID.Short(), Entries: MaxEntries, Bytes: MaxBytes}
	s := sn.Summary
	if s == nil {
		return lim
	}
	items := addSat(addSat(s.TotalFiles, s.DirsNew), addSat(s.DirsChanged, s.DirsUnmodified))
	bytes := addSat(mulSat(items, bytesPerEntry), s.TotalBytes/bytesPerByte)
	lim.Entries = min(max(mulSat(items, budgetFactor), MinEntries), MaxEntries)
	lim.Bytes = min(max(mulSat(bytes, budgetFactor), MinBytes), MaxBytes)
	return lim
}

// Root is a tree to walk and the limits of the snapshot it belongs to.
type Root struct {
	Tree   blob.ID
	Limits Limits
}

// RootOf returns the root tree of sn with the limits LimitsFor gives it.
func RootOf(sn snapshot.Stored) Root { return Root{Tree: sn.Tree, Limits: LimitsFor(sn)} }

func (lim Limits) entries() uint64 { return cmp.Or(lim.Entries, MaxEntries) }
func (lim Limits) bytes() uint64   { return cmp.Or(lim.Bytes, MaxBytes) }

// Check returns an error wrapping ErrBudget if a walk of size sz would
// exceed lim, nil otherwise.
func (lim Limits) Check(sz Size) error {
	switch {
	case sz.Entries > lim.entries():
		return lim.exceeded(lim.entries(), "entries")
	case sz.TreeBytes > lim.bytes():
		return lim.exceeded(lim.bytes(), "bytes of trees")
	case sz.Depth > MaxDepth:
		return lim.exceeded(MaxDepth, "nested directories")
	}
	return nil
}

// exceeded returns the error for a walk over its budget of n units.
func (lim Limits) exceeded(n uint64, units string) error {
	prefix := ""
	if lim.Snapshot != "" {
		prefix = "snapshot " + lim.Snapshot + ": "
	}
	return fmt.Errorf("%s%w of %d %s: the snapshot may be hostile", prefix, ErrBudget, n, units)
}

// Size is what a walk of a listing visits in full, every occurrence of a
// shared tree counted again. Counts saturate rather than wrap.
type Size struct {
	Entries   uint64 // items
	TreeBytes uint64 // bytes of the tree blobs loaded
	Files     uint64 // regular files among the items
	FileBytes uint64 // their logical size, holes included
	Depth     int    // names in the longest path below the listing; 0 if empty
}

// Plus returns the size of walking both s and o.
func (s Size) Plus(o Size) Size {
	return Size{
		Entries:   addSat(s.Entries, o.Entries),
		TreeBytes: addSat(s.TreeBytes, o.TreeBytes),
		Files:     addSat(s.Files, o.Files),
		FileBytes: addSat(s.FileBytes, o.FileBytes),
		Depth:     max(s.Depth, o.Depth),
	}
}

func addSat(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

func mulSat(a, b uint64) uint64 {
	if b != 0 && a > math.MaxUint64/b {
		return math.MaxUint64
	}
	return a * b
}
