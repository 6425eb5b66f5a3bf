package repo_test

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/compress"
	"github.com/coffer-backup/coffer/internal/store"
)

func TestSaveLoadBlob(t *testing.T) {
	f := newFixture(t)
	r := f.r
	blobs := []struct {
		typ blob.Type
		b   []byte
	}{
		{blob.Data, nil},
		{blob.Data, []byte("hello")},
		{blob.Data, bytes.Repeat([]byte("compressible "), 10000)},
		{blob.Data, randomBytes(t, 1<<20)},
		{blob.Tree, []byte("CTR1\x00")},
		{blob.Tree, []byte("hello")}, // the same bytes as a tree are another blob
	}
	ids := make([]blob.ID, len(blobs))
	for i, c := range blobs {
		id, added := save(t, r, c.typ, c.b)
		if !added || id != r.Hash(c.typ, c.b) {
			t.Fatalf("blob %d: added %v, ID %s", i, added, id.Short())
		}
		ids[i] = id
	}
	if _, err := r.LoadBlob(ctx, blob.Data, ids[1], nil); err == nil {
		t.Error("a blob loads before Flush: it is not yet durable")
	}
	flush(t, r)
	for i, c := range blobs {
		mustLoad(t, r, c.typ, ids[i], c.b)
		got, err := r.LoadBlob(ctx, c.typ, ids[i], []byte("dst"))
		if err != nil || !bytes.Equal(got, append([]byte("dst"), c.b...)) {
			t.Fatalf("blob %d: LoadBlob does not append to dst: %v", i, err)
		}
	}
	if _, err := r.LoadBlob(ctx, blob.Tree, ids[1], nil); err == nil {
		t.Error("a data blob loads as a tree")
	}
	if _, err := r.LoadBlob(ctx, blob.Data, blob.ID{1}, nil); err == nil {
		t.Error("an unknown blob loads")
	}
}

func TestSaveBlobTooLarge(t *testing.T) {
	f := newFixture(t)
	if _, _, err := f.r.SaveBlob(ctx, blob.Data, make([]byte, compress.MaxRaw+1)); err == nil {
		t.Fatal("saved a blob over compress.MaxRaw")
	}
}

// TestDedup saves the same blob twice in one process and again in
// another: it is stored once.
func TestDedup(t *testing.T) {
	f := newFixture(t)
	b := []byte("stored once")
	id, added := save(t, f.r, blob.Data, b)
	if !added {
		t.Fatal("first save did not store")
	}
	if id2, added := save(t, f.r, blob.Data, b); added || id2 != id {
		t.Fatal("second save before Flush stored again")
	}
	flush(t, f.r)
	if _, added := save(t, f.r, blob.Data, b); added {
		t.Fatal("save after Flush stored again")
	}
	r2 := f.reopen(t)
	loadIndex(t, r2)
	if _, added := save(t, r2, blob.Data, b); added {
		t.Fatal("another process stored it again")
	}
	flush(t, r2)
	if n := stored(t, r2); n[id] != 1 || len(n) != 1 {
		t.Fatalf("stored %v", n)
	}
}

// TestConcurrentSaveBlob saves the same few blobs from many goroutines at
// once: each is stored by exactly one call, and once in the packs.
func TestConcurrentSaveBlob(t *testing.T) {
	f := newFixture(t)
	const goroutines, distinct = 32, 5
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		added = make(map[blob.ID]int)
	)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range distinct {
				b := []byte(strings.Repeat(fmt.Sprint(i), 1000+g%2)) // two contents per i
				id, ok, err := f.r.SaveBlob(ctx, blob.Data, b)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if ok {
					added[id]++
				} else if _, seen := added[id]; !seen {
					added[id] = 0
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(added) != 2*distinct {
		t.Fatalf("%d distinct IDs, want %d", len(added), 2*distinct)
	}
	for id, n := range added {
		if n != 1 {
			t.Errorf("blob %s stored by %d calls", id.Short(), n)
		}
	}
	flush(t, f.r)
	for id, n := range stored(t, f.r) {
		if n != 1 {
			t.Errorf("blob %s is in %d packs", id.Short(), n)
		}
	}
	if f.r.Index.Len() != 2*distinct {
		t.Errorf("index holds %d entries", f.r.Index.Len())
	}
}

// TestFlushWritesIndex checks that Flush records what it uploaded in an
// index object, and writes none when nothing is pending.
func TestFlushWritesIndex(t *testing.T) {
	f := newFixture(t)
	flush(t, f.r)
	if n := names(t, f.r, store.Index); len(n) != 0 {
		t.Fatalf("empty Flush wrote index objects %v", n)
	}
	id, _ := save(t, f.r, blob.Data, []byte("x"))
	flush(t, f.r)
	idx := names(t, f.r, store.Index)
	packs := names(t, f.r, store.Packs)
	if len(idx) != 1 || len(packs) != 1 {
		t.Fatalf("index objects %v, packs %v", idx, packs)
	}
	file, err := f.r.LoadIndexFile(ctx, idx[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(file.Packs) != 1 || file.Packs[0].ID.String() != packs[0] ||
		len(file.Packs[0].Blobs) != 1 || file.Packs[0].Blobs[0].ID != id {
		t.Fatalf("index lists %+v", file.Packs)
	}
	flush(t, f.r)
	if n := names(t, f.r, store.Index); len(n) != 1 {
		t.Fatalf("second empty Flush: index objects %v", n)
	}
}

// TestLoadIndex reads everything back in a fresh handle.
func TestLoadIndex(t *testing.T) {
	f := newFixture(t)
	want := map[blob.ID][]byte{}
	for i := range 50 {
		b := randomBytes(t, 100*i)
		id, _ := save(t, f.r, blob.Data, b)
		want[id] = b
		if i%20 == 0 {
			flush(t, f.r) // several index objects
		}
	}
	flush(t, f.r)
	r2 := f.reopen(t)
	if _, err := r2.LoadBlob(ctx, blob.Data, slices.Collect(maps.Keys(want))[0], nil); err == nil {
		t.Fatal("loaded a blob before LoadIndex")
	}
	loadIndex(t, r2)
	for id, b := range want {
		mustLoad(t, r2, blob.Data, id, b)
	}
	if r2.Index.Len() != len(want) {
		t.Fatalf("index of %d entries for %d blobs", r2.Index.Len(), len(want))
	}
}
