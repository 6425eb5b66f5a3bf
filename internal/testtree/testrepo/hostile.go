package testrepo

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/tree"
)

// DoublingSnapshot stores, as an append-only device could, a snapshot of
// levels+1 valid tree blobs: the root and each tree below it list two
// directories, "a" and "b", sharing the next tree; the last is empty. It
// takes a few kilobytes, yet a walk of it visits 2^(levels+1) - 2 items.
// Its summary declares what a small honest backup would.
func (r *Repo) DoublingSnapshot(t testing.TB, levels int) snapshot.Stored {
	t.Helper()
	below := r.saveTree(t, &tree.Tree{})
	for range levels {
		dir := func(name string) *tree.Node {
			return &tree.Node{Name: []byte(name), Type: tree.Dir, Mode: 0o755, Subtrees: []blob.ID{below}}
		}
		below = r.saveTree(t, &tree.Tree{Nodes: []*tree.Node{dir("a"), dir("b")}})
	}
	return r.saveSnapshot(t, below, &snapshot.Summary{DirsNew: uint64(2 * levels)})
}

// DeepSnapshot stores a snapshot whose root holds a chain of levels
// directories, each named by nameLen bytes of 'n', which a valid tree may
// not hold when nameLen exceeds tree.MaxNameLen (the encoding is made by
// hand then).
func (r *Repo) DeepSnapshot(t testing.TB, levels, nameLen int) snapshot.Stored {
	t.Helper()
	below := r.saveTree(t, &tree.Tree{})
	name := bytes.Repeat([]byte{'n'}, nameLen)
	for range levels {
		below = r.saveBlob(t, oneDir(t, name, below))
	}
	return r.saveSnapshot(t, below, &snapshot.Summary{DirsNew: uint64(levels)})
}

// oneDir encodes a tree listing one directory called name, whatever its
// length: it encodes the directory as "x" and puts name in its place.
func oneDir(t testing.TB, name []byte, sub blob.ID) []byte {
	n := &tree.Node{Name: []byte("x"), Type: tree.Dir, Mode: 0o755, Subtrees: []blob.ID{sub}}
	b, err := (&tree.Tree{Nodes: []*tree.Node{n}}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	head := []byte("CTR1\x01")
	out := binary.AppendUvarint(bytes.Clone(head), uint64(len(name)))
	out = append(out, name...)
	return append(out, b[len(head)+2:]...) // after "x" and its length
}

func (r *Repo) saveTree(t testing.TB, tr *tree.Tree) blob.ID {
	t.Helper()
	b, err := tr.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return r.saveBlob(t, b)
}

func (r *Repo) saveBlob(t testing.TB, b []byte) blob.ID {
	t.Helper()
	id, _, err := r.SaveBlob(context.Background(), blob.Tree, b)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// saveSnapshot flushes the blobs and stores a snapshot of the root tree.
func (r *Repo) saveSnapshot(t testing.TB, root blob.ID, sum *snapshot.Summary) snapshot.Stored {
	t.Helper()
	ctx := context.Background()
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sn := &snapshot.Snapshot{Time: time.Now(), Hostname: "evil", Paths: []string{"/src"}, Tree: root, Summary: sum}
	id, err := r.SaveSnapshot(ctx, sn)
	if err != nil {
		t.Fatal(err)
	}
	return snapshot.Stored{ID: id, Snapshot: sn}
}
