package account

import (
	"context"
	"fmt"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/snapshot"
)

// Retagged is one snapshot Retag replaced.
type Retagged struct {
	Old, New blob.ID
	Tags     []string
}

// Retag changes the tags of snaps as restic's tag command does: snapshot
// objects are immutable and named by their hash, so for each snapshot whose
// tags change it stores a new one, identical but for its tags, records it in
// the device chain as written by me, and once all are recorded forgets the
// old ones (docs/format.md §8.4). The new snapshot's author is me. An
// interruption leaves both the old and the new snapshot, never neither.
//
// Only a full device may retag, and only snapshots a full device wrote:
// recording an append-only device's snapshot as its own would make a full
// device vouch for what that device claimed (`latest`, parents). It refuses
// before writing anything.
func Retag(ctx context.Context, r *repo.Repo, c *Chain, me *keys.Device, snaps []snapshot.Stored, change snapshot.TagChange) ([]Retagged, *Chain, error) {
	if err := canRetag(c, me, snaps); err != nil {
		return nil, c, err
	}
	var done []Retagged
	var old []blob.ID
	for _, s := range snaps {
		n, changed := change.Retagged(s.Snapshot)
		if !changed {
			continue
		}
		id, err := r.SaveSnapshot(ctx, n)
		if err != nil {
			return nil, c, fmt.Errorf("storing snapshot %s retagged: %w", s.ID.Short(), err)
		}
		if c, err = RecordSnapshot(ctx, r.Store(), c, me, id); err != nil {
			return nil, c, err
		}
		done = append(done, Retagged{Old: s.ID, New: id, Tags: n.Tags})
		old = append(old, s.ID)
	}
	if len(old) == 0 {
		return done, c, nil
	}
	c, err := Forget(ctx, r, c, me, old)
	return done, c, err
}

// canRetag refuses if me is not a full device of c, or some snapshot's
// author was append-only when it signed.
func canRetag(c *Chain, me *keys.Device, snaps []snapshot.Stored) error {
	if m, ok := c.Device(me.ID); !ok || m.Rights != devices.Full {
		return fmt.Errorf("this device may not change tags, which forgets snapshots: %w", devices.ErrNoRight)
	}
	for _, s := range snaps {
		if s.Author.AppendOnly {
			return fmt.Errorf("snapshot %s was written by append-only device %s; retagging would record it as this device's: %w",
				s.ID.Short(), s.Author.Device, devices.ErrNoRight)
		}
	}
	return nil
}
