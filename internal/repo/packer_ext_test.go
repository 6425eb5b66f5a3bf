package repo_test

import (
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
