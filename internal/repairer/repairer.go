// Package repairer rebuilds a repository's index from what authenticates
// (issue 11, docs/format.md §7.3). A device that holds the keys can list
// false copies of blobs, in packs of its own or in index objects about
// genuine packs; readers and prune work around them, and Repair removes
// them: it reads every pack whole, opens every copy that a pack's header or
// an index object names, writes index objects that list exactly the copies
// that authenticate and supersede every index object it read, and then, on
// a device the store lets delete, deletes those objects and the packs
// that hold false copies and nothing authentic that is not also elsewhere.
// It reports every item of every snapshot that needs a blob of which no
// authentic copy is left.
//
// Cost: one read of every pack, as check --read-data; memory: every index
// entry with its full ID, as check.
package repairer

import (
	"context"
	"fmt"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
)

// Options tune a repair.
type Options struct {
	// DryRun finds and reports everything and changes nothing.
	DryRun bool
}

// Result tells what a repair found and did, or in a dry run would do.
type Result struct {
	DryRun       bool           `json:"dry_run"`
	Packs        int            `json:"packs"`         // packs read
	Copies       int            `json:"copies"`        // copies that authenticate
	BadCopies    []repo.BadCopy `json:"bad_copies"`    // copies that do not authenticate
	Problems     []string       `json:"problems"`      // packs that cannot be read or are not what they are named, damaged snapshots
	DamagedIndex []string       `json:"damaged_index"` // index objects that cannot be read
	// WrittenIndex counts the index objects written (or that would be):
	// none if there is nothing to repair.
	WrittenIndex int `json:"written_index"`
	// ReplacedIndex names the index objects the new ones supersede: every
	// one read, damaged ones included.
	ReplacedIndex []string `json:"replaced_index"`
	DeletedIndex  int      `json:"deleted_index"`
	// BadPacks are the packs to delete: their header lists a copy that
	// does not authenticate (or cannot be read), and every authentic copy
	// they hold is also in a pack that stays.
	BadPacks     []blob.ID `json:"bad_packs"`
	DeletedPacks int       `json:"deleted_packs"`
	// DeleteRefused is the store's answer when it refused a deletion, as
	// a server does to an append-only device; deleting stops there.
	DeleteRefused string `json:"delete_refused,omitempty"`
	// Lost lists what snapshots need of which no authentic copy is left.
	Lost []Lost `json:"lost"`
}

// Lost is an item of a snapshot whose blob has no authentic copy left.
type Lost struct {
	Snapshot blob.ID `json:"snapshot"`
	Path     string  `json:"path"` // "/" for the snapshot's root tree
	Type     string  `json:"type"` // "tree" (a directory's listing) or "data" (a file's content)
	Blob     blob.ID `json:"blob"`
}

// Clean reports whether the repair found nothing wrong.
func (r *Result) Clean() bool {
	return len(r.BadCopies)+len(r.Problems)+len(r.DamagedIndex)+len(r.BadPacks)+len(r.Lost) == 0
}

type repairer struct {
	r    *repo.Repo
	opts Options
	res  Result
	// listed holds every index entry, by pack, each location once.
	listed map[blob.ID][]index.Blob
	// good holds the listing of every authentic copy, by pack.
	good    map[blob.ID][]index.Blob
	headers map[blob.ID]bool // packs whose header lists a false copy or cannot be read
	planned map[blob.ID]bool // packs a pending prune plan deletes
}

// Repair reads the whole repository and rebuilds its index (see the
// package comment). It replaces r.Index with an index of the authentic
// copies; call r.LoadIndex before using r for a backup. It returns an
// error only if it cannot run or cannot write the new index; deletions the
// store refuses are reported in the result.
func Repair(ctx context.Context, r *repo.Repo, opts Options) (*Result, error) {
	rp := &repairer{r: r, opts: opts, listed: make(map[blob.ID][]index.Blob),
		good: make(map[blob.ID][]index.Blob), headers: make(map[blob.ID]bool), planned: make(map[blob.ID]bool)}
	rp.res = Result{DryRun: opts.DryRun, BadCopies: []repo.BadCopy{}, Problems: []string{},
		DamagedIndex: []string{}, ReplacedIndex: []string{}, BadPacks: []blob.ID{}, Lost: []Lost{}}
	if err := rp.run(ctx); err != nil {
		return nil, fmt.Errorf("repair: %w", err)
	}
	return &rp.res, nil
}

func (rp *repairer) run(ctx context.Context) error {
	if err := rp.loadPlans(ctx); err != nil {
		return err
	}
	// Index objects before packs: every pack an object listed here names
	// is then in the pack listing, unless a prune deleted it.
	names, err := rp.r.Names(ctx, store.Index)
	if err != nil {
		return err
	}
	rp.loadIndex(ctx, names)
	if err := rp.readPacks(ctx); err != nil {
		return err
	}
	rp.chooseBadPacks()
	if err := rp.rewrite(ctx, names); err != nil {
		return err
	}
	return rp.findLost(ctx)
}

func (rp *repairer) loadPlans(ctx context.Context) error {
	plans, err := rp.r.PrunePlans(ctx)
	if err != nil {
		return err
	}
	for _, p := range plans {
		for _, id := range p.Packs {
			rp.planned[id] = true
		}
	}
	return nil
}
