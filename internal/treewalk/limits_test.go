package treewalk_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/tree"
	"github.com/coffer-backup/coffer/internal/treewalk"
)

// memTrees holds tree blobs in memory and counts their loads.
type memTrees struct {
	blobs map[blob.ID][]byte
	loads int
}

func newMemTrees() *memTrees { return &memTrees{blobs: make(map[blob.ID][]byte)} }

func (m *memTrees) LoadBlob(_ context.Context, _ blob.Type, id blob.ID, dst []byte) ([]byte, error) {
	m.loads++
	b, ok := m.blobs[id]
	if !ok {
		return nil, fmt.Errorf("blob %s is not stored", id.Short())
	}
	return append(dst, b...), nil
}

// save stores a tree of nodes, sorting them.
func (m *memTrees) save(t testing.TB, nodes ...*tree.Node) blob.ID {
	t.Helper()
	tr := &tree.Tree{Nodes: nodes}
	tr.Sort()
	b, err := tr.Encode()
	if err != nil {
		t.Fatal(err)
	}
	id := blob.ID(sha256.Sum256(b))
	m.blobs[id] = b
	return id
}

func dirNode(name string, subtrees ...blob.ID) *tree.Node {
	return &tree.Node{Name: []byte(name), Type: tree.Dir, Mode: 0o755, Subtrees: subtrees}
}

func fileNode(name string, size uint64) *tree.Node {
	n := &tree.Node{Name: []byte(name), Type: tree.File, Mode: 0o644, Size: size}
	if size > 0 {
		n.Content = []tree.Extent{{Length: size}} // a hole
	}
	return n
}

// doubling stores levels trees, each listing two directories that share
// the tree below, and returns the top one: 2^(levels+1) - 2 items.
func (m *memTrees) doubling(t testing.TB, levels int, leaf ...*tree.Node) blob.ID {
	below := m.save(t, leaf...)
	for range levels {
		below = m.save(t, dirNode("a", below), dirNode("b", below))
	}
	return below
}

// chain stores depth nested directories "d" and returns the root tree: its
// deepest path has depth names.
func (m *memTrees) chain(t testing.TB, depth int) blob.ID {
	below := m.save(t)
	for range depth {
		below = m.save(t, dirNode("d", below))
	}
	return below
}

func TestLimitsFor(t *testing.T) {
	id := blob.ID{0xab, 0xcd}
	for _, c := range []struct {
		name           string
		sum            *snapshot.Summary
		entries, bytes uint64
	}{
		{"no summary: the caps", nil, treewalk.MaxEntries, treewalk.MaxBytes},
		{"empty summary: the floors", &snapshot.Summary{}, treewalk.MinEntries, treewalk.MinBytes},
		{"small: the floors", &snapshot.Summary{TotalFiles: 1000, DirsNew: 10, TotalBytes: 1 << 30},
			treewalk.MinEntries, treewalk.MinBytes},
		{"large: four times the totals", &snapshot.Summary{TotalFiles: 1 << 22, DirsNew: 1 << 20, DirsChanged: 1 << 20,
			DirsUnmodified: 1 << 21, TotalBytes: 1 << 40}, 1 << 25, 4 * (1<<23*1024 + 1<<34)},
		{"huge: the caps", &snapshot.Summary{TotalFiles: 1 << 40, TotalBytes: 1 << 60}, treewalk.MaxEntries, treewalk.MaxBytes},
		{"overflowing: the caps", &snapshot.Summary{TotalFiles: math.MaxUint64, DirsNew: math.MaxUint64,
			TotalBytes: math.MaxUint64}, treewalk.MaxEntries, treewalk.MaxBytes},
	} {
		t.Run(c.name, func(t *testing.T) {
			lim := treewalk.LimitsFor(snapshot.Stored{ID: id, Snapshot: &snapshot.Snapshot{Summary: c.sum}})
			if lim.Entries != c.entries || lim.Bytes != c.bytes || lim.Snapshot != id.Short() {
				t.Errorf("got %+v, want %d entries, %d bytes", lim, c.entries, c.bytes)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	lim := treewalk.Limits{Snapshot: "abcd", Entries: 100, Bytes: 1000}
	for _, c := range []struct {
		name string
		lim  treewalk.Limits
		sz   treewalk.Size
		want string // "" for no error
	}{
		{"within", lim, treewalk.Size{Entries: 100, TreeBytes: 1000, Depth: treewalk.MaxDepth}, ""},
		{"entries", lim, treewalk.Size{Entries: 101},
			"snapshot abcd: tree walk exceeds budget of 100 entries: the snapshot may be hostile"},
		{"bytes", lim, treewalk.Size{TreeBytes: 1001},
			"snapshot abcd: tree walk exceeds budget of 1000 bytes of trees: the snapshot may be hostile"},
		{"depth", lim, treewalk.Size{Depth: treewalk.MaxDepth + 1},
			"snapshot abcd: tree walk exceeds budget of 2048 nested directories: the snapshot may be hostile"},
		{"zero limits are the caps", treewalk.Limits{}, treewalk.Size{Entries: treewalk.MaxEntries, TreeBytes: treewalk.MaxBytes}, ""},
		{"beyond the caps, no name", treewalk.Limits{}, treewalk.Size{Entries: treewalk.MaxEntries + 1},
			"tree walk exceeds budget of 1073741824 entries: the snapshot may be hostile"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.lim.Check(c.sz)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.want != "" && (err == nil || err.Error() != c.want || !errors.Is(err, treewalk.ErrBudget)):
				t.Errorf("got %v, want %q wrapping ErrBudget", err, c.want)
			}
		})
	}
}

// TestSizes measures trees that share subtrees: the counts are those of
// a full walk, and each distinct tree is loaded once.
func TestSizes(t *testing.T) {
	m := newMemTrees()
	leaf := m.save(t, fileNode("f", 10), fileNode("g", 5), &tree.Node{Name: []byte("l"), Type: tree.Symlink, LinkTarget: []byte("f")})
	mid := m.save(t, dirNode("a", leaf), dirNode("b", leaf), fileNode("h", 1))
	split := []blob.ID{m.save(t, dirNode("p", mid)), m.save(t, dirNode("q", mid))} // one directory in two blobs
	for _, c := range []struct {
		name  string
		root  blob.ID
		want  treewalk.Size
		trees int
	}{
		{"empty", m.save(t), treewalk.Size{}, 1},
		{"leaf", leaf, treewalk.Size{Entries: 3, Files: 2, FileBytes: 15, Depth: 1}, 1},
		{"shared twice", mid, treewalk.Size{Entries: 9, Files: 5, FileBytes: 31, Depth: 2}, 2},
		{"shared four times", m.save(t, dirNode("x", mid), dirNode("y", mid)),
			treewalk.Size{Entries: 20, Files: 10, FileBytes: 62, Depth: 3}, 3},
		{"split directory", m.save(t, dirNode("s", split...)),
			treewalk.Size{Entries: 21, Files: 10, FileBytes: 62, Depth: 4}, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := treewalk.Root{Tree: c.root}
			visits := 0
			if err := treewalk.Walk(ctx, m, r, func(string, *tree.Node) error { visits++; return nil }); err != nil {
				t.Fatal(err)
			}
			m.loads = 0
			got, err := treewalk.Measure(ctx, m, r)
			if err != nil {
				t.Fatal(err)
			}
			c.want.TreeBytes = got.TreeBytes // checked below
			if got != c.want || uint64(visits) != got.Entries || m.loads != c.trees {
				t.Errorf("got %+v after %d loads, want %+v after %d; the walk visited %d", got, m.loads, c.want, c.trees, visits)
			}
		})
	}
}

// TestMeasureIsExact checks that the budget counts what a walk visits: a
// snapshot of many identical directories passes with exactly its size.
func TestMeasureIsExact(t *testing.T) {
	m := newMemTrees()
	same := m.save(t, fileNode("f", 1), fileNode("g", 2))
	var dirs []*tree.Node
	for i := range 500 {
		dirs = append(dirs, dirNode(fmt.Sprintf("copy-%03d", i), same))
	}
	root := m.save(t, dirs...)
	r := treewalk.Root{Tree: root, Limits: treewalk.Limits{Entries: 1500}}
	n := 0
	if err := treewalk.Walk(ctx, m, r, func(string, *tree.Node) error { n++; return nil }); err != nil || n != 1500 {
		t.Fatalf("walk of 1500 items within a budget of 1500: %d items, %v", n, err)
	}
	r.Limits.Entries = 1499
	n = 0
	err := treewalk.Walk(ctx, m, r, func(string, *tree.Node) error { n++; return nil })
	if !errors.Is(err, treewalk.ErrBudget) || n != 0 {
		t.Fatalf("walk of 1500 items within a budget of 1499: %d items, %v", n, err)
	}
}

// TestDoublingRefused walks, lists below a path, compares and measures a
// 40-level doubling graph: each fails before visiting anything, having
// loaded each tree about once.
func TestDoublingRefused(t *testing.T) {
	m := newMemTrees()
	bad := m.doubling(t, 40)
	other := m.doubling(t, 40, fileNode("f", 0)) // a different leaf, so no level compares equal
	honest := m.save(t, dirNode("a", m.save(t)))
	r := func(id blob.ID) treewalk.Root {
		return treewalk.Root{Tree: id, Limits: treewalk.Limits{Snapshot: id.Short()[:4], Entries: treewalk.MinEntries}}
	}
	visit := func(string, *tree.Node) error { t.Fatal("visited an item"); return nil }
	change := func(treewalk.Change) error { t.Fatal("reported a change"); return nil }
	for _, c := range []struct {
		name string
		run  func() error
		who  string // the snapshot named
	}{
		{"walk", func() error { return treewalk.Walk(ctx, m, r(bad), visit) }, r(bad).Limits.Snapshot},
		{"walk below a path", func() error { return treewalk.WalkAt(ctx, m, r(bad), "/a/b/a", visit) }, r(bad).Limits.Snapshot},
		{"measure", func() error { _, err := treewalk.Measure(ctx, m, r(bad)); return err }, r(bad).Limits.Snapshot},
		{"diff from honest", func() error { return treewalk.Diff(ctx, m, r(honest), r(bad), change) }, r(bad).Limits.Snapshot},
		{"diff to honest", func() error { return treewalk.Diff(ctx, m, r(bad), r(honest), change) }, r(bad).Limits.Snapshot},
		{"diff of two", func() error { return treewalk.Diff(ctx, m, r(other), r(bad), change) }, r(other).Limits.Snapshot},
	} {
		t.Run(c.name, func(t *testing.T) {
			m.loads = 0
			err := c.run()
			want := fmt.Sprintf("snapshot %s: tree walk exceeds budget of %d entries", c.who, treewalk.MinEntries)
			if !errors.Is(err, treewalk.ErrBudget) || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("got %v, want %q...", err, want)
			}
			if m.loads > 2*(2*41+2) {
				t.Errorf("%d tree loads for 84 distinct trees", m.loads)
			}
		})
	}
}

// TestDepth walks chains of directories up to and beyond MaxDepth.
func TestDepth(t *testing.T) {
	m := newMemTrees()
	ok, deep := m.chain(t, treewalk.MaxDepth), m.chain(t, treewalk.MaxDepth+1)
	deepest := strings.Repeat("/d", treewalk.MaxDepth)
	n := 0
	if err := treewalk.Walk(ctx, m, treewalk.Root{Tree: ok}, func(p string, _ *tree.Node) error { n++; return nil }); err != nil || n != treewalk.MaxDepth {
		t.Fatalf("chain of MaxDepth: %d items, %v", n, err)
	}
	if err := treewalk.WalkAt(ctx, m, treewalk.Root{Tree: ok}, deepest, func(string, *tree.Node) error { return nil }); err != nil {
		t.Fatalf("the deepest directory of a chain of MaxDepth: %v", err)
	}
	for _, c := range []struct {
		name string
		err  error
	}{
		{"walk", treewalk.Walk(ctx, m, treewalk.Root{Tree: deep}, func(string, *tree.Node) error { return nil })},
		{"walk below", treewalk.WalkAt(ctx, m, treewalk.Root{Tree: deep}, "/d/d", func(string, *tree.Node) error { return nil })},
		{"diff", treewalk.Diff(ctx, m, treewalk.Root{Tree: ok}, treewalk.Root{Tree: deep}, func(treewalk.Change) error { return nil })},
	} {
		if !errors.Is(c.err, treewalk.ErrBudget) || !strings.Contains(c.err.Error(), "2048 nested directories") {
			t.Errorf("%s of a chain deeper than MaxDepth: %v", c.name, c.err)
		}
	}
	if _, err := treewalk.Lookup(ctx, m, deep, deepest+"/d"); !errors.Is(err, treewalk.ErrNotFound) {
		t.Errorf("lookup of a path of more than MaxDepth names: %v", err)
	}
}

// TestDiffLimitsEachSide checks that Diff charges each snapshot with what
// it visits of it: an added subtree counts against the newer snapshot.
func TestDiffLimitsEachSide(t *testing.T) {
	m := newMemTrees()
	same := m.save(t, fileNode("f", 1))
	a := m.save(t, dirNode("keep", same))
	b := m.save(t, dirNode("keep", same), dirNode("new", m.doubling(t, 4)))
	// b: "new" and 30 items below it; a: "keep" only (unchanged, not descended).
	for _, c := range []struct {
		na, nb uint64
		ok     bool
	}{{1, 2 + 30, true}, {1, 2 + 29, false}, {0, 2 + 30, true}} {
		ra := treewalk.Root{Tree: a, Limits: treewalk.Limits{Snapshot: "A", Entries: c.na}}
		rb := treewalk.Root{Tree: b, Limits: treewalk.Limits{Snapshot: "B", Entries: c.nb}}
		n := 0
		err := treewalk.Diff(ctx, m, ra, rb, func(treewalk.Change) error { n++; return nil })
		if c.ok && (err != nil || n != 31) || !c.ok && !strings.HasPrefix(fmt.Sprint(err), "snapshot B: ") {
			t.Errorf("limits %d, %d: %d changes, %v", c.na, c.nb, n, err)
		}
	}
}
