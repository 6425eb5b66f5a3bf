package treewalk_test

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/archiver"
	"github.com/coffer-backup/coffer/internal/testtree/testrepo"
	"github.com/coffer-backup/coffer/internal/tree"
	"github.com/coffer-backup/coffer/internal/treewalk"
)

// TestHostileSnapshots runs the walks behind ls and diff, as the commands
// call them, over snapshots an append-only device can store: 41 valid
// trees that make a walk of 2^42 items, and a chain of 1000 directories
// with 4096-byte names. Each must fail quickly, in little memory, before
// reporting anything.
func TestHostileSnapshots(t *testing.T) {
	r := testrepo.New(t)
	doubling := r.DoublingSnapshot(t, 40)
	deep := r.DeepSnapshot(t, 1000, 4096)
	src := t.TempDir()
	build(t, src, entry{"f", "honest"})
	_, res := r.Backup(t, archiver.Options{}, src)
	honest := r.Snapshot(t, res.Snapshot)
	rr := r.Reopen(t)
	visit := func(string, *tree.Node) error { t.Error("listed an item"); return nil }
	change := func(treewalk.Change) error { t.Error("reported a change"); return nil }
	budget := "snapshot " + doubling.ID.Short() + ": tree walk exceeds budget of 1048576 entries: the snapshot may be hostile"
	for _, c := range []struct {
		name, want string
		run        func() error
	}{
		{"ls", budget, func() error { return treewalk.WalkAt(ctx, rr, treewalk.RootOf(doubling), "/", visit) }},
		{"ls below a path", budget, func() error { return treewalk.WalkAt(ctx, rr, treewalk.RootOf(doubling), "/a/b", visit) }},
		{"diff", budget, func() error {
			return treewalk.Diff(ctx, rr, treewalk.RootOf(honest), treewalk.RootOf(doubling), change)
		}},
		{"ls of long names", "entry name of 4096 bytes exceeds the limit of 255", func() error {
			return treewalk.WalkAt(ctx, rr, treewalk.RootOf(deep), "/", visit)
		}},
		{"diff of long names", "entry name of 4096 bytes exceeds the limit of 255", func() error {
			return treewalk.Diff(ctx, rr, treewalk.RootOf(deep), treewalk.RootOf(honest), change)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			err := c.run()
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want %q", err, c.want)
			}
			if c.want == budget && !errors.Is(err, treewalk.ErrBudget) {
				t.Errorf("%v does not wrap ErrBudget", err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; elapsed > 10*time.Second || alloc > 64<<20 {
				t.Errorf("failing took %v and %d MB", elapsed, alloc>>20)
			}
		})
	}
}
