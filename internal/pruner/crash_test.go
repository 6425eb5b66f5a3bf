package pruner

import (
	"errors"
	"sync"
	"testing"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/store"
)

// scenario forgets a snapshot whose pack must be repacked and one whose
// pack must be dropped, so that a prune takes every step of the protocol.
// It returns the packs that must be gone once the prune is done.
func scenario(f *fixture) []blob.ID {
	var gone []blob.ID
	backup := func(fs files) blob.ID {
		before := f.packs()
		id := f.backup(fs)
		gone = append(gone, newPacks(before, f.packs())...)
		return id
	}
	s1 := backup(set(0, 1, 2))
	f.backup(set(0, 3))
	s3 := backup(set(4))
	f.forget(s1, s3)
	return gone
}

func TestCrashBetweenSteps(t *testing.T) {
	for _, step := range []string{
		stepRepacked, stepPlanOpen, stepPlanComplete, stepIndexWritten,
		stepPackDeleted, stepIndexDeleted, stepPlansFinished,
	} {
		t.Run(step, func(t *testing.T) {
			f := newFixture(t)
			gone := scenario(f)
			reached := false
			_, err := Prune(ctx, f.open(), Options{hook: func(s string) error {
				if s == step {
					reached = true
					return errStopped
				}
				return nil
			}})
			if !reached || !errors.Is(err, errStopped) {
				t.Fatalf("step not reached (%v)", err)
			}
			f.restoreAll() // readers are unaffected by the interruption
			res := f.prune(Options{})
			if len(res.Pending) != 0 || res.ResurrectedPacks != 0 {
				t.Errorf("after the crash: pending %v, resurrected %d", res.Pending, res.ResurrectedPacks)
			}
			after := f.packs()
			for _, id := range gone {
				if _, ok := after[id]; ok {
					t.Errorf("pack %s survived", id.Short())
				}
			}
			if n := f.count(store.Prune); n != 0 {
				t.Errorf("%d plans left", n)
			}
			f.verify()
		})
	}
}

func TestConcurrentPrunes(t *testing.T) {
	for round := range 3 {
		f := newFixture(t)
		gone := scenario(f)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			r := f.open()
			wg.Go(func() { _, errs[i] = Prune(ctx, r, Options{}) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d, prune %d: %v", round, i, err)
			}
		}
		f.restoreAll()
		f.settle() // the next prune tidies what the race left in the index
		after := f.packs()
		for _, id := range gone {
			if _, ok := after[id]; ok {
				t.Errorf("round %d: pack %s survived", round, id.Short())
			}
		}
		f.verify()
	}
}

// TestBackupsRaceWithPrunes runs backups that reuse forgotten content
// while prunes run, and checks that nothing any snapshot needs is lost.
func TestBackupsRaceWithPrunes(t *testing.T) {
	f := newFixture(t)
	scenario(f)
	var wg sync.WaitGroup
	for i := range 3 {
		rb, rp := f.open(), f.open()
		wg.Go(func() {
			if _, err := f.tryBackup(rb, set(0, 1, uint64(5+i))); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if _, err := Prune(ctx, rp, Options{}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// Restore only once no plan is pending: repo.LoadIndex hides planned
	// packs from readers too, even one a finished backup made necessary
	// again and the next prune will resurrect.
	f.settle()
	f.verify()
}
