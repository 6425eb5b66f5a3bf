package devices

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Record is a snapshot or prune plan the chain records: the object's ID,
// the device that signed the entry, its rights then, and the entry.
type Record struct {
	ID         ObjectID
	Author     string // DeviceID of the signer
	AppendOnly bool   // the author had append-only rights
	Seq        uint64 // the recording entry
	Time       time.Time
}

// history is the part of a chain's state that snapshot, forget and prune
// plan entries change (docs/devices.md §D.4, step 8).
type history struct {
	snaps     map[ObjectID]Record
	forgotten map[ObjectID]uint64 // ID → sequence number of the forget entry
	plans     map[ObjectID]Record
}

func (h history) clone() history {
	n := history{maps.Clone(h.snaps), maps.Clone(h.forgotten), maps.Clone(h.plans)}
	if n.snaps == nil {
		n = history{map[ObjectID]Record{}, map[ObjectID]uint64{}, map[ObjectID]Record{}}
	}
	return n
}

// mayRecover lists the entry types the recovery key may sign.
var mayRecover = []Type{TypeAddDevice, TypeAddAppendOnly, TypeRemoveDevice, TypeRotateKey, TypeRotateRecovery, TypeSetContacts}

// checkRights refuses an entry its signer has no right to sign
// (docs/devices.md §D.4 step 6): the recovery key signs changes to devices
// and keys but no snapshot, forget or plan; an append-only device signs
// snapshot entries only; a full device signs anything.
func (c *Chain) checkRights(e *Entry) error {
	switch {
	case e.Type == TypeGenesis:
		return nil
	case e.Signer == Recovery && !slices.Contains(mayRecover, e.Type):
		return fmt.Errorf("the recovery key may not sign a %s entry: %w", e.Type, ErrNoRight)
	case e.Signer != Recovery && c.devices[e.Signer].Rights == AppendOnly && e.Type != TypeSnapshot:
		return fmt.Errorf("append-only device %s may not sign a %s entry: %w", e.Signer, e.Type, ErrNoRight)
	}
	return nil
}

// record builds the Record of an object e names.
func (c *Chain) record(e *Entry) Record {
	return Record{ID: e.Object, Author: e.Signer, AppendOnly: c.devices[e.Signer].Rights == AppendOnly, Seq: e.Seq, Time: e.Time}
}

// recordSnapshot adds a snapshot; an ID recorded before, even if since
// forgotten, is refused, so a forgotten snapshot cannot be brought back.
func (c *Chain) recordSnapshot(e *Entry) error {
	if r, ok := c.snaps[e.Object]; ok {
		return fmt.Errorf("snapshot %x already recorded at entry %d: %w", e.Object[:8], r.Seq, ErrInvalid)
	}
	if seq, ok := c.forgotten[e.Object]; ok {
		return fmt.Errorf("snapshot %x was forgotten at entry %d: %w", e.Object[:8], seq, ErrInvalid)
	}
	c.snaps[e.Object] = c.record(e)
	return nil
}

// forget removes snapshots, each of which must be recorded and not yet
// forgotten: a device forgets only snapshots it has seen.
func (c *Chain) forget(e *Entry) error {
	for _, id := range e.Forget {
		if _, ok := c.snaps[id]; !ok {
			return fmt.Errorf("forgetting snapshot %x, which is not recorded or already forgotten: %w", id[:8], ErrInvalid)
		}
	}
	for _, id := range e.Forget {
		delete(c.snaps, id)
		c.forgotten[id] = e.Seq
	}
	return nil
}

// recordPlan adds a prune plan.
func (c *Chain) recordPlan(e *Entry) error {
	if r, ok := c.plans[e.Object]; ok {
		return fmt.Errorf("prune plan %x already recorded at entry %d: %w", e.Object[:8], r.Seq, ErrInvalid)
	}
	c.plans[e.Object] = c.record(e)
	return nil
}

// Snapshot returns the record of a snapshot the chain holds and has not
// forgotten.
func (c *Chain) Snapshot(id ObjectID) (Record, bool) {
	r, ok := c.snaps[id]
	return r, ok
}

// Snapshots returns the records of every snapshot the chain holds and has
// not forgotten, in the order they were recorded.
func (c *Chain) Snapshots() []Record {
	out := slices.Collect(maps.Values(c.snaps))
	slices.SortFunc(out, func(a, b Record) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

// Forgotten reports whether a snapshot was forgotten, and by which entry.
func (c *Chain) Forgotten(id ObjectID) (seq uint64, ok bool) {
	seq, ok = c.forgotten[id]
	return seq, ok
}

// Plan returns the record of a prune plan the chain holds.
func (c *Chain) Plan(id ObjectID) (Record, bool) {
	r, ok := c.plans[id]
	return r, ok
}

// RecordSnapshot returns the entry recording snapshot id, written by the
// signing device.
func (c *Chain) RecordSnapshot(s Signer, id ObjectID, now time.Time) ([]byte, error) {
	return c.seal(&Entry{Type: TypeSnapshot, Object: id}, s, nil, now)
}

// ForgetSnapshots returns the entry forgetting ids (1 to MaxForget
// snapshots the chain holds).
func (c *Chain) ForgetSnapshots(s Signer, ids []ObjectID, now time.Time) ([]byte, error) {
	return c.seal(&Entry{Type: TypeForget, Forget: slices.Clone(ids)}, s, nil, now)
}

// RecordPlan returns the entry recording prune plan id.
func (c *Chain) RecordPlan(s Signer, id ObjectID, now time.Time) ([]byte, error) {
	return c.seal(&Entry{Type: TypePrunePlan, Object: id}, s, nil, now)
}
