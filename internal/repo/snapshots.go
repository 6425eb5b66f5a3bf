package repo

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/store"
)

// SaveSnapshot stores a snapshot and returns its ID.
func (r *Repo) SaveSnapshot(ctx context.Context, sn *snapshot.Snapshot) (blob.ID, error) {
	b, err := snapshot.Encode(sn)
	if err != nil {
		return blob.ID{}, err
	}
	return r.SaveObject(ctx, store.Snapshots, crypt.ADSnapshot, b)
}

// LoadSnapshot reads and authenticates one snapshot.
func (r *Repo) LoadSnapshot(ctx context.Context, id blob.ID) (snapshot.Stored, error) {
	b, err := r.LoadObject(ctx, store.Snapshots, id.String(), crypt.ADSnapshot, snapshot.MaxSize)
	if err != nil {
		return snapshot.Stored{}, err
	}
	sn, err := snapshot.Decode(b)
	if err != nil {
		return snapshot.Stored{}, fmt.Errorf("snapshot %s: %w", id, err)
	}
	return snapshot.Stored{ID: id, Snapshot: sn}, nil
}

// Snapshots reads every snapshot, oldest first. Any snapshot that fails to
// authenticate makes it fail: a tampered repository is reported, not
// silently skipped. Prune relies on this.
func (r *Repo) Snapshots(ctx context.Context) ([]snapshot.Stored, error) {
	snaps, bad, err := r.ReadableSnapshots(ctx)
	if err == nil && len(bad) > 0 {
		err = bad[0]
	}
	return snaps, err
}

// ReadableSnapshots reads every snapshot, oldest first, and returns apart
// the errors of those that do not authenticate or decode, so that reading
// commands keep working around a damaged one.
func (r *Repo) ReadableSnapshots(ctx context.Context) (snaps []snapshot.Stored, bad []error, err error) {
	names, err := r.Names(ctx, store.Snapshots)
	if err != nil {
		return nil, nil, err
	}
	return r.LoadSnapshots(ctx, names)
}

// LoadSnapshots reads the snapshots of the given object names, oldest
// first, as ReadableSnapshots does; one that is gone is left out.
func (r *Repo) LoadSnapshots(ctx context.Context, names []string) (snaps []snapshot.Stored, bad []error, err error) {
	var mu sync.Mutex
	err = forEachParallel(names, 8, func(name string) error {
		s, err := r.loadSnapshotNamed(ctx, name)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case errors.Is(err, store.ErrNotFound): // forgotten since the listing
		case err != nil:
			bad = append(bad, err)
		default:
			snaps = append(snaps, s)
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, nil, err
	}
	snapshot.Sort(snaps)
	return snaps, bad, nil
}

func (r *Repo) loadSnapshotNamed(ctx context.Context, name string) (snapshot.Stored, error) {
	id, err := blob.ParseID(name)
	if err != nil {
		return snapshot.Stored{}, fmt.Errorf("snapshots/%s: unexpected object name", name)
	}
	return r.LoadSnapshot(ctx, id)
}

// DeleteSnapshot removes a snapshot.
func (r *Repo) DeleteSnapshot(ctx context.Context, id blob.ID) error {
	if err := r.st.Delete(ctx, store.Snapshots, id.String()); err != nil {
		return fmt.Errorf("deleting snapshot %s: %w", id.Short(), err)
	}
	return nil
}

// FindSnapshot resolves "latest" or an ID prefix among the readable
// snapshots.
func (r *Repo) FindSnapshot(ctx context.Context, ref string) (snapshot.Stored, error) {
	snaps, _, err := r.ReadableSnapshots(ctx)
	if err != nil {
		return snapshot.Stored{}, err
	}
	return snapshot.Find(snaps, ref)
}
