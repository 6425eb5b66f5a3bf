package pruner

import (
	"fmt"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/tree"
)

// BenchmarkPrune prunes a repository of 10 snapshots of 5 000 distinct
// 512-byte files each (50 000 data blobs), half of them forgotten, so that
// about half of every pack is unused and it is repacked. Only Prune is
// timed.
func BenchmarkPrune(b *testing.B) {
	const snaps, perSnap = 10, 5000
	for range b.N {
		b.StopTimer()
		f := newFixture(b)
		r := f.open()
		var ids []blob.ID
		for s := range snaps {
			ids = append(ids, benchSnapshot(b, r, s, perSnap))
		}
		if err := r.Flush(ctx); err != nil { // one flush: snapshots share packs
			b.Fatal(err)
		}
		f.forget(ids[:snaps/2]...)
		r = f.open()
		b.StartTimer()
		res, err := Prune(ctx, r, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(res.RepackedBlobs), "repacked-blobs")
		b.ReportMetric(float64(res.DeletedPacks), "deleted-packs")
	}
}

// benchSnapshot stores a snapshot of one directory of n files of one
// distinct 512-byte blob each. The caller flushes.
func benchSnapshot(b *testing.B, r *repo.Repo, s, n int) blob.ID {
	dir := &tree.Tree{}
	for i := range n {
		data := content(uint64(s*n+i), 512)
		id, _, err := r.SaveBlob(ctx, blob.Data, data)
		if err != nil {
			b.Fatal(err)
		}
		dir.Nodes = append(dir.Nodes, &tree.Node{
			Name: fmt.Appendf(nil, "f%06d", i), Type: tree.File, Mode: 0o644,
			Size: 512, Content: []tree.Extent{{ID: id, Length: 512}},
		})
	}
	sub := saveTree(b, r, dir)
	root := saveTree(b, r, &tree.Tree{Nodes: []*tree.Node{{Name: []byte("data"), Type: tree.Dir, Mode: 0o755, Subtrees: []blob.ID{sub}}}})
	id, err := r.SaveSnapshot(ctx, &snapshot.Snapshot{Time: time.Now(), Paths: []string{"/data"}, Tree: root, ProgramVersion: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	return id
}

func saveTree(b *testing.B, r *repo.Repo, t *tree.Tree) blob.ID {
	enc, err := t.Encode()
	if err != nil {
		b.Fatal(err)
	}
	id, _, err := r.SaveBlob(ctx, blob.Tree, enc)
	if err != nil {
		b.Fatal(err)
	}
	return id
}
