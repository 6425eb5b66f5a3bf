package account_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/account"
	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/devices"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/store"
)

// recordSnapshot stores and records a snapshot tagged tags; f.c follows.
func (f *fixture) recordSnapshot(t *testing.T, tags ...string) blob.ID {
	t.Helper()
	id, err := f.r.SaveSnapshot(ctx, &snapshot.Snapshot{Time: time.Now(), Hostname: "h", Paths: []string{"/x"}, Tags: tags, Tree: blob.ID{9}})
	if err != nil {
		t.Fatal(err)
	}
	if f.c, err = account.RecordSnapshot(ctx, f.st, f.c, f.dev, id); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestRetag: a retagged snapshot is a new object, recorded as the
// retagger's, the old one forgotten and deleted; unchanged ones are left
// alone.
func TestRetag(t *testing.T) {
	f := newFixture(t)
	a, b := f.recordSnapshot(t, "x"), f.recordSnapshot(t, "y")
	h, err := account.ReadHistory(ctx, f.r, f.c)
	if err != nil {
		t.Fatal(err)
	}
	done, c, err := account.Retag(ctx, f.r, f.c, f.dev, h.Snapshots, snapshot.TagChange{Add: []string{"y"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 1 || done[0].Old != a || !slices.Equal(done[0].Tags, []string{"x", "y"}) {
		t.Fatalf("retagged %+v", done)
	}
	h, err = account.ReadHistory(ctx, f.r, c)
	if err != nil {
		t.Fatal(err)
	}
	var ids []blob.ID
	for _, s := range h.Snapshots {
		ids = append(ids, s.ID)
		if s.ID == done[0].New && (s.Author.Device != f.dev.ID || !slices.Equal(s.Tags, []string{"x", "y"})) {
			t.Errorf("new snapshot %+v by %+v", s.Snapshot, s.Author)
		}
	}
	if !slices.Contains(ids, b) || !slices.Contains(ids, done[0].New) || slices.Contains(ids, a) || len(ids) != 2 {
		t.Errorf("snapshots after retag: %v", ids)
	}
	if _, ok := c.Forgotten(devices.ObjectID(a)); !ok {
		t.Error("the old snapshot is not forgotten")
	}
	if len(h.Ignored) != 0 {
		t.Errorf("the old object is still in the store: %v", h.Ignored)
	}
}

// TestRetagRefuses: a device that is not a full member, or a snapshot an
// append-only device wrote, is refused before anything is written.
func TestRetagRefuses(t *testing.T) {
	f := newFixture(t)
	f.recordSnapshot(t)
	h, err := account.ReadHistory(ctx, f.r, f.c)
	if err != nil {
		t.Fatal(err)
	}
	byAppendOnly := slices.Clone(h.Snapshots)
	byAppendOnly[0].Author.AppendOnly = true
	stranger := newDevice(t, "stranger")
	for name, tc := range map[string]struct {
		snaps []snapshot.Stored
		me    *keys.Device
	}{
		"append-only author": {byAppendOnly, f.dev},
		"not a member":       {h.Snapshots, stranger},
	} {
		t.Run(name, func(t *testing.T) {
			n := len(f.c.Entries)
			_, c, err := account.Retag(ctx, f.r, f.c, tc.me, tc.snaps, snapshot.TagChange{Add: []string{"z"}})
			if !errors.Is(err, devices.ErrNoRight) || len(c.Entries) != n {
				t.Errorf("err %v, %d entries, had %d", err, len(c.Entries), n)
			}
			if names, _ := f.r.Names(ctx, store.Snapshots); len(names) != 1 {
				t.Errorf("%d snapshot objects", len(names))
			}
		})
	}
}
