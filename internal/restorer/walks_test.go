//go:build linux

package restorer_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/archiver"
	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/restorer"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/testtree"
	"github.com/coffer-backup/coffer/internal/testtree/testrepo"
	"github.com/coffer-backup/coffer/internal/treewalk"
	"golang.org/x/sys/unix"
)

// cost runs f and returns how long it took and how many bytes it allocated
// (the whole process's, so tests using it do not run in parallel).
func cost(f func()) (time.Duration, uint64) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	f()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	return elapsed, after.TotalAlloc - before.TotalAlloc
}

// countItems returns the number of items below dir, or 0 if it is absent.
func countItems(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if errors.Is(err, os.ErrNotExist) && p == dir {
			return filepath.SkipDir
		}
		n++
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return max(n-1, 0)
}

// chainDepth returns how many directories nest below dir, following the
// first entry of each by descriptor, since their paths may be too long to
// name; 0 if dir is absent.
func chainDepth(t *testing.T, dir string) int {
	t.Helper()
	f, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	for n := 0; ; n++ {
		if err != nil {
			t.Fatal(err)
		}
		names, _ := f.Readdirnames(-1)
		if len(names) == 0 {
			f.Close()
			return n
		}
		var fd int
		fd, err = unix.Openat(int(f.Fd()), names[0], unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		f.Close()
		f = os.NewFile(uintptr(fd), names[0])
	}
}

// TestDoublingSnapshotRefused restores a snapshot of 41 small trees whose
// walk would create 2^42 - 2 items: the restore must fail at once, having
// created nothing, with the budget error.
func TestDoublingSnapshotRefused(t *testing.T) {
	r := testrepo.New(t)
	sn := r.DoublingSnapshot(t, 40)
	target := filepath.Join(t.TempDir(), "target")
	var err error
	elapsed, alloc := cost(func() {
		_, err = r.Restore(t, sn.Tree, restorer.Options{Target: target, Limits: treewalk.LimitsFor(sn)})
	})
	want := fmt.Sprintf("snapshot %s: tree walk exceeds budget of %d entries: the snapshot may be hostile",
		sn.ID.Short(), treewalk.MinEntries)
	if !errors.Is(err, treewalk.ErrBudget) || err.Error() != want {
		t.Errorf("restore: %v\nwant %s", err, want)
	}
	if n := countItems(t, target); n != 0 {
		t.Errorf("the refused restore created %d items", n)
	}
	if elapsed > 10*time.Second || alloc > 64<<20 {
		t.Errorf("refusing took %v and %d MB", elapsed, alloc>>20)
	}
	for _, inc := range []string{"a/a/b", "b"} {
		_, err := r.Restore(t, sn.Tree, restorer.Options{Target: target, Include: includes(t, inc), Limits: treewalk.LimitsFor(sn)})
		if !errors.Is(err, treewalk.ErrBudget) {
			t.Errorf("restore of %s: %v", inc, err)
		}
	}
}

// TestDeepSnapshots restores chains of 1000 directories: with 4096-byte
// names the first tree is refused before anything is created; with
// 255-byte names, the longest allowed, the restore creates what the kernel
// can resolve and reports the rest, in bounded time and memory.
func TestDeepSnapshots(t *testing.T) {
	for _, c := range []struct {
		nameLen int
		why     string
		made    int
	}{
		{4096, "entry name of 4096 bytes exceeds the limit of 255", 0},
		{255, "file name too long", (4095 + 1) / (255 + 1)}, // the longest relative path the kernel resolves
	} {
		t.Run(fmt.Sprint(c.nameLen), func(t *testing.T) {
			r := testrepo.New(t)
			sn := r.DeepSnapshot(t, 1000, c.nameLen)
			target := filepath.Join(t.TempDir(), "target")
			var err error
			elapsed, alloc := cost(func() {
				_, err = r.Restore(t, sn.Tree, restorer.Options{Target: target, Limits: treewalk.LimitsFor(sn)})
			})
			if err == nil || !strings.Contains(err.Error(), c.why) {
				t.Errorf("restore: %v, want it to say %q", err, c.why)
			}
			if n := chainDepth(t, target); n != c.made {
				t.Errorf("created %d directories, want %d", n, c.made)
			}
			if elapsed > 20*time.Second || alloc > 256<<20 {
				t.Errorf("took %v and %d MB", elapsed, alloc>>20)
			}
		})
	}
}

// TestSharedDirectoriesRestore restores honest snapshots whose directories
// share trees: many empty directories backed up by the archiver, and, as a
// backup of a bind-mounted directory makes, identical directories sharing
// one tree over two levels.
func TestSharedDirectoriesRestore(t *testing.T) {
	t.Run("empty directories", func(t *testing.T) {
		r := testrepo.New(t)
		src := filepath.Join(t.TempDir(), "src")
		var spec testtree.Spec
		for i := range 300 {
			spec = append(spec, testtree.Entry{Path: fmt.Sprintf("d%03d/empty", i), Type: 2, Mode: 0o755})
		}
		testtree.Build(t, src, spec)
		_, res := r.Backup(t, archiver.Options{}, src)
		sn := r.Snapshot(t, res.Snapshot)
		a, b := r.Node(t, sn.Tree, "src/d000/empty"), r.Node(t, sn.Tree, "src/d299/empty")
		if a.Subtrees[0] != b.Subtrees[0] {
			t.Fatal("empty directories do not share their tree")
		}
		target := filepath.Join(t.TempDir(), "target")
		if _, err := r.Restore(t, sn.Tree, restorer.Options{Target: target, Limits: treewalk.LimitsFor(sn)}); err != nil {
			t.Fatal(err)
		}
		testtree.Compare(t, src, filepath.Join(target, "src"))
	})
	t.Run("identical directories", func(t *testing.T) {
		r := testrepo.New(t)
		h := hostile{t, r}
		leaf := h.tree(h.file("f", "same"), h.file("g", "content"))
		mid := h.tree(dirs(h, 20, leaf)...)
		root := h.tree(h.dir("src", h.tree(dirs(h, 20, mid)...)))
		sn := saveSnapshot(t, r, root, &snapshot.Summary{TotalFiles: 800, DirsNew: 421})
		target := filepath.Join(t.TempDir(), "target")
		rs, err := r.Restore(t, sn.Tree, restorer.Options{Target: target, Limits: treewalk.LimitsFor(sn)})
		if err != nil {
			t.Fatal(err)
		}
		if rs.Stats.Dirs.Load() != 421 || rs.Stats.Files.Load() != 800 || countItems(t, target) != 1221 {
			t.Errorf("restored %d directories and %d files", rs.Stats.Dirs.Load(), rs.Stats.Files.Load())
		}
		if b, err := os.ReadFile(filepath.Join(target, "src/d19/d07/g")); err != nil || string(b) != "content" {
			t.Errorf("src/d19/d07/g: %q, %v", b, err)
		}
	})
}

// dirs returns n directories d00, d01, ... sharing the tree sub.
func dirs(h hostile, n int, sub blob.ID) []rawNode {
	var out []rawNode
	for i := range n {
		out = append(out, h.dir(fmt.Sprintf("d%02d", i), sub))
	}
	return out
}

func saveSnapshot(t *testing.T, r *testrepo.Repo, root blob.ID, sum *snapshot.Summary) snapshot.Stored {
	t.Helper()
	ctx := context.Background()
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sn := &snapshot.Snapshot{Time: time.Now(), Hostname: "h", Paths: []string{"/src"}, Tree: root, Summary: sum}
	id, err := r.SaveSnapshot(ctx, sn)
	if err != nil {
		t.Fatal(err)
	}
	return snapshot.Stored{ID: id, Snapshot: sn}
}
