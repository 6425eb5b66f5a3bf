package repo_test

import (
	"bytes"
	"sync"
	"testing"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/pack"
	"github.com/coffer-backup/coffer/internal/store"
)

// TestPackPaddingFilled: small blobs set aside fill the padding of full
// packs (docs/format.md §6.1), so a full data pack wastes less than one
// small blob on padding, and every blob saved is in some pack after Flush.
func TestPackPaddingFilled(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	var packs []index.Pack
	f.r.OnUpload(func(p index.Pack) {
		mu.Lock()
		defer mu.Unlock()
		packs = append(packs, p)
	})
	saved := map[blob.ID]bool{}
	for i := range 40 { // random blobs are stored raw: sizes are exact
		id, _ := save(t, f.r, blob.Data, randomBytes(t, 1<<20+i*7919))
		saved[id] = true
		for j := range 30 {
			id, _ := save(t, f.r, blob.Data, randomBytes(t, 1000+(i*30+j)*37%3000))
			saved[id] = true
		}
	}
	flush(t, f.r)
	full := 0
	for _, p := range packs {
		info, err := f.st.Stat(ctx, store.Packs, p.ID.String())
		if err != nil {
			t.Fatal(err)
		}
		u := uint64(crypt.Overhead + 5 + 4)
		for _, b := range p.Blobs {
			u += uint64(b.Length) + 41
			delete(saved, b.ID)
		}
		if uint64(info.Size) != pack.Padme(u) {
			t.Fatalf("pack %s: %d bytes, want Padmé(%d)", p.ID.Short(), info.Size, u)
		}
		if u >= pack.TargetSize {
			full++
			if pad := uint64(info.Size) - u; pad > 4000+crypt.Overhead+41 {
				t.Errorf("full pack %s: %d bytes of padding, more than one small blob", p.ID.Short(), pad)
			}
		}
	}
	if full < 2 {
		t.Errorf("%d full packs, want at least 2", full)
	}
	if len(saved) > 0 {
		t.Errorf("%d saved blobs in no pack", len(saved))
	}
}

// TestIndexTrustedAfterPackGone: an index object one of whose packs is
// gone still vouches for the others. Loading drops the gone pack's
// entries; the signature is checked over the object as read, so the
// remaining copies stay trusted and a writer deduplicates against them
// instead of uploading the blob again.
func TestIndexTrustedAfterPackGone(t *testing.T) {
	f := newFixture(t)
	var packs []index.Pack
	f.r.OnUpload(func(p index.Pack) { packs = append(packs, p) })
	data, tree := randomBytes(t, 1000), randomBytes(t, 1000)
	save(t, f.r, blob.Data, data)
	save(t, f.r, blob.Tree, tree)
	flush(t, f.r) // one index object, listing a data pack and a tree pack
	if len(packs) != 2 {
		t.Fatalf("%d packs, want 2", len(packs))
	}
	// Drop the pack listed first (lowest ID), so that the loader's
	// filtering moves the other one within the listing.
	first, other := packs[0], packs[1]
	if compareIDs(other.ID, first.ID) < 0 {
		first, other = other, first
	}
	if err := f.st.Delete(ctx, store.Packs, first.ID.String()); err != nil {
		t.Fatal(err)
	}
	r := f.reopen(t)
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	content := map[blob.Type][]byte{blob.Data: data, blob.Tree: tree}
	typ := other.Blobs[0].Type
	if _, added := save(t, r, typ, content[typ]); added {
		t.Error("a blob of the remaining pack was stored again: its index object is no longer trusted")
	}
}

func compareIDs(a, b blob.ID) int { return bytes.Compare(a[:], b[:]) }
