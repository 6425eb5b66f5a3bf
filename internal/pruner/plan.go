package pruner

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/pack"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
)

// smallPack is the size below which packs are merged with the others
// being repacked, however much of them is referenced.
const smallPack = pack.TargetSize / 8

// plan is phase 1 (docs/format.md §8.3): it chooses the packs to delete,
// repacks what is referenced in those to be repacked, and writes the plan.
// It reports whether it wrote anything.
func (p *pruner) plan(ctx context.Context, st *state) (bool, error) {
	planned := plannedPacks(st.plans)
	drop, repack := p.choose(st, usage(st, p.refs, planned), planned)
	doomed := slices.Concat(drop, repack)
	if len(doomed) == 0 {
		return false, nil
	}
	p.res.PlannedPacks = len(doomed)
	p.res.RepackedPacks = len(repack)
	for _, id := range doomed {
		p.res.PlannedBytes += st.sizes[id]
	}
	if p.opts.DryRun {
		return false, nil
	}
	if len(repack) > 0 {
		// Blobs must not be deduplicated against a pack that is going away.
		p.r.Index.Exclude(slices.Concat(doomed, slices.Collect(maps.Keys(planned))))
		if err := p.repack(ctx, st, repack); err != nil {
			return false, err
		}
	}
	pl := &repo.PrunePlan{Created: p.opts.Now().UTC(), Packs: sortIDs(doomed), Index: objectsNaming(st, doomed)}
	name, err := p.r.SavePrunePlan(ctx, pl)
	if err != nil {
		return false, fmt.Errorf("writing prune plan: %w", err)
	}
	if err := p.step(stepPlanOpen); err != nil {
		return false, err
	}
	// Only sessions listed after the plan is visible are sure to include
	// every backup that loaded its index before the plan existed.
	live, err := p.liveSessions(ctx)
	if err != nil {
		return false, err
	}
	_, _, err = p.complete(ctx, name, pl, live)
	return true, err
}

// completeOpenPlans completes plans written without a session list by a
// prune that was interrupted or is still running (docs/format.md §8.3).
func (p *pruner) completeOpenPlans(ctx context.Context, st *state) error {
	if p.opts.DryRun {
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(st.plans)) {
		pl := st.plans[name]
		if pl.Sessions != nil {
			continue
		}
		newName, done, err := p.complete(ctx, name, pl, st.live)
		if err != nil {
			return err
		}
		delete(st.plans, name)
		st.plans[newName] = done
	}
	return nil
}

// complete writes a copy of the open plan that names the live sessions,
// which were listed after the open plan became visible, and then deletes
// the open plan.
func (p *pruner) complete(ctx context.Context, name string, open *repo.PrunePlan, live map[string]bool) (string, *repo.PrunePlan, error) {
	done := *open
	done.Sessions = slices.AppendSeq(make([]string, 0, len(live)), maps.Keys(live))
	slices.Sort(done.Sessions)
	newName, err := p.r.SavePrunePlan(ctx, &done)
	if err != nil {
		return "", nil, fmt.Errorf("writing prune plan: %w", err)
	}
	if err := p.step(stepPlanComplete); err != nil {
		return "", nil, err
	}
	_, err = p.remove(ctx, store.Prune, name)
	return newName, &done, err
}

func plannedPacks(plans map[string]*repo.PrunePlan) map[blob.ID]bool {
	planned := make(map[blob.ID]bool)
	for _, pl := range plans {
		for _, id := range pl.Packs {
			planned[id] = true
		}
	}
	return planned
}

// packUse counts a pack's blob bytes, and those of them that snapshots
// need.
type packUse struct{ total, used int64 }

// usage measures every known pack. A referenced blob stored in several
// packs counts as used in only one: the pack not yet planned with the
// highest share of referenced bytes (ties go to the lower pack ID), so that
// duplicate copies left by racing writers or an interrupted prune are
// freed in the end, from the emptier packs.
func usage(st *state, rf *refs, planned map[blob.ID]bool) map[blob.ID]*packUse {
	use := make(map[blob.ID]*packUse)
	refBytes := make(map[blob.ID]int64)
	st.master.Each(func(pr index.Prefix, l index.Location) bool {
		u := use[l.Pack]
		if u == nil {
			u = &packUse{}
			use[l.Pack] = u
		}
		u.total += int64(l.Length)
		if rf.has(pr) {
			refBytes[l.Pack] += int64(l.Length)
		}
		return true
	})
	better := func(a, b blob.ID) bool {
		// refBytes[a]/total[a] > refBytes[b]/total[b], in integers (both
		// products stay far below 2^63).
		x, y := refBytes[a]*use[b].total, refBytes[b]*use[a].total
		if x != y {
			return x > y
		}
		return bytes.Compare(a[:], b[:]) < 0
	}
	eachReferenced(st.master, rf, func(locs []index.Location) {
		best := -1
		for i, l := range locs {
			if !planned[l.Pack] && (best < 0 || better(l.Pack, locs[best].Pack)) {
				best = i
			}
		}
		if best >= 0 {
			use[locs[best].Pack].used += int64(locs[best].Length)
		}
	})
	return use
}

// eachReferenced calls fn once for every referenced blob that m holds,
// with every location of it. fn must not change m.
func eachReferenced(m *index.Master, rf *refs, fn func([]index.Location)) {
	var (
		cur  index.Prefix
		locs []index.Location
	)
	m.Each(func(pr index.Prefix, l index.Location) bool {
		if !rf.has(pr) {
			return true
		}
		if len(locs) > 0 && pr != cur {
			fn(locs)
			locs = locs[:0]
		}
		cur = pr
		locs = append(locs, l)
		return true
	})
	if len(locs) > 0 {
		fn(locs)
	}
}

// choose returns the packs, not yet planned, that hold nothing referenced
// (drop) and those whose referenced blobs are worth moving (repack): more
// than RepackFraction of their bytes unreferenced, or small while some
// other pack is repacked too, so that their blobs end up together.
func (p *pruner) choose(st *state, use map[blob.ID]*packUse, planned map[blob.ID]bool) (drop, repack []blob.ID) {
	var small []blob.ID
	for id, u := range use {
		switch {
		case planned[id]:
		case u.used == 0:
			drop = append(drop, id)
		case float64(u.total-u.used) > p.opts.RepackFraction*float64(u.total):
			repack = append(repack, id)
		case st.sizes[id] < smallPack:
			small = append(small, id)
		}
	}
	if len(small)+len(repack) >= 2 {
		repack = append(repack, small...)
	}
	return sortIDs(drop), sortIDs(repack)
}

// repack copies the referenced blobs of packs into new packs and indexes
// them. A blob that another surviving pack holds is not copied again.
func (p *pruner) repack(ctx context.Context, st *state, ids []blob.ID) error {
	for _, id := range ids {
		if err := p.repackOne(ctx, id, st.sizes[id]); err != nil {
			return err
		}
	}
	if err := p.r.Flush(ctx); err != nil {
		return fmt.Errorf("writing repacked blobs: %w", err)
	}
	return p.step(stepRepacked)
}

func (p *pruner) repackOne(ctx context.Context, id blob.ID, size int64) error {
	entries, err := p.r.PackHeader(ctx, id, size)
	if err != nil {
		return err
	}
	data, err := p.r.ReadPackRange(ctx, id, 0, size)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !p.refs.has(index.PrefixOf(e.ID)) {
			continue
		}
		end := uint64(e.Offset) + uint64(e.Length)
		if end > uint64(len(data)) {
			return fmt.Errorf("pack %s: blob %s lies beyond the pack's end", id.Short(), e.ID.Short())
		}
		plain, err := p.r.OpenBlob(nil, e.Type, e.ID, data[e.Offset:end], int(e.RawLength))
		if err != nil {
			return fmt.Errorf("pack %s: %w", id.Short(), err)
		}
		_, added, err := p.r.SaveBlob(ctx, e.Type, plain)
		if err != nil {
			return err
		}
		if added {
			p.res.RepackedBlobs++
		}
	}
	return nil
}

// objectsNaming returns the index objects that name any of the packs.
func objectsNaming(st *state, packs []blob.ID) []blob.ID {
	set := make(map[blob.ID]bool, len(packs))
	for _, id := range packs {
		set[id] = true
	}
	var out []blob.ID
	for name, o := range st.objects {
		if slices.ContainsFunc(o.packs, func(id blob.ID) bool { return set[id] }) {
			out = append(out, name)
		}
	}
	return sortIDs(out)
}

func sortIDs(ids []blob.ID) []blob.ID {
	slices.SortFunc(ids, func(a, b blob.ID) int { return bytes.Compare(a[:], b[:]) })
	return ids
}
