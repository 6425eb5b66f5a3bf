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
// silently skipped.
func (r *Repo) Snapshots(ctx context.Context) ([]snapshot.Stored, error) {
	names, err := r.Names(ctx, store.Snapshots)
	if err != nil {
		return nil, err
	}
	var (
		mu  sync.Mutex
		out []snapshot.Stored
	)
	err = forEachParallel(names, 8, func(name string) error {
		id, err := blob.ParseID(name)
		if err != nil {
			return fmt.Errorf("snapshots/%s: unexpected object name", name)
		}
		s, err := r.LoadSnapshot(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil // forgotten since the listing
		}
		if err != nil {
			return err
		}
		mu.Lock()
		out = append(out, s)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	snapshot.Sort(out)
	return out, nil
}

// FindSnapshot resolves "latest" or an ID prefix.
func (r *Repo) FindSnapshot(ctx context.Context, ref string) (snapshot.Stored, error) {
	snaps, err := r.Snapshots(ctx)
	if err != nil {
		return snapshot.Stored{}, err
	}
	return snapshot.Find(snaps, ref)
}

// DeleteSnapshot removes a snapshot.
func (r *Repo) DeleteSnapshot(ctx context.Context, id blob.ID) error {
	if err := r.st.Delete(ctx, store.Snapshots, id.String()); err != nil {
		return fmt.Errorf("deleting snapshot %s: %w", id.Short(), err)
	}
	return nil
}
