package account

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/store"
)

// appendTries bounds how often an append is rebuilt after other devices
// appended first.
const appendTries = 8

// AppendBuilt appends the entry build makes on top of c. If another device
// appended first, it syncs and builds again on the new head, so an entry
// never names a state its builder did not see.
func (c *Chain) AppendBuilt(ctx context.Context, cs store.Chain, build func(*Chain) ([]byte, error)) (*Chain, error) {
	for attempt := 1; ; attempt++ {
		entry, err := build(c)
		if err != nil {
			return nil, err
		}
		n, err := c.Append(ctx, cs, entry)
		if !errors.Is(err, store.ErrConflict) || attempt == appendTries {
			return n, err
		}
		if c, err = c.Sync(ctx, cs); err != nil {
			return nil, err
		}
	}
}

// RecordSnapshot records in the chain that me wrote snapshot id
// (docs/format.md §8.4). Until it is recorded, no device reads the
// snapshot.
func RecordSnapshot(ctx context.Context, st store.Store, c *Chain, me *keys.Device, id blob.ID) (*Chain, error) {
	n, err := c.AppendBuilt(ctx, store.ChainOf(st), func(c *Chain) ([]byte, error) {
		return c.RecordSnapshot(devices.ByDevice(me), id, time.Now())
	})
	if err != nil {
		return nil, fmt.Errorf("recording snapshot %s in the device chain: %w", id.Short(), err)
	}
	return n, nil
}

// Forget records in the chain that me forgets ids, then deletes their
// objects. Each ID must be a snapshot c records: a device forgets only what
// it has seen. The entries are appended before anything is deleted, so a
// snapshot whose object is gone is never still recorded.
func Forget(ctx context.Context, r *repo.Repo, c *Chain, me *keys.Device, ids []blob.ID) (*Chain, error) {
	for batch := range slices.Chunk(ids, devices.MaxForget) {
		var err error
		c, err = c.AppendBuilt(ctx, store.ChainOf(r.Store()), func(c *Chain) ([]byte, error) {
			return c.ForgetSnapshots(devices.ByDevice(me), objectIDs(batch), time.Now())
		})
		if err != nil {
			return nil, fmt.Errorf("recording the forgotten snapshots in the device chain: %w", err)
		}
	}
	for _, id := range ids {
		if err := r.DeleteSnapshot(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return c, err
		}
	}
	return c, nil
}

func objectIDs(ids []blob.ID) []devices.ObjectID {
	out := make([]devices.ObjectID, len(ids))
	for i, id := range ids {
		out[i] = devices.ObjectID(id)
	}
	return out
}

// History is the account's snapshots as the device chain records them
// (docs/format.md §8.4), read from the store.
type History struct {
	Snapshots []snapshot.Stored // recorded, present and authentic, oldest first, each with its author
	// Missing are recorded snapshots the store does not have: it withholds
	// or deleted them. A reader must not answer as if they did not exist.
	Missing []devices.Record
	// Ignored are snapshot objects in the store that the chain does not
	// record (never recorded, or forgotten: Forgotten says which). No
	// command reads them.
	Ignored   []blob.ID
	Forgotten map[blob.ID]uint64 // of Ignored, those a forget entry removed, and its seq
	Damaged   []error            // recorded snapshots that do not authenticate or decode
	// Impostors are snapshots whose hostname is the name of another
	// device of the account than their author: the hostname is the
	// author's claim, the author is what the chain authenticates.
	Impostors []snapshot.Stored
}

// ReadHistory lists the store's snapshot objects and reads those c records.
func ReadHistory(ctx context.Context, r *repo.Repo, c *Chain) (*History, error) {
	return ReadHistoryUntil(ctx, r, c, nil)
}

// historyBatch is how many snapshots ReadHistoryUntil reads at a time.
const historyBatch = 16

// ReadHistoryUntil is ReadHistory that reads the recorded snapshots a
// batch at a time, the most recently recorded first, and stops after the
// batch in which match (with each snapshot's Author set) accepts one; nil
// reads them all. A backup so finds its parent among the newest snapshots
// without reading every snapshot object. Missing, Ignored and Forgotten
// are complete as in ReadHistory (they need only the store's listing);
// Snapshots, Damaged and Impostors cover the snapshots read.
func ReadHistoryUntil(ctx context.Context, r *repo.Repo, c *Chain, match func(snapshot.Stored) bool) (*History, error) {
	names, err := r.Names(ctx, store.Snapshots)
	if err != nil {
		return nil, err
	}
	h := &History{Forgotten: map[blob.ID]uint64{}}
	present := h.sort(c, names)
	var load []string
	for _, rec := range c.Snapshots() {
		if present[blob.ID(rec.ID)] {
			load = append(load, blob.ID(rec.ID).String())
		} else {
			h.Missing = append(h.Missing, rec)
		}
	}
	batch := len(load)
	if match != nil {
		batch = historyBatch
	}
	for end := len(load); end > 0; end -= batch {
		snaps, damaged, err := r.LoadSnapshots(ctx, load[max(0, end-batch):end])
		if err != nil {
			return nil, err
		}
		if h.add(c, snaps, damaged); match != nil && slices.ContainsFunc(snaps, match) {
			break
		}
	}
	snapshot.Sort(h.Snapshots)
	return h, nil
}

// add records snapshots read, with their authors, and the errors of those
// that did not authenticate or decode.
func (h *History) add(c *Chain, snaps []snapshot.Stored, damaged []error) {
	for i := range snaps {
		snaps[i].Author = authorOf(c, snaps[i].ID)
		if claimsOther(c, snaps[i]) {
			h.Impostors = append(h.Impostors, snaps[i])
		}
	}
	h.Snapshots = append(h.Snapshots, snaps...)
	h.Damaged = append(h.Damaged, damaged...)
}

// claimsOther reports whether s's hostname names a device of c other than
// its author.
func claimsOther(c *Chain, s snapshot.Stored) bool {
	for _, m := range c.Devices() {
		if m.Public.Name == s.Hostname && m.Public.ID != s.Author.Device && m.Public.Name != s.Author.Name {
			return true
		}
	}
	return false
}

// sort files each listed name under Ignored unless c records it, and
// returns the set of names present.
func (h *History) sort(c *Chain, names []string) map[blob.ID]bool {
	present := make(map[blob.ID]bool, len(names))
	for _, name := range names {
		id, err := blob.ParseID(name)
		if err != nil {
			continue // not a snapshot name: nothing reads it
		}
		present[id] = true
		if _, ok := c.Snapshot(devices.ObjectID(id)); ok {
			continue
		}
		h.Ignored = append(h.Ignored, id)
		if seq, ok := c.Forgotten(devices.ObjectID(id)); ok {
			h.Forgotten[id] = seq
		}
	}
	return present
}

// authorOf returns the recorded author of snapshot id.
func authorOf(c *Chain, id blob.ID) snapshot.Author {
	rec, _ := c.Snapshot(devices.ObjectID(id))
	a := snapshot.Author{Device: rec.Author, AppendOnly: rec.AppendOnly, Entry: rec.Seq}
	if m, ok := c.Device(rec.Author); ok {
		a.Name = m.Public.Name
	}
	return a
}

// ErrMissing means the store lacks a snapshot the device chain records: it
// withholds, deleted or rolled back a snapshot some device wrote.
var ErrMissing = errors.New("is missing from the store, which withholds or deleted it")

// MissingError names the first missing snapshot, who recorded it and
// where, wrapping ErrMissing; nil if none is missing.
func (h *History) MissingError(c *Chain) error {
	if len(h.Missing) == 0 {
		return nil
	}
	rec := h.Missing[0]
	who := rec.Author
	if m, ok := c.Device(rec.Author); ok {
		who = m.Public.Name + " (" + rec.Author + ")"
	}
	more := ""
	if n := len(h.Missing) - 1; n > 0 {
		more = fmt.Sprintf(" (and %d more)", n)
	}
	return fmt.Errorf("snapshot %s%s, recorded by device %s in device chain entry %d, %w",
		blob.ID(rec.ID).Short(), more, who, rec.Seq, ErrMissing)
}

// Plans is the repo.PlanAuthority of this device (docs/format.md §8.4): it
// records the prune plans this device writes in the device chain, and
// reads a plan only if the chain records it, syncing the chain (at most
// maxPlanSyncs times) when a plan object appears that it does not know
// yet, since a prune records a plan before it stores it. get and set read
// and replace the caller's current chain; set also saves it.
type Plans struct {
	mu       sync.Mutex
	get      func() *Chain
	set      func(*Chain) error
	cs       store.Chain
	me       *keys.Device
	syncsMax int
}

// maxPlanSyncs bounds the chain reads unknown plan objects cause in one
// process, so that a store cannot make them without end.
const maxPlanSyncs = 3

// NewPlans returns the plan authority of device me for the chain that get
// returns, kept in st.
func NewPlans(get func() *Chain, set func(*Chain) error, st store.Store, me *keys.Device) *Plans {
	return &Plans{get: get, set: set, cs: store.ChainOf(st), me: me, syncsMax: maxPlanSyncs}
}

// Record appends the entry recording plan id, signed by this device.
func (p *Plans) Record(ctx context.Context, id blob.ID) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, err := p.get().AppendBuilt(ctx, p.cs, func(c *Chain) ([]byte, error) {
		return c.RecordPlan(devices.ByDevice(p.me), devices.ObjectID(id), time.Now())
	})
	if err != nil {
		return fmt.Errorf("recording prune plan %s in the device chain: %w", id.Short(), err)
	}
	return p.set(n)
}

// Recorded reports whether the chain records plan id, syncing it first if
// it does not and syncs are left.
func (p *Plans) Recorded(ctx context.Context, id blob.ID) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.get().Plan(devices.ObjectID(id)); ok || p.syncsMax == 0 {
		return ok, nil
	}
	p.syncsMax--
	n, err := p.get().Sync(ctx, p.cs)
	if err != nil {
		return false, err
	}
	if err := p.set(n); err != nil {
		return false, err
	}
	_, ok := n.Plan(devices.ObjectID(id))
	return ok, nil
}

// Resolve returns the full ID of the current device that ref names (its
// ID, name or an ID prefix, as Find), or ref itself if it names none or
// several, for the caller's own error about it.
func (c *Chain) Resolve(ref string) string {
	if _, ok := c.Device(ref); ok {
		return ref
	}
	if id, err := c.Find(ref); err == nil {
		return id
	}
	return ref
}

// Find returns the ID of the current device whose name is name or whose
// ID begins with it (at least 4 hex digits), refusing a name or prefix
// that fits none or several.
func (c *Chain) Find(name string) (string, error) {
	var found []string
	for _, m := range c.Devices() {
		if m.Public.Name == name || (len(name) >= 4 && strings.HasPrefix(m.Public.ID, strings.ToLower(name))) {
			found = append(found, m.Public.ID)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", errors.New("no device of the account has that name or ID")
	}
	return "", fmt.Errorf("%d devices have that name or ID prefix; give more of the ID", len(found))
}
