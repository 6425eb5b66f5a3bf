package pruner

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
)

func TestPruneFreesSpace(t *testing.T) {
	for _, tc := range []struct {
		name    string
		backups []files
		forget  []int // indexes into backups
		// Expected result; packs are those each backup wrote: one of
		// data blobs and one of trees.
		deleted, repacked, repackedBlobs int
		gone                             []int // backups whose packs must be gone
	}{
		{
			name:    "nothing forgotten, one pack",
			backups: []files{set(0, 1)},
		},
		{
			name:    "forgotten snapshot's own pack is deleted",
			backups: []files{set(0, 1), set(2)},
			forget:  []int{1},
			deleted: 2, gone: []int{1},
		},
		{
			// The used blob of the first data pack and the small
			// second data pack's blob move to one new pack; the first
			// tree pack goes; the second, small but the only tree pack
			// left, is not merged with data.
			name:    "mostly unused pack is repacked with small ones",
			backups: []files{set(0, 1, 2), set(0, 3)},
			forget:  []int{0},
			deleted: 3, repacked: 2, repackedBlobs: 2, gone: []int{0},
		},
		{
			// 3 data blobs to one data pack, and each snapshot's root
			// and directory trees to one tree pack.
			name:    "small packs are merged",
			backups: []files{set(0), set(1), set(2)},
			deleted: 6, repacked: 6, repackedBlobs: 9, gone: []int{0, 1, 2},
		},
		{
			name:    "every snapshot forgotten",
			backups: []files{set(0), set(1)},
			forget:  []int{0, 1},
			deleted: 4, gone: []int{0, 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			var ids []blob.ID
			var packs [][]blob.ID
			for _, fs := range tc.backups {
				before := f.packs()
				ids = append(ids, f.backup(fs))
				packs = append(packs, newPacks(before, f.packs()))
			}
			for _, i := range tc.forget {
				f.forget(ids[i])
			}
			before := f.packs()
			res := f.prune(Options{})
			if res.DeletedPacks != tc.deleted || res.RepackedPacks != tc.repacked || res.RepackedBlobs != tc.repackedBlobs {
				t.Errorf("deleted %d, repacked %d packs and %d blobs; want %d, %d, %d",
					res.DeletedPacks, res.RepackedPacks, res.RepackedBlobs, tc.deleted, tc.repacked, tc.repackedBlobs)
			}
			if res.PlannedPacks != tc.deleted || len(res.Pending) != 0 || res.ResurrectedPacks != 0 {
				t.Errorf("planned %d, pending %v, resurrected %d", res.PlannedPacks, res.Pending, res.ResurrectedPacks)
			}
			var freed int64
			after := f.packs()
			for _, i := range tc.gone {
				for _, id := range packs[i] {
					if _, ok := after[id]; ok {
						t.Errorf("pack %s of backup %d survived", id.Short(), i)
					}
				}
			}
			for id, size := range before {
				if _, ok := after[id]; !ok {
					freed += size
				}
			}
			f.packKinds()
			if res.BytesFreed != freed {
				t.Errorf("freed %d bytes, want %d", res.BytesFreed, freed)
			}
			if n := f.count(store.Prune); n != 0 {
				t.Errorf("%d plans left", n)
			}
			f.verify()
			f.settle()
			f.verify()
		})
	}
}

func TestSessionDefersDeletion(t *testing.T) {
	for _, tc := range []struct {
		name  string
		end   bool          // end the session before the second prune
		later time.Duration // clock of the second prune, ahead of real time
		gone  bool          // the second prune finds the session's process gone
		stale int
	}{
		{name: "session ends", end: true},
		{name: "session still running", later: time.Hour},
		{name: "crashed session goes stale", later: 25 * time.Hour, stale: 1},
		{name: "crashed session's process is gone", gone: true, stale: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.backup(set(0))
			before := f.packs()
			gone := f.backup(set(1))
			doomed := newPacks(before, f.packs())
			f.forget(gone)

			sess, err := f.open().StartSession(ctx, "busy")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sess.End(ctx) })
			res := f.prune(Options{})
			if res.PlannedPacks != len(doomed) || res.DeletedPacks != 0 || len(res.Pending) != 1 {
				t.Fatalf("with a session: planned %d, deleted %d, pending %v", res.PlannedPacks, res.DeletedPacks, res.Pending)
			}
			r := f.open()
			late, err := r.StartSession(ctx, "late")
			if err != nil {
				t.Fatal(err)
			}
			if err := r.LoadIndex(ctx); err != nil {
				t.Fatal(err)
			}
			r.Index.Each(func(_ index.Prefix, loc index.Location) bool {
				if loc.Pack == doomed[0] {
					t.Error("a backup starting now still sees the planned pack")
					return false
				}
				return true
			})
			late.End(ctx)

			if tc.end {
				if err := sess.End(ctx); err != nil {
					t.Fatal(err)
				}
			}
			res = f.prune(Options{Now: func() time.Time { return time.Now().Add(tc.later) },
				goneCheck: func(repo.SessionInfo) bool { return tc.gone }})
			wantDeleted := len(doomed)
			if !tc.end && tc.stale == 0 {
				wantDeleted = 0
			}
			if res.DeletedPacks != wantDeleted || res.StaleSessions != tc.stale || len(res.Pending) != min(1, len(doomed)-wantDeleted) {
				t.Errorf("deleted %d, stale %d, pending %v; want %d deleted, %d stale",
					res.DeletedPacks, res.StaleSessions, res.Pending, wantDeleted, tc.stale)
			}
			if _, ok := f.packs()[doomed[0]]; ok != (wantDeleted == 0) {
				t.Errorf("planned pack present: %v", ok)
			}
			f.restoreAll()
		})
	}
}

func TestBackupDuringPrune(t *testing.T) {
	for _, tc := range []struct {
		name        string
		startBefore bool // the backup's session starts before the plan
		resurrected int
	}{
		{name: "backup started before the plan reuses a planned blob", startBefore: true, resurrected: 1},
		{name: "backup started after the plan stores the blob again"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.backup(set(0))
			before := f.packs()
			f.forget(f.backup(set(1)))
			doomedAll := newPacks(before, f.packs())
			doomed := f.dataPack(doomedAll)

			// A session that keeps the plan pending in either case.
			blocker, err := f.open().StartSession(ctx, "blocker")
			if err != nil {
				t.Fatal(err)
			}
			r := f.open()
			if tc.startBefore {
				s, err := r.StartSession(ctx, "late")
				if err != nil {
					t.Fatal(err)
				}
				if err := r.LoadIndex(ctx); err != nil {
					t.Fatal(err)
				}
				if res := f.prune(Options{}); res.PlannedPacks != len(doomedAll) || len(res.Pending) != 1 {
					t.Fatalf("planned %d, pending %v", res.PlannedPacks, res.Pending)
				}
				f.archive(r, set(1, 2))
				if err := s.End(ctx); err != nil {
					t.Fatal(err)
				}
			} else {
				if res := f.prune(Options{}); res.PlannedPacks != len(doomedAll) || len(res.Pending) != 1 {
					t.Fatalf("planned %d, pending %v", res.PlannedPacks, res.Pending)
				}
				f.backup(set(1, 2))
			}
			if err := blocker.End(ctx); err != nil {
				t.Fatal(err)
			}
			res := f.prune(Options{})
			if res.ResurrectedPacks != tc.resurrected || res.CompletedPlans < 1 || len(res.Pending) != 0 {
				t.Errorf("resurrected %d, completed %d plans, pending %v; want %d resurrected",
					res.ResurrectedPacks, res.CompletedPlans, res.Pending, tc.resurrected)
			}
			if _, ok := f.packs()[doomed]; ok != (tc.resurrected == 1) {
				t.Errorf("planned pack present: %v", ok)
			}
			f.verify()
		})
	}
}

// TestIndexRewrite prunes a pack named in one index object together with
// packs that stay, so the object is replaced by one that supersedes it,
// also when the prune stops right after writing the replacement.
func TestIndexRewrite(t *testing.T) {
	for _, crash := range []bool{false, true} {
		t.Run(fmt.Sprintf("crash=%v", crash), func(t *testing.T) {
			f := newFixture(t)
			// A data pack too big to be merged, and a small one; each
			// backup's trees in a small tree pack.
			f.backup(files{"big": content(7, 3<<20)})
			gone := f.backup(set(1))
			// As if both backups had stopped before writing their index:
			// the next backup indexes their packs with its own.
			r := f.open()
			names, err := r.Names(ctx, store.Index)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range names {
				if err := r.Store().Delete(ctx, store.Index, n); err != nil {
					t.Fatal(err)
				}
			}
			f.backup(set(2))
			if n := f.count(store.Index); n != 1 {
				t.Fatalf("%d index objects, want 1", n)
			}
			f.forget(gone)
			opts := Options{}
			if crash {
				opts.hook = func(s string) error {
					if s == stepIndexWritten {
						return errStopped
					}
					return nil
				}
				if _, err := Prune(ctx, f.open(), opts); !errors.Is(err, errStopped) {
					t.Fatal(err)
				}
				// The backup's, that of the tree pack merging the two
				// small tree packs, and its replacement.
				if n := f.count(store.Index); n != 3 {
					t.Fatalf("%d index objects after the crash, want 3", n)
				}
			}
			res := f.prune(Options{})
			if crash {
				res.WrittenIndex++ // written before the crash
			}
			if res.WrittenIndex != 1 || res.DeletedIndex != 1 {
				t.Errorf("wrote %d and deleted %d index objects, want 1 and 1", res.WrittenIndex, res.DeletedIndex)
			}
			if n := f.count(store.Index); n != 2 {
				t.Errorf("%d index objects, want 2", n)
			}
			// The big data pack, the last backup's data pack, and one
			// tree pack merged from the first and the last backup's.
			if n := f.count(store.Packs); n != 3 {
				t.Errorf("%d packs, want 3", n)
			}
			f.verify()
		})
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	f := newFixture(t)
	scenario(f)
	list := func() map[store.Kind][]string {
		out := make(map[store.Kind][]string)
		r := f.open()
		for _, k := range store.Kinds {
			names, err := r.Names(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(names)
			out[k] = names
		}
		return out
	}
	before := list()
	dry := f.prune(Options{DryRun: true})
	if !maps.EqualFunc(before, list(), slices.Equal) {
		t.Fatal("a dry run changed the store")
	}
	res := f.prune(Options{})
	if dry.PlannedPacks == 0 || dry.PlannedPacks != res.PlannedPacks || dry.RepackedPacks != res.RepackedPacks || dry.PlannedBytes != res.PlannedBytes {
		t.Errorf("dry run planned %d packs (%d repacked, %d bytes), prune %d (%d, %d)",
			dry.PlannedPacks, dry.RepackedPacks, dry.PlannedBytes, res.PlannedPacks, res.RepackedPacks, res.PlannedBytes)
	}
}

func TestOptions(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		fraction float64
		ok       bool
	}{
		{0, true}, {0.5, true}, {1, true},
		{-0.1, false}, {1.5, false}, {math.NaN(), false},
	} {
		_, err := Prune(ctx, f.open(), Options{RepackFraction: tc.fraction, DryRun: true})
		if (err == nil) != tc.ok {
			t.Errorf("fraction %v: %v", tc.fraction, err)
		}
	}
}

// TestSupersededIndexDeleted checks that an index object superseded by
// another (left by an interrupted prune) is deleted, and nothing is lost.
func TestSupersededIndexDeleted(t *testing.T) {
	f := newFixture(t)
	f.backup(set(0))
	r := f.open()
	names, err := r.Names(ctx, store.Index)
	if err != nil || len(names) != 1 {
		t.Fatalf("index objects %v (%v)", names, err)
	}
	old, err := r.LoadIndexFile(ctx, names[0])
	if err != nil {
		t.Fatal(err)
	}
	oldID, err := blob.ParseID(names[0])
	if err != nil {
		t.Fatal(err)
	}
	repl := index.File{Packs: old.Packs, Supersedes: []blob.ID{oldID}}
	if _, err := r.SaveObject(ctx, store.Index, crypt.ADIndex, repl.Encode()); err != nil {
		t.Fatal(err)
	}
	res := f.prune(Options{})
	if res.DeletedIndex != 1 || res.WrittenIndex != 0 || res.DeletedPacks != 0 {
		t.Errorf("deleted %d and wrote %d index objects, deleted %d packs; want 1, 0, 0", res.DeletedIndex, res.WrittenIndex, res.DeletedPacks)
	}
	if _, err := r.Store().Stat(ctx, store.Index, names[0]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("superseded object still there (%v)", err)
	}
	f.verify()
}
