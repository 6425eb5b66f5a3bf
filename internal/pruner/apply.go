package pruner

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/store"
)

// apply is phase 2 (docs/format.md §8.3) for every plan none of whose
// sessions is still live, together with the tidying of index objects that
// name deleted packs or are superseded. Each step is idempotent, and the
// order of the steps keeps every intermediate state readable.
func (p *pruner) apply(ctx context.Context, st *state) error {
	runnable, doomed := p.runnable(st)
	del := make(map[blob.ID]bool)
	for _, name := range runnable {
		for _, id := range st.plans[name].Packs {
			if st.known[id] { // never delete a pack whose blobs are unknown
				del[id] = true
			}
		}
	}
	p.resurrect(st, doomed, del)
	if p.opts.DryRun {
		for id := range del {
			p.res.DeletedPacks++
			p.res.BytesFreed += st.sizes[id]
		}
		return nil
	}
	rewritten, err := p.rewriteIndex(ctx, st, del)
	if err != nil {
		return err
	}
	if err := p.deletePacks(ctx, st, del); err != nil {
		return err
	}
	for _, name := range rewritten {
		removed, err := p.remove(ctx, store.Index, name.String())
		if err != nil {
			return err
		}
		if removed {
			p.res.DeletedIndex++
		}
	}
	if err := p.step(stepIndexDeleted); err != nil {
		return err
	}
	for _, name := range runnable {
		if _, err := p.remove(ctx, store.Prune, name); err != nil {
			return err
		}
		p.res.CompletedPlans++
	}
	return p.step(stepPlansFinished)
}

// runnable returns, in name order, the plans that may be carried out now:
// complete ones none of whose sessions is live. It records the others as
// pending, and returns every planned pack still in the store as doomed.
func (p *pruner) runnable(st *state) (run []string, doomed map[blob.ID]bool) {
	doomed = make(map[blob.ID]bool)
	p.res.Pending = nil // in case Prune started over
	for _, name := range slices.Sorted(maps.Keys(st.plans)) {
		pl := st.plans[name]
		for _, id := range pl.Packs {
			if _, ok := st.sizes[id]; ok {
				doomed[id] = true
			}
		}
		if pl.Sessions == nil || slices.ContainsFunc(pl.Sessions, func(s string) bool { return st.live[s] }) {
			p.res.Pending = append(p.res.Pending, name)
			continue
		}
		run = append(run, name)
	}
	return run, doomed
}

// resurrect takes out of del every pack that holds the last copy of a
// referenced blob: one not in a doomed pack, or in one already kept.
func (p *pruner) resurrect(st *state, doomed, del map[blob.ID]bool) {
	kept := make(map[blob.ID]bool)
	eachReferenced(st.master, p.refs, func(locs []index.Location) {
		for _, l := range locs {
			if !doomed[l.Pack] || kept[l.Pack] {
				return
			}
		}
		for _, l := range locs {
			if del[l.Pack] {
				delete(del, l.Pack)
				kept[l.Pack] = true
				p.res.ResurrectedPacks++
				return
			}
		}
	})
}

func (p *pruner) deletePacks(ctx context.Context, st *state, del map[blob.ID]bool) error {
	for _, id := range sortIDs(slices.Collect(maps.Keys(del))) {
		removed, err := p.remove(ctx, store.Packs, id.String())
		if err != nil {
			return err
		}
		if removed {
			p.res.DeletedPacks++
			p.res.BytesFreed += st.sizes[id]
		}
		if err := p.step(stepPackDeleted); err != nil {
			return err
		}
	}
	return nil
}

// rewriteIndex writes index objects that repeat what must stay of the
// objects that name a deleted or missing pack or that another object
// supersedes, and returns the names of those objects, which the caller
// deletes once the packs are gone. The last object written names them all
// in Supersedes (docs/format.md §7), so a prune interrupted before deleting
// them still recognises them as redundant.
func (p *pruner) rewriteIndex(ctx context.Context, st *state, del map[blob.ID]bool) ([]blob.ID, error) {
	gone := func(id blob.ID) bool {
		_, ok := st.sizes[id]
		return !ok || del[id]
	}
	superseded := make(map[blob.ID]bool)
	for _, o := range st.objects {
		for _, s := range o.supersedes {
			if st.objects[s] != nil {
				superseded[s] = true
			}
		}
	}
	var rewrite []blob.ID
	elsewhere := make(map[blob.ID]bool) // packs named by objects that stay
	for name, o := range st.objects {
		if superseded[name] || slices.ContainsFunc(o.packs, gone) {
			rewrite = append(rewrite, name)
			continue
		}
		for _, id := range o.packs {
			elsewhere[id] = true
		}
	}
	if len(rewrite) == 0 {
		return nil, p.step(stepIndexWritten)
	}
	sortIDs(rewrite)
	keep, err := p.keptPacks(ctx, rewrite, func(id blob.ID) bool { return gone(id) || elsewhere[id] })
	if err != nil {
		return nil, err
	}
	for _, f := range splitIndex(keep, rewrite) {
		b := f.Encode()
		if _, err := index.Decode(b); err != nil {
			return nil, fmt.Errorf("refusing to write an invalid index object: %w", err)
		}
		if _, err := p.r.SaveObject(ctx, store.Index, crypt.ADIndex, b); err != nil {
			return nil, fmt.Errorf("writing index: %w", err)
		}
		p.res.WrittenIndex++
	}
	return rewrite, p.step(stepIndexWritten)
}

// keptPacks reads the objects again and returns, once each, the packs they
// name that skip does not reject.
func (p *pruner) keptPacks(ctx context.Context, names []blob.ID, skip func(blob.ID) bool) ([]index.Pack, error) {
	var keep []index.Pack
	seen := make(map[blob.ID]bool)
	for _, name := range names {
		f, err := p.r.LoadIndexFile(ctx, name.String())
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted by a concurrent prune, after it wrote what replaces it
		}
		if err != nil {
			return nil, err
		}
		for _, pk := range f.Packs {
			if !skip(pk.ID) && !seen[pk.ID] {
				seen[pk.ID] = true
				keep = append(keep, pk)
			}
		}
	}
	return keep, nil
}

// splitIndex spreads packs over as few index objects as the size limit of
// §7 allows. Only the last names the superseded objects, so that they are
// superseded only once everything that replaces them is written. No pack,
// no object: what stays of the superseded objects is named elsewhere.
func splitIndex(packs []index.Pack, supersedes []blob.ID) []*index.File {
	if len(packs) == 0 {
		return nil
	}
	empty := (&index.File{}).EncodedSize()
	var files []*index.File
	cur, size := &index.File{}, empty
	for _, pk := range packs {
		n := (&index.File{Packs: []index.Pack{pk}}).EncodedSize() - empty
		if len(cur.Packs) > 0 && size+n > index.MaxEncodedSize {
			files = append(files, cur)
			cur, size = &index.File{}, empty
		}
		cur.Packs = append(cur.Packs, pk)
		size += n
	}
	if size+len(supersedes)*blob.IDSize > index.MaxEncodedSize {
		files = append(files, cur)
		cur = &index.File{}
	}
	cur.Supersedes = supersedes
	return append(files, cur)
}
