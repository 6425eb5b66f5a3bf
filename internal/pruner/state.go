package pruner

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/store"
)

// state is one consistent view of the store. Its parts are listed in an
// order that makes the view safe despite concurrent writers
// (docs/format.md §8.3): plans, then sessions (a session a plan names is
// either still listed or has written its snapshot), then snapshots (a
// snapshot's packs and index objects are written before it), then index
// objects, then packs (a pack is written before any index object names it,
// so an index entry for an unlisted pack is one for a deleted pack).
type state struct {
	plans   map[string]*repo.PrunePlan
	live    map[string]bool    // IDs of sessions with a marker that is not stale
	markers map[string]Waiting // the live sessions' markers, by ID
	snaps   []snapshot.Stored
	objects map[blob.ID]*indexObject // index objects read, by name
	sizes   map[blob.ID]int64        // every pack in the store
	known   map[blob.ID]bool         // packs whose blobs master holds
	master  *index.Master            // every blob of every known pack, planned ones included
}

// indexObject is what the rewrite of §8.3 needs of an index object.
type indexObject struct {
	packs      []blob.ID
	listings   []listing // of each pack, in the order of packs
	supersedes []blob.ID
}

// listing names what an index object says of one pack: the pack and the
// SHA-256 of its canonical encoding. Two objects agree on a pack when
// they have the same listing of it.
type listing struct {
	pack   blob.ID
	digest [32]byte
}

func listingOf(p index.Pack) listing {
	return listing{p.ID, sha256.Sum256((&index.File{Packs: []index.Pack{p}}).Encode())}
}

// workers bounds concurrent reads from the store.
const workers = 8

// load reads a state, in the order given above, makes its index r.Index,
// and adds the snapshots not seen before to p.refs.
func (p *pruner) load(ctx context.Context) (*state, error) {
	st := &state{objects: make(map[blob.ID]*indexObject), known: make(map[blob.ID]bool), master: index.NewMaster()}
	var err error
	if st.plans, err = p.r.PrunePlans(ctx); err != nil {
		return nil, err
	}
	if st.live, st.markers, err = p.liveSessions(ctx); err != nil {
		return nil, err
	}
	if st.snaps, err = p.r.Snapshots(ctx); err != nil {
		return nil, err
	}
	st.snaps = slices.DeleteFunc(st.snaps, func(s snapshot.Stored) bool { return slices.Contains(p.opts.Forgotten, s.ID) })
	if err := p.loadIndex(ctx, st); err != nil {
		return nil, err
	}
	p.r.Index = st.master
	return st, p.refs.add(ctx, p.r, st.snaps)
}

// liveSessions lists the IDs and markers of sessions whose marker is not
// stale nor ignored, and whose process is not provably gone
// (repo.SessionInfo.Gone), and deletes the others' markers.
func (p *pruner) liveSessions(ctx context.Context) (map[string]bool, map[string]Waiting, error) {
	infos, err := p.r.Sessions(ctx)
	if err != nil {
		return nil, nil, err
	}
	now := p.opts.Now()
	live, markers := make(map[string]bool), make(map[string]Waiting)
	for _, s := range infos {
		if !s.Stale(now) && !p.ignored(s.ID) && !p.opts.gone(s) {
			live[s.ID] = true
			markers[s.ID] = Waiting{ID: s.ID, Host: s.Host, Start: s.Start, Refreshed: s.Refreshed}
			continue
		}
		if err := p.dropMarker(ctx, s.Name); err != nil {
			return nil, nil, err
		}
	}
	return live, markers, nil
}

// ignored reports whether the user said session id has ended.
func (p *pruner) ignored(id string) bool {
	return slices.ContainsFunc(p.opts.IgnoreSessions, func(pre string) bool {
		return len(pre) >= 8 && strings.HasPrefix(id, strings.ToLower(pre))
	})
}

// dropMarker deletes a stale or ignored session marker (not in a dry run).
func (p *pruner) dropMarker(ctx context.Context, name string) error {
	if p.opts.DryRun {
		return nil
	}
	removed, err := p.remove(ctx, store.Sessions, name)
	if removed {
		p.res.StaleSessions++
	}
	return err
}

// loadIndex reads every index object and, for packs no object names, the
// pack's own header, into st.master.
func (p *pruner) loadIndex(ctx context.Context, st *state) error {
	names, err := p.r.Names(ctx, store.Index)
	if err != nil {
		return err
	}
	if st.sizes, err = p.r.PackSizes(ctx); err != nil {
		return err
	}
	var mu sync.Mutex
	err = parallel(ctx, len(names), func(i int) error {
		name, err := blob.ParseID(names[i])
		if err != nil {
			return fmt.Errorf("index/%s: unexpected object name", names[i])
		}
		f, err := p.r.LoadIndexFile(ctx, names[i])
		if errors.Is(err, store.ErrNotFound) {
			return nil // superseded and deleted by a concurrent prune
		}
		if err != nil {
			return err
		}
		obj := &indexObject{supersedes: f.Supersedes}
		present := f.Packs[:0]
		for _, pk := range f.Packs {
			obj.packs = append(obj.packs, pk.ID)
			obj.listings = append(obj.listings, listingOf(pk))
			if _, ok := st.sizes[pk.ID]; ok {
				present = append(present, pk)
			}
		}
		st.master.AddFile(&index.File{Packs: present}, true)
		mu.Lock()
		defer mu.Unlock()
		st.objects[name] = obj
		for _, pk := range present {
			st.known[pk.ID] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	return p.loadOrphans(ctx, st)
}

// loadOrphans reads the headers of packs that no index object names: packs
// of a backup in progress or interrupted. A pack whose header cannot be
// read stays unknown, and prune neither plans nor deletes it.
func (p *pruner) loadOrphans(ctx context.Context, st *state) error {
	var orphans []blob.ID
	for id := range st.sizes {
		if !st.known[id] {
			orphans = append(orphans, id)
		}
	}
	var mu sync.Mutex
	return parallel(ctx, len(orphans), func(i int) error {
		id := orphans[i]
		entries, err := p.r.PackHeader(ctx, id, st.sizes[id])
		if err != nil {
			return nil
		}
		pk := index.Pack{ID: id, Blobs: make([]index.Blob, len(entries))}
		for j, e := range entries {
			pk.Blobs[j] = index.Blob{Type: e.Type, ID: e.ID, Offset: e.Offset, Length: e.Length, RawLength: e.RawLength}
		}
		st.master.AddPack(pk)
		mu.Lock()
		defer mu.Unlock()
		st.known[id] = true
		return nil
	})
}

// parallel calls fn for every i in [0, n) on a few goroutines. It stops
// handing out work after the first error, which it returns.
func parallel(ctx context.Context, n int, fn func(i int) error) error {
	return parallelN(ctx, n, workers, fn)
}

// parallelN is parallel on w goroutines at most.
func parallelN(ctx context.Context, n, w int, fn func(i int) error) error {
	var (
		wg    sync.WaitGroup
		next  atomic.Int64
		once  sync.Once
		first error
	)
	for range min(w, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// remove deletes kind/name and reports whether this call deleted it: an
// object already gone (deleted by a concurrent prune) is not an error.
func (p *pruner) remove(ctx context.Context, kind store.Kind, name string) (bool, error) {
	err := p.r.Store().Delete(ctx, kind, name)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	}
	return false, fmt.Errorf("deleting %s/%s: %w", kind, name, err)
}
