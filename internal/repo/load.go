package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/pack"
	"github.com/coffer-backup/coffer/internal/store"
)

// PrunePlan lists packs and index objects a prune has scheduled for deletion
// (docs/format.md §8.3). While a plan exists, writers treat its packs as
// absent, so nothing new comes to depend on them.
type PrunePlan struct {
	Created  time.Time `json:"created"`
	Packs    []blob.ID `json:"packs"`
	Index    []blob.ID `json:"index"`
	Sessions []string  `json:"sessions"` // backup sessions in progress when the plan was made
}

const maxPlanSize = 256 << 20

// PlanAuthority says which prune plans a full device of the account wrote
// (docs/format.md §8.4): a plan is recorded in the device chain before its
// object is stored, and plans it does not record are ignored, so a device
// that holds the data keys but not the right (an append-only one) cannot
// make a prune delete packs or readers hide them.
type PlanAuthority interface {
	// Record records plan id, before its object is stored.
	Record(ctx context.Context, id blob.ID) error
	// Recorded reports whether plan id is recorded.
	Recorded(ctx context.Context, id blob.ID) (bool, error)
}

// SetPlanAuthority makes r read and write prune plans through a.
func (r *Repo) SetPlanAuthority(a PlanAuthority) { r.plans = a }

// PrunePlans reads every pending prune plan that the plan authority (if
// any) says was recorded, keyed by object name.
func (r *Repo) PrunePlans(ctx context.Context) (map[string]*PrunePlan, error) {
	names, err := r.recordedPlans(ctx)
	if err != nil {
		return nil, err
	}
	plans := make(map[string]*PrunePlan, len(names))
	for _, n := range names {
		b, err := r.LoadObject(ctx, store.Prune, n, crypt.ADPrune, maxPlanSize)
		if errors.Is(err, store.ErrNotFound) {
			continue // completed by a concurrent prune since the listing
		}
		if err != nil {
			return nil, err
		}
		var p PrunePlan
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("prune/%s: %w", n, err)
		}
		plans[n] = &p
	}
	return plans, nil
}

// recordedPlans lists the names of the plan objects the authority records.
func (r *Repo) recordedPlans(ctx context.Context) ([]string, error) {
	names, err := r.Names(ctx, store.Prune)
	if err != nil || r.plans == nil {
		return names, err
	}
	var out []string
	for _, n := range names {
		id, err := blob.ParseID(n)
		if err != nil {
			continue // no plan has that name
		}
		ok, err := r.plans.Recorded(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("prune/%s: %w", n, err)
		}
		if ok {
			out = append(out, n)
		}
	}
	return out, nil
}

// SavePrunePlan stores a plan, recorded first by the plan authority if
// any, and returns its name.
func (r *Repo) SavePrunePlan(ctx context.Context, p *PrunePlan) (string, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	id, env, err := r.SealObject(crypt.ADPrune, b)
	if err != nil {
		return "", err
	}
	if r.plans != nil {
		if err := r.plans.Record(ctx, id); err != nil {
			return "", err
		}
	}
	return id.String(), putBytes(ctx, r.st, store.Prune, id.String(), env)
}

// PackSizes lists every pack in the store with its size.
func (r *Repo) PackSizes(ctx context.Context) (map[blob.ID]int64, error) {
	sizes := make(map[blob.ID]int64)
	err := r.st.List(ctx, store.Packs, func(oi store.ObjectInfo) error {
		id, err := blob.ParseID(oi.Name)
		if err != nil {
			return fmt.Errorf("packs/%s: unexpected object name", oi.Name)
		}
		sizes[id] = oi.Size
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing packs: %w", err)
	}
	return sizes, nil
}

// LoadIndexFile reads and decodes one index object.
func (r *Repo) LoadIndexFile(ctx context.Context, name string) (*index.File, error) {
	b, err := r.LoadObject(ctx, store.Index, name, crypt.ADIndex, index.MaxObjectSize)
	if err != nil {
		return nil, err
	}
	f, err := index.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("index/%s: %w", name, err)
	}
	return f, nil
}

// LoadIndex reads every index object into r.Index. Entries for packs that
// no longer exist are left out. Once a backup session has started, packs a
// pending prune plan will delete are treated as absent, so nothing new comes
// to depend on them; readers still see them, since snapshots written before
// the plan may need them. Packs present in the store but in no index object
// (left by an interrupted backup) are read back from their own headers and
// indexed again, so their blobs are reused, not uploaded twice.
func (r *Repo) LoadIndex(ctx context.Context) error {
	plans, err := r.PrunePlans(ctx)
	if err != nil {
		return err
	}
	excluded := make(map[blob.ID]bool)
	var planned []blob.ID
	for _, p := range plans {
		for _, id := range p.Packs {
			excluded[id] = true
			planned = append(planned, id)
		}
	}
	if r.writing.Load() {
		r.Index.Exclude(planned)
	}
	sizes, err := r.PackSizes(ctx)
	if err != nil {
		return err
	}
	r.sizes.Store(&sizes)
	names, err := r.Names(ctx, store.Index)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	seen := make(map[blob.ID]bool)
	err = forEachParallel(names, 4, func(name string) error {
		f, err := r.LoadIndexFile(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			return nil // superseded and deleted by a concurrent prune
		}
		if err != nil {
			return err
		}
		keep := f.Packs[:0]
		for _, p := range f.Packs {
			if _, ok := sizes[p.ID]; ok {
				keep = append(keep, p)
			}
		}
		mu.Lock()
		for _, p := range keep {
			seen[p.ID] = true
		}
		mu.Unlock()
		r.Index.AddFile(&index.File{Packs: keep}, r.trusts(f))
		return nil
	})
	if err != nil {
		return err
	}
	var orphans []blob.ID
	for id := range sizes {
		if !seen[id] && !excluded[id] {
			orphans = append(orphans, id)
		}
	}
	return r.recoverPacks(ctx, orphans, sizes)
}

// recoverPacks indexes each pack no index object names (left by an
// interrupted backup, or uploaded without an index by a device that may
// lie; docs/format.md §7.3). A reader indexes its header's entries as
// untrusted copies, which reads try like any other; only a writer, which
// may deduplicate against them and lists them in its next index object,
// reads the pack whole and keeps the copies that authenticate. So a device
// uploading packs without an index cannot make every read-only command
// download them.
func (r *Repo) recoverPacks(ctx context.Context, ids []blob.ID, sizes map[blob.ID]int64) error {
	if !r.writing.Load() {
		return r.headerPacks(ctx, ids, sizes)
	}
	for _, id := range ids {
		v, err := r.VerifyPack(ctx, id, sizes[id], nil)
		if err != nil || len(v.Good) == 0 {
			// A pack we cannot read is reported by check; it is not used.
			continue
		}
		ip := index.Pack{ID: id, Blobs: v.Good}
		r.Index.AddPack(ip)
		r.packer.addPending(ip)
	}
	return nil
}

// headerPacks indexes, untrusted, what the headers of the packs list.
func (r *Repo) headerPacks(ctx context.Context, ids []blob.ID, sizes map[blob.ID]int64) error {
	for _, id := range ids {
		entries, err := r.PackHeader(ctx, id, sizes[id])
		if err != nil {
			continue // reported by check; not used
		}
		ip := index.Pack{ID: id, Blobs: make([]index.Blob, len(entries))}
		for i, e := range entries {
			ip.Blobs[i] = index.Blob{Type: e.Type, ID: e.ID, Offset: e.Offset, Length: e.Length, RawLength: e.RawLength}
		}
		r.Index.AddFile(&index.File{Packs: []index.Pack{ip}}, false)
	}
	return nil
}

// PackHeader reads and authenticates the header of a pack.
func (r *Repo) PackHeader(ctx context.Context, id blob.ID, size int64) ([]pack.Entry, error) {
	entries, err := pack.ReadHeader(&packReaderAt{ctx: ctx, r: r, id: id}, size, r.opener)
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", id.Short(), err)
	}
	return entries, nil
}

type packReaderAt struct {
	ctx context.Context
	r   *Repo
	id  blob.ID
}

func (p *packReaderAt) ReadAt(b []byte, off int64) (int, error) {
	rc, err := p.r.st.Get(p.ctx, store.Packs, p.id.String(), off, int64(len(b)))
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return io.ReadFull(rc, b)
}
