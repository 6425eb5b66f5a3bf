package repo_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
)

// saveMixed saves n trees and n data blobs, interleaved, and flushes.
func saveMixed(t *testing.T, r *repo.Repo, n int) (trees, data map[blob.ID][]byte) {
	t.Helper()
	trees, data = make(map[blob.ID][]byte), make(map[blob.ID][]byte)
	for i := range n {
		tb := append([]byte("a tree "), randomBytes(t, 200+i)...)
		id, _ := save(t, r, blob.Tree, tb)
		trees[id] = tb
		db := randomBytes(t, 3000+i)
		id, _ = save(t, r, blob.Data, db)
		data[id] = db
	}
	flush(t, r)
	return trees, data
}

// TestTreesInPacksOfTheirOwn: a writer never puts a tree blob and a data
// blob in one pack (docs/format.md §6.1).
func TestTreesInPacksOfTheirOwn(t *testing.T) {
	f := newFixture(t)
	saveMixed(t, f.r, 50)
	sizes, err := f.r.PackSizes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[blob.Type]int{}
	for id, size := range sizes {
		entries, err := f.r.PackHeader(ctx, id, size)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries[1:] {
			if e.Type != entries[0].Type {
				t.Fatalf("pack %s holds both %s and %s blobs", id.Short(), entries[0].Type, e.Type)
			}
		}
		kinds[entries[0].Type]++
	}
	if kinds[blob.Tree] != 1 || kinds[blob.Data] != 1 {
		t.Fatalf("packs by kind: %v, want one tree pack and one data pack", kinds)
	}
}

// wholeStore records the whole-object reads of packs, and whether each was
// marked for a cache to keep; if spoil is set, it alters the bytes of
// every whole-object read of a pack, but no ranged read.
type wholeStore struct {
	store.Store
	spoil bool
	mu    sync.Mutex
	whole int
	kept  int
	other int
}

func (w *wholeStore) Get(ctx context.Context, kind store.Kind, name string, offset, length int64) (io.ReadCloser, error) {
	rc, err := w.Store.Get(ctx, kind, name, offset, length)
	if err != nil || kind != store.Packs {
		return rc, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if offset != 0 || length >= 0 {
		w.other++
		return rc, nil
	}
	w.whole++
	if store.Kept(ctx) {
		w.kept++
	}
	if !w.spoil {
		return rc, nil
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	b[len(b)/2] ^= 1
	return io.NopCloser(bytes.NewReader(b)), nil
}

// TestTreesReadFromWholePack: the trees of a tree pack cost one request
// in all, marked for a cache to keep; data blobs are still read one by
// one; and a tree pack whose whole bytes do not match its name is read
// blob by blob instead, each blob still authenticated.
func TestTreesReadFromWholePack(t *testing.T) {
	f := newFixture(t)
	trees, data := saveMixed(t, f.r, 40)
	for _, spoil := range []bool{false, true} {
		ws := &wholeStore{Store: f.st, spoil: spoil}
		r, err := repo.Open(ctx, ws, f.dev)
		if err != nil {
			t.Fatal(err)
		}
		loadIndex(t, r)
		for id, want := range trees {
			mustLoad(t, r, blob.Tree, id, want)
		}
		wantOther := 0
		if spoil {
			wantOther = len(trees)
		}
		if ws.whole != 1 || ws.kept != 1 || ws.other != wantOther {
			t.Errorf("spoil %v: %d whole reads (%d kept) and %d ranged, want 1 (1) and %d", spoil, ws.whole, ws.kept, ws.other, wantOther)
		}
		for id, want := range data {
			mustLoad(t, r, blob.Data, id, want)
		}
		if ws.whole != 1 || ws.other != wantOther+len(data) {
			t.Errorf("spoil %v: data blobs read whole (%d) or not one by one (%d)", spoil, ws.whole, ws.other-wantOther)
		}
		r.Close()
	}
}

// flipStore alters one byte of every read of the pack named bad.
type flipStore struct {
	store.Store
	bad string
	at  int64
}

func (s *flipStore) Get(ctx context.Context, kind store.Kind, name string, offset, length int64) (io.ReadCloser, error) {
	rc, err := s.Store.Get(ctx, kind, name, offset, length)
	if err != nil || kind != store.Packs || name != s.bad {
		return rc, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	if i := s.at - offset; i >= 0 && i < int64(len(b)) {
		b[i] ^= 1
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// TestTamperedTreePack: a tree whose envelope in a tree pack was altered
// fails authentication whether the pack is read whole or not, and the
// other trees of the pack still load.
func TestTamperedTreePack(t *testing.T) {
	f := newFixture(t)
	trees, _ := saveMixed(t, f.r, 10)
	var victim blob.ID
	for id := range trees {
		victim = id
		break
	}
	loadIndex(t, f.r)
	loc, ok := f.r.Index.Lookup(victim)
	if !ok {
		t.Fatal("tree not indexed")
	}
	r, err := repo.Open(ctx, &flipStore{Store: f.st, bad: loc.Pack.String(), at: int64(loc.Offset) + 50}, f.dev)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	loadIndex(t, r)
	for id, want := range trees {
		if id != victim {
			mustLoad(t, r, blob.Tree, id, want)
		}
	}
	if _, err := r.LoadBlob(ctx, blob.Tree, victim, nil); !errors.Is(err, repo.ErrBadCopy) {
		t.Fatalf("loading the altered tree: %v, want ErrBadCopy", err)
	}
}
