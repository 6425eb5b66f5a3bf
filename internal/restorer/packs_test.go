//go:build linux

package restorer_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"

	"github.com/coffer-backup/coffer/internal/archiver"
	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/restorer"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/testtree"
	"github.com/coffer-backup/coffer/internal/tree"
)

// random returns n reproducible random bytes.
func random(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// dupSpec is a tree in which most data is shared: 120 files of one
// 100 KiB blob in 12 directories, files that repeat a 2.5 MiB run three
// times (so one blob lands at several offsets of one file), copies of
// them, a sparse file whose islands are a shared blob, hard-link groups
// across directories, attributes and odd modes.
func dupSpec() testtree.Spec {
	shared, run := random(1, 100<<10), random(2, 5<<19)
	rep := bytes.Repeat(run, 3)
	spec := testtree.Spec{{Path: "", Type: tree.Dir, Mode: 0o750, MTime: 5}}
	for i := range 120 {
		e := testtree.Entry{Path: fmt.Sprintf("d%02d/f%03d", i%12, i), Data: shared, Mode: 0o600 + uint32(i%8), MTime: int64(i) * 1e9}
		if i%10 == 0 {
			e.Xattrs = map[string][]byte{"user.n": []byte(fmt.Sprint(i))}
		}
		spec = append(spec, e)
	}
	spec = append(spec,
		testtree.Entry{Path: "big/a", Data: rep, Mode: 0o4755},
		testtree.Entry{Path: "big/b", Data: rep, MTime: -1},
		testtree.Entry{Path: "big/c", Data: append(bytes.Clone(rep), shared...)},
		testtree.Entry{Path: "sparse", Size: 40 << 20, Islands: []testtree.Island{{Off: 1 << 20, Data: shared}, {Off: 30 << 20, Data: shared}}},
		testtree.Entry{Path: "unique", Data: random(3, 300<<10)},
		testtree.Entry{Path: "empty"},
		testtree.Entry{Path: "d00/link-a", Link: "big/a"},
		testtree.Entry{Path: "d05/link-a", Link: "big/a"},
		testtree.Entry{Path: "d11/link-f", Link: "d03/f003"},
		testtree.Entry{Path: "link-empty", Link: "empty"},
	)
	return spec
}

// TestDuplicatesRestore restores dupSpec with and without a random tree
// beside it, and compares every byte and every piece of metadata.
func TestDuplicatesRestore(t *testing.T) {
	t.Parallel()
	b := backup(t, dupSpec())
	target := t.TempDir()
	must(t, b.restore(t, restorer.Options{Target: target}))
	testtree.Compare(t, b.src, filepath.Join(target, "src"))

	r := b.r
	src := filepath.Join(t.TempDir(), "src")
	testtree.Build(t, filepath.Join(src, "dups"), dupSpec())
	testtree.Random(t, filepath.Join(src, "random"), 7, testtree.Options{Entries: 400})
	_, res := r.Backup(t, archiver.Options{}, src)
	target = t.TempDir()
	r.MustRestore(t, res.Snapshot, target)
	testtree.Compare(t, src, filepath.Join(target, "src"))
}

// countingStore records every ranged read of a pack.
type countingStore struct {
	store.Store
	mu    sync.Mutex
	reads map[string][][2]int64 // pack name -> (offset, length) of each read
}

func (c *countingStore) Get(ctx context.Context, kind store.Kind, name string, off, n int64) (io.ReadCloser, error) {
	if kind == store.Packs {
		c.mu.Lock()
		c.reads[name] = append(c.reads[name], [2]int64{off, n})
		c.mu.Unlock()
	}
	return c.Store.Get(ctx, kind, name, off, n)
}

// span is a byte range of a pack.
type span struct {
	pack   string
	off, n int64
}

// TestPackReadsOnce restores dupSpec through a store that counts reads:
// each tree is read once (measuring and walking share what was read),
// each pack's data blobs in one read, so no data blob is read twice, and
// no more bytes than the packs hold. A large file makes the data take
// more than one pack.
func TestPackReadsOnce(t *testing.T) {
	t.Parallel()
	b := backup(t, append(dupSpec(), testtree.Entry{Path: "large", Data: random(4, 24<<20)})) // more than one pack
	cs := &countingStore{Store: b.r.Store, reads: map[string][][2]int64{}}
	rs := restorer.New(b.r.OpenOn(t, cs), restorer.Options{Target: t.TempDir()})
	must(t, rs.Run(context.Background(), b.root))
	trees, data := map[span]int{}, map[span]int{}
	b.r.Index.Each(func(_ index.Prefix, l index.Location) bool {
		sp := span{l.Pack.String(), int64(l.Offset), int64(l.Length)}
		if l.Type == blob.Tree {
			trees[sp] = 0
		} else {
			data[sp] = 0
		}
		return true
	})
	var total, packBytes int64
	for name, reads := range cs.reads {
		dataReads := 0
		for _, rd := range reads {
			total += rd[1]
			if _, ok := trees[span{name, rd[0], rd[1]}]; ok {
				trees[span{name, rd[0], rd[1]}]++
				continue
			}
			dataReads++
			for sp := range data {
				if sp.pack == name && sp.off >= rd[0] && sp.off+sp.n <= rd[0]+rd[1] {
					data[sp]++
				}
			}
		}
		if dataReads > 1 {
			t.Errorf("pack %.8s: %d reads of data blobs %v, want 1", name, dataReads, reads)
		}
		info, err := b.r.Store.Stat(context.Background(), store.Packs, name)
		must(t, err)
		packBytes += info.Size
	}
	for sp, n := range trees {
		if n > 1 {
			t.Errorf("tree blob at %.8s+%d read %d times", sp.pack, sp.off, n)
		}
	}
	for sp, n := range data {
		if n != 1 {
			t.Errorf("data blob at %.8s+%d read %d times, want once", sp.pack, sp.off, n)
		}
	}
	if total > packBytes {
		t.Errorf("read %d bytes of packs holding %d", total, packBytes)
	}
	reads := 0
	for _, r := range cs.reads {
		reads += len(r)
	}
	t.Logf("%d reads, %d bytes, of %d packs holding %d bytes; %d data blobs, %d trees", reads, total, len(cs.reads), packBytes, len(data), len(trees))
}

// TestBatches restores dupSpec with a batch of 7 extents, so that the walk
// stops to run the pack phase many times and hard links reach across
// batches: the result must be the same.
func TestBatches(t *testing.T) {
	defer restorer.SetMaxBatch(7)()
	b := backup(t, dupSpec())
	target := t.TempDir()
	must(t, b.restore(t, restorer.Options{Target: target}))
	testtree.Compare(t, b.src, filepath.Join(target, "src"))
}
