package pruner

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
	"github.com/coffer-backup/coffer/internal/pack"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
)

// smallPack is, by packKind, the size below which packs are merged with
// the others of their kind being repacked, however much of them is
// referenced: an eighth of the kind's target size.
var smallPack = [2]int64{pack.TargetSize / 8, pack.TreeTargetSize / 8}

// plan is phase 1 (docs/format.md §8.3): it chooses the packs to delete,
// repacks what is referenced in those to be repacked, and writes the plan.
// It reports whether it wrote anything.
func (p *pruner) plan(ctx context.Context, st *state) (bool, error) {
	planned := plannedPacks(st.plans)
	use, err := p.usage(ctx, st, planned)
	if err != nil {
		return false, err
	}
	drop, repack := p.choose(st, use, planned)
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
		gone := maps.Clone(planned)
		for _, id := range doomed {
			gone[id] = true
		}
		if err := p.repack(ctx, st, repack, gone); err != nil {
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
	live, _, err := p.liveSessions(ctx)
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
// packs not yet planned counts as used in only one, its keeper: the first
// of those packs, by highest share of referenced bytes (ties to the lower
// pack ID), whose copy authenticates (keepers.go), so that duplicate
// copies left by racing writers or an interrupted prune are freed in the
// end, from the emptier packs, and false copies (issue 11) from the packs
// that hold them. If no copy authenticates, the blob counts as used in
// every one of them: prune frees nothing it has not proven redundant. It
// records the keepers in p.keepers.
func (p *pruner) usage(ctx context.Context, st *state, planned map[blob.ID]bool) (map[blob.ID]*packUse, error) {
	use, refBytes := totals(st, p.refs)
	var claims []*claim
	eachReferenced(st.master, p.refs, func(pr index.Prefix, locs []index.Location) {
		if len(locs) == 1 { // the common case, without allocating
			if !planned[locs[0].Pack] {
				use[locs[0].Pack].used += int64(locs[0].Length)
			}
			return
		}
		c := newClaim(pr, locs, func(id blob.ID) bool { return planned[id] })
		if len(c.cands) == 1 {
			use[c.cands[0].pack].used += c.cands[0].length
		} else if len(c.cands) > 1 {
			slices.SortFunc(c.cands, byShare(use, refBytes))
			claims = append(claims, c)
		}
	})
	if err := p.verify.resolve(ctx, st.sizes, claims); err != nil {
		return nil, err
	}
	p.credit(use, claims)
	return use, nil
}

// byShare orders candidates by highest share of referenced bytes, ties to
// the lower pack ID.
func byShare(use map[blob.ID]*packUse, refBytes map[blob.ID]int64) func(a, b cand) int {
	return func(a, b cand) int {
		// refBytes[a]/total[a] > refBytes[b]/total[b], in integers (both
		// products stay far below 2^63).
		x, y := refBytes[a.pack]*use[b.pack].total, refBytes[b.pack]*use[a.pack].total
		return cmp.Or(cmp.Compare(y, x), bytes.Compare(a.pack[:], b.pack[:]))
	}
}

// credit counts each resolved claim's blob as used in its keeper, which it
// records in p.keepers, and each unresolved one in all its candidates.
func (p *pruner) credit(use map[blob.ID]*packUse, claims []*claim) {
	p.keepers = make(map[index.Prefix]blob.ID)
	for _, c := range claims {
		if k, ok := c.keeper(); ok {
			use[k.pack].used += k.length
			p.keepers[c.prefix] = k.pack
			continue
		}
		for _, k := range c.cands {
			use[k.pack].used += k.length
		}
	}
}

// totals sums, per pack, the length of its blobs and of its referenced
// blobs, each blob once per pack however many places the index objects
// list it at: false entries (issue 11) must not make a pack look emptier
// than it is.
func totals(st *state, rf *refs) (map[blob.ID]*packUse, map[blob.ID]int64) {
	use := make(map[blob.ID]*packUse)
	refBytes := make(map[blob.ID]int64)
	add := func(pr index.Prefix, pack blob.ID, length int64) {
		u := use[pack]
		if u == nil {
			u = &packUse{}
			use[pack] = u
		}
		u.total += length
		if rf.has(pr) {
			refBytes[pack] += length
		}
	}
	eachBlob(st.master, func(index.Prefix) bool { return true }, func(pr index.Prefix, locs []index.Location) {
		if len(locs) == 1 { // the common case, without allocating
			add(pr, locs[0].Pack, int64(locs[0].Length))
			return
		}
		for _, c := range newClaim(pr, locs, func(blob.ID) bool { return false }).cands {
			add(pr, c.pack, c.length)
		}
	})
	return use, refBytes
}

// eachReferenced calls fn once for every referenced blob that m holds,
// with its prefix and every location of it. fn must not change m.
func eachReferenced(m *index.Master, rf *refs, fn func(index.Prefix, []index.Location)) {
	eachBlob(m, rf.has, fn)
}

// eachBlob calls fn once for every blob of m whose prefix keep accepts,
// with its prefix and every location of it. fn must not change m.
func eachBlob(m *index.Master, keep func(index.Prefix) bool, fn func(index.Prefix, []index.Location)) {
	var (
		cur  index.Prefix
		locs []index.Location
	)
	m.Each(func(pr index.Prefix, l index.Location) bool {
		if !keep(pr) {
			return true
		}
		if len(locs) > 0 && pr != cur {
			fn(cur, locs)
			locs = locs[:0]
		}
		cur = pr
		locs = append(locs, l)
		return true
	})
	if len(locs) > 0 {
		fn(cur, locs)
	}
}

// choose returns the packs, not yet planned, that hold nothing referenced
// (drop) and those whose referenced blobs are worth moving (repack): more
// than RepackFraction of their bytes unreferenced, or small while some
// other pack of the same kind is repacked too, so that their blobs end up
// together. Tree packs and data packs are merged apart (docs/format.md
// §6.1): a small tree pack is merged only with other tree packs.
func (p *pruner) choose(st *state, use map[blob.ID]*packUse, planned map[blob.ID]bool) (drop, repack []blob.ID) {
	var small, repacked [2][]blob.ID // by packKind
	for id, u := range use {
		k := packKind(st.master, id)
		switch {
		case planned[id]:
		case u.used == 0:
			drop = append(drop, id)
		case float64(u.total-u.used) > p.opts.RepackFraction*float64(u.total):
			repacked[k] = append(repacked[k], id)
		case st.sizes[id] < smallPack[k]:
			small[k] = append(small[k], id)
		}
	}
	for k := range repacked {
		repack = append(repack, repacked[k]...)
		if len(small[k])+len(repacked[k]) >= 2 {
			repack = append(repack, small[k]...)
		}
	}
	return sortIDs(drop), sortIDs(repack)
}

// packKind is 1 for a tree pack and 0 for any other (docs/format.md §6.7).
func packKind(m *index.Master, id blob.ID) int {
	if m.TreePack(id) {
		return 1
	}
	return 0
}

// repack copies the referenced blobs of packs into new packs and indexes
// them. A blob whose keeper (usage) is a pack outside doomed is not copied
// again; neither is a copy that does not authenticate, which is false and
// so nothing to keep.
func (p *pruner) repack(ctx context.Context, st *state, ids []blob.ID, doomed map[blob.ID]bool) error {
	p.copied = make(map[index.Prefix]bool)
	for _, id := range ids {
		if err := p.repackOne(ctx, id, st.sizes[id], doomed); err != nil {
			return err
		}
	}
	if err := p.r.Flush(ctx); err != nil {
		return fmt.Errorf("writing repacked blobs: %w", err)
	}
	return p.step(stepRepacked)
}

func (p *pruner) repackOne(ctx context.Context, id blob.ID, size int64, doomed map[blob.ID]bool) error {
	entries, err := p.r.PackHeader(ctx, id, size)
	if err != nil {
		return err
	}
	data, err := p.r.ReadPackRange(ctx, id, 0, size)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := p.repackBlob(ctx, e, data, doomed); err != nil {
			return fmt.Errorf("pack %s: %w", id.Short(), err)
		}
	}
	return nil
}

// repackBlob stores again the blob of entry e, whose envelope lies in
// data, if it is referenced, authenticates and has no keeper that stays.
func (p *pruner) repackBlob(ctx context.Context, e pack.Entry, data []byte, doomed map[blob.ID]bool) error {
	pr := index.PrefixOf(e.ID)
	if k, ok := p.keepers[pr]; !p.refs.has(pr) || p.copied[pr] || ok && !doomed[k] {
		return nil
	}
	end := uint64(e.Offset) + uint64(e.Length)
	if end > uint64(len(data)) {
		return fmt.Errorf("blob %s lies beyond the pack's end", e.ID.Short())
	}
	plain, err := p.r.OpenBlob(nil, e.Type, e.ID, data[e.Offset:end], int(e.RawLength))
	if errors.Is(err, repo.ErrBadCopy) {
		p.res.BadCopies++
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := p.r.SaveBlobCopy(ctx, e.Type, plain); err != nil {
		return err
	}
	p.copied[pr] = true
	p.res.RepackedBlobs++
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
