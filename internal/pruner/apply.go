package pruner

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"slices"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/pack"
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
	if err := p.resurrect(ctx, st, doomed, del); err != nil {
		return err
	}
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
	p.res.Pending, p.res.WaitingFor = nil, nil // in case Prune started over
	for _, name := range slices.Sorted(maps.Keys(st.plans)) {
		pl := st.plans[name]
		for _, id := range pl.Packs {
			if _, ok := st.sizes[id]; ok {
				doomed[id] = true
			}
		}
		if pl.Sessions == nil || slices.ContainsFunc(pl.Sessions, func(s string) bool { return st.live[s] }) {
			p.res.Pending = append(p.res.Pending, name)
			p.waitFor(st, pl.Sessions)
			continue
		}
		run = append(run, name)
	}
	return run, doomed
}

// resurrect takes out of del every pack that holds the last authentic
// copy of a referenced blob (docs/format.md §8.3). For every referenced
// blob with a copy in del it authenticates a copy in a pack that stays
// (one in no plan, or one already taken out of del), else one in del,
// whose pack it then keeps; if no copy authenticates, it keeps every pack
// of del that holds one: it deletes nothing it has not proven redundant.
func (p *pruner) resurrect(ctx context.Context, st *state, doomed, del map[blob.ID]bool) error {
	rs := &resurrection{del: del, doomed: doomed, kept: make(map[blob.ID]bool), res: &p.res}
	var claims []*claim
	eachReferenced(st.master, p.refs, func(pr index.Prefix, locs []index.Location) {
		if !slices.ContainsFunc(locs, func(l index.Location) bool { return del[l.Pack] }) {
			return // nothing of it is deleted now
		}
		inDel := newClaim(pr, locs, func(id blob.ID) bool { return !del[id] })
		c := newClaim(pr, locs, func(id blob.ID) bool { return !rs.stays(id) })
		if len(c.cands) == 0 && len(inDel.cands) == 1 {
			rs.keep(inDel.cands[0].pack) // kept whatever a read would show
			return
		}
		c.cands = append(p.verify.sealedFirst(pr, c.cands), sortCands(inDel.cands)...)
		claims = append(claims, c)
	})
	if err := p.verify.resolve(ctx, st.sizes, claims); err != nil {
		return err
	}
	for _, c := range claims {
		if k, ok := c.keeper(); ok {
			rs.keep(k.pack)
			continue
		}
		for _, k := range c.cands {
			rs.keep(k.pack)
		}
	}
	return nil
}

// resurrection is the state of resurrect: what is deleted, what is kept.
type resurrection struct {
	del, doomed, kept map[blob.ID]bool
	res               *Result
}

// keep takes a pack out of del, if it is there.
func (rs *resurrection) keep(id blob.ID) {
	if rs.del[id] {
		delete(rs.del, id)
		rs.kept[id] = true
		rs.res.ResurrectedPacks++
	}
}

// stays reports whether a pack outlives this prune: it is in no plan, or
// was taken out of del.
func (rs *resurrection) stays(id blob.ID) bool { return !rs.doomed[id] || rs.kept[id] }

// sortCands orders candidates by pack ID, so that blobs with copies in the
// same packs choose the same one.
func sortCands(cs []cand) []cand {
	slices.SortFunc(cs, func(a, b cand) int { return bytes.Compare(a.pack[:], b.pack[:]) })
	return cs
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
// them still recognises them as redundant. A listing of a pack that stays
// is dropped only if another object that stays holds the same listing, or
// if objects disagree about the pack and this listing is not what the
// pack's header says: a false listing (issue 11) never replaces a true one.
func (p *pruner) rewriteIndex(ctx context.Context, st *state, del map[blob.ID]bool) ([]blob.ID, error) {
	gone := func(id blob.ID) bool {
		_, ok := st.sizes[id]
		return !ok || del[id]
	}
	rewrite, elsewhere := toRewrite(st, gone)
	if len(rewrite) == 0 {
		return nil, p.step(stepIndexWritten)
	}
	skip := func(l listing) bool { return gone(l.pack) || elsewhere[l] }
	keep, err := p.keptPacks(ctx, st, rewrite, skip)
	if err != nil {
		return nil, err
	}
	for _, f := range index.Split(keep, rewrite) {
		if _, err := p.r.SaveIndex(ctx, f); err != nil {
			return nil, err
		}
		p.res.WrittenIndex++
	}
	return rewrite, p.step(stepIndexWritten)
}

// toRewrite returns, in ascending order, the objects that name a pack that
// is gone or that another object supersedes, and the listings held by the
// other objects, which stay.
func toRewrite(st *state, gone func(blob.ID) bool) ([]blob.ID, map[listing]bool) {
	superseded := make(map[blob.ID]bool)
	for _, o := range st.objects {
		for _, s := range o.supersedes {
			if st.objects[s] != nil {
				superseded[s] = true
			}
		}
	}
	var rewrite []blob.ID
	elsewhere := make(map[listing]bool)
	for name, o := range st.objects {
		if superseded[name] || slices.ContainsFunc(o.packs, gone) {
			rewrite = append(rewrite, name)
			continue
		}
		for _, l := range o.listings {
			elsewhere[l] = true
		}
	}
	return sortIDs(rewrite), elsewhere
}

// keptPacks reads the objects again and returns, once each, the listings
// they hold that skip does not reject and that are true (trueListing).
func (p *pruner) keptPacks(ctx context.Context, st *state, names []blob.ID, skip func(listing) bool) ([]index.Pack, error) {
	disputed := disputedPacks(st)
	var keep []index.Pack
	seen := make(map[listing]bool)
	for _, name := range names {
		f, err := p.r.LoadIndexFile(ctx, name.String())
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted by a concurrent prune, after it wrote what replaces it
		}
		if err != nil {
			return nil, err
		}
		for _, pk := range f.Packs {
			l := listingOf(pk)
			if skip(l) || seen[l] {
				continue
			}
			seen[l] = true
			ok, err := p.trueListing(ctx, st, pk, disputed[pk.ID])
			if err != nil {
				return nil, err
			}
			if ok {
				keep = append(keep, pk)
			}
		}
	}
	return keep, nil
}

// disputedPacks returns the packs that index objects list differently.
func disputedPacks(st *state) map[blob.ID]bool {
	first := make(map[blob.ID][32]byte)
	disputed := make(map[blob.ID]bool)
	for _, o := range st.objects {
		for _, l := range o.listings {
			if d, ok := first[l.pack]; ok && d != l.digest {
				disputed[l.pack] = true
			}
			first[l.pack] = l.digest
		}
	}
	return disputed
}

// trueListing reports whether a listing of a disputed pack says only what
// the pack's header says. An undisputed listing, and any listing of a pack
// whose header does not open, count as true: nothing shows them false.
func (p *pruner) trueListing(ctx context.Context, st *state, pk index.Pack, disputed bool) (bool, error) {
	if !disputed {
		return true, nil
	}
	entries, err := p.r.PackHeader(ctx, pk.ID, st.sizes[pk.ID])
	if errors.Is(err, crypt.ErrAuth) || errors.Is(err, pack.ErrInvalid) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	header := make(map[index.Blob]bool, len(entries))
	for _, e := range entries {
		header[index.Blob{Type: e.Type, ID: e.ID, Offset: e.Offset, Length: e.Length, RawLength: e.RawLength}] = true
	}
	return !slices.ContainsFunc(pk.Blobs, func(b index.Blob) bool { return !header[b] }), nil
}

// waitFor records the live sessions of a pending plan in WaitingFor, once
// each.
func (p *pruner) waitFor(st *state, sessions []string) {
	for _, id := range sessions {
		w, ok := st.markers[id]
		if ok && !slices.ContainsFunc(p.res.WaitingFor, func(x Waiting) bool { return x.ID == id }) {
			p.res.WaitingFor = append(p.res.WaitingFor, w)
		}
	}
}
