package repairer

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
)

// chooseBadPacks picks the packs to delete: those whose header lies, in
// no prune plan, each authentic copy of which is also in a pack that
// stays. It goes in ascending order of ID, so that of two such packs that
// each hold the only other copy of a blob, the second stays.
func (rp *repairer) chooseBadPacks() {
	holders := rp.authentic(nil)
	gone := make(map[blob.ID]bool)
	for _, id := range sortIDs(slices.Collect(maps.Keys(rp.headers))) {
		if rp.headers[id] && !rp.planned[id] && rp.elsewhere(holders, id, gone) {
			gone[id] = true
			rp.res.BadPacks = append(rp.res.BadPacks, id)
		}
	}
}

// authentic returns an index of the authentic copies, leaving out the
// packs of skip.
func (rp *repairer) authentic(skip []blob.ID) *index.Master {
	m := index.NewMaster()
	for id, good := range rp.good {
		if len(good) > 0 && !slices.Contains(skip, id) {
			m.AddPack(index.Pack{ID: id, Blobs: good})
		}
	}
	return m
}

// elsewhere reports whether every authentic copy in the pack has another
// in a pack that stays: not gone, and in no prune plan.
func (rp *repairer) elsewhere(m *index.Master, id blob.ID, gone map[blob.ID]bool) bool {
	for _, b := range rp.good[id] {
		other := func(l index.Location) bool {
			return l.Type == b.Type && l.Pack != id && !gone[l.Pack] && !rp.planned[l.Pack]
		}
		if !slices.ContainsFunc(m.Copies(b.ID), other) {
			return false
		}
	}
	return true
}

// rewrite stores index objects (docs/format.md §7.1, §7.3) listing
// exactly the authentic copies of the packs that stay, the last
// superseding every object read, then
// deletes those objects and the bad packs. It writes nothing if no false
// copy, damaged object or bad pack was found, nor anything in a dry run.
func (rp *repairer) rewrite(ctx context.Context, names []string) error {
	slices.SortFunc(rp.res.BadCopies, func(a, b repo.BadCopy) int {
		return cmp.Or(bytes.Compare(a.Pack[:], b.Pack[:]), cmp.Compare(a.Offset, b.Offset), bytes.Compare(a.Blob[:], b.Blob[:]))
	})
	if len(rp.res.BadCopies)+len(rp.res.DamagedIndex)+len(rp.res.BadPacks) == 0 {
		return nil
	}
	files, err := rp.newIndex(names)
	if err != nil {
		return err
	}
	rp.res.WrittenIndex, rp.res.ReplacedIndex = len(files), slices.Sorted(slices.Values(names))
	if rp.opts.DryRun {
		return nil
	}
	for _, f := range files {
		if _, err := rp.r.SaveIndex(ctx, f); err != nil {
			return err
		}
	}
	return rp.deleteReplaced(ctx, names)
}

// newIndex returns the index objects listing the authentic copies of the
// packs that stay, the last superseding names. Copies that overlap go to
// separate objects (index.Disjoint).
func (rp *repairer) newIndex(names []string) ([]*index.File, error) {
	var packs []index.Pack
	for _, id := range sortIDs(slices.Collect(maps.Keys(rp.good))) {
		if slices.Contains(rp.res.BadPacks, id) {
			continue
		}
		for _, l := range index.Disjoint(rp.good[id]) {
			packs = append(packs, index.Pack{ID: id, Blobs: l})
		}
	}
	sup := make([]blob.ID, 0, len(names))
	for _, n := range names {
		id, err := blob.ParseID(n)
		if err != nil {
			return nil, fmt.Errorf("index/%s: unexpected object name", n)
		}
		sup = append(sup, id)
	}
	files := index.Split(packs, sup)
	if len(files) == 0 && len(sup) > 0 {
		files = []*index.File{{Supersedes: sup}} // nothing authentic is left, but the old objects go
	}
	for _, f := range files {
		if _, err := index.Decode(f.Encode()); err != nil {
			return nil, fmt.Errorf("refusing to write an invalid index object: %w", err)
		}
	}
	return files, nil
}

// deleteReplaced deletes the index objects read, then the bad packs. The
// first deletion the store refuses (an append-only device) stops it, and
// is reported.
func (rp *repairer) deleteReplaced(ctx context.Context, names []string) error {
	for _, n := range names {
		if ok, err := rp.remove(ctx, store.Index, n); !ok {
			return err
		}
		rp.res.DeletedIndex++
	}
	for _, id := range rp.res.BadPacks {
		if ok, err := rp.remove(ctx, store.Packs, id.String()); !ok {
			return err
		}
		rp.res.DeletedPacks++
	}
	return nil
}

// remove deletes kind/name and reports whether to go on. An object
// already gone is not an error. A refusal is recorded, not returned: the
// new index is in place, and what stays is only redundant.
func (rp *repairer) remove(ctx context.Context, kind store.Kind, name string) (bool, error) {
	err := rp.r.Store().Delete(ctx, kind, name)
	switch {
	case err == nil, errors.Is(err, store.ErrNotFound):
		return true, nil
	case ctx.Err() != nil:
		return false, ctx.Err()
	}
	rp.res.DeleteRefused = fmt.Sprintf("deleting %s/%s: %v", kind, name, err)
	return false, nil
}

func sortIDs(ids []blob.ID) []blob.ID {
	slices.SortFunc(ids, func(a, b blob.ID) int { return bytes.Compare(a[:], b[:]) })
	return ids
}
