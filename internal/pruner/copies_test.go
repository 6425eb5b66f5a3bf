package pruner

import (
	"context"
	"io"
	"sync"
	"testing"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/hostile"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/pack"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/local"
)

// dataIDs returns the IDs of the data blobs of the files set(seeds...)
// makes: one blob each.
func dataIDs(r *repo.Repo, seeds ...uint64) map[blob.ID]bool {
	ids := make(map[blob.ID]bool)
	for _, s := range seeds {
		ids[r.Hash(blob.Data, content(s, 40<<10))] = true
	}
	return ids
}

// lie stores, with the keys of f's repository, a pack listing the blobs
// that keep selects with lie in their place, and an index object naming
// it, as a hostile append-only device can.
func (f *fixture) lie(keep func(index.Blob) bool, lie hostile.Lie) index.Pack {
	f.t.Helper()
	r := f.open()
	listed, err := hostile.Listed(ctx, r)
	if err != nil {
		f.t.Fatal(err)
	}
	var chosen []index.Blob
	for _, b := range listed {
		if keep(b) {
			chosen = append(chosen, b)
		}
	}
	p, err := hostile.Pack(ctx, r, chosen, lie)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// TestPruneKeepsAuthenticCopy plays issue 11's attack: a device with the
// keys uploads a pack listing blobs the repository holds, with false bytes
// in their place. Its copies are the "fuller" ones (every blob in it is
// referenced, while the genuine pack holds a forgotten one too), so a
// prune that trusted the index would keep them and delete the genuine
// pack. Prune must instead find them false, keep (here repack) the
// genuine copies, and delete the lying pack; everything then checks clean
// and restores.
func TestPruneKeepsAuthenticCopy(t *testing.T) {
	for _, lie := range []struct {
		name string
		lie  hostile.Lie
	}{{"random bytes", hostile.RandomBytes}, {"other content", hostile.OtherContent}} {
		t.Run(lie.name, func(t *testing.T) {
			f := newFixture(t)
			old := f.backup(set(0, 1, 2))
			f.backup(set(0, 1))
			f.forget(old)
			ids := dataIDs(f.open(), 0, 1)
			liar := f.lie(func(b index.Blob) bool { return ids[b.ID] }, lie.lie)
			res := f.prune(Options{})
			t.Logf("%+v", *res)
			if res.BadCopies == 0 || res.VerifiedCopies == 0 {
				t.Errorf("prune found %d bad copies in %d verified", res.BadCopies, res.VerifiedCopies)
			}
			if _, ok := f.packs()[liar.ID]; ok {
				t.Error("the lying pack survived: prune counted its false copies as used")
			}
			f.verify()
			f.settle()
			f.verify()
		})
	}
}

// TestRepackBlob: repack stores a referenced blob again unless its keeper
// (an authenticated copy) is in a pack that stays; a copy elsewhere that
// was never authenticated does not count, and a false copy is not stored.
func TestRepackBlob(t *testing.T) {
	f := newFixture(t)
	r := f.open()
	plain := []byte("a referenced blob")
	id := r.Hash(blob.Data, plain)
	var env []byte
	if _, err := r.SealBlob(blob.Data, id, plain, func(e []byte) error { env = append([]byte(nil), e...); return nil }); err != nil {
		t.Fatal(err)
	}
	e := pack.Entry{Type: blob.Data, ID: id, Length: uint32(len(env)), RawLength: uint32(len(plain))}
	stays, doomed := blob.ID{1}, blob.ID{2}
	pr := index.PrefixOf(id)
	for _, tc := range []struct {
		name       string
		referenced bool
		keeper     *blob.ID
		copied     bool
		data       []byte
		stored     bool
	}{
		{"unreferenced", false, nil, false, env, false},
		{"only copy", true, nil, false, env, true},
		{"keeper stays", true, &stays, false, env, false},
		{"keeper doomed", true, &doomed, false, env, true},
		{"copied already", true, nil, true, env, false},
		{"false bytes", true, nil, false, make([]byte, len(env)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &pruner{r: r, refs: newRefs(), keepers: map[index.Prefix]blob.ID{}, copied: map[index.Prefix]bool{}}
			if tc.referenced {
				p.refs.ids = []index.Prefix{pr}
				p.refs.sorted = 1
			}
			if tc.keeper != nil {
				p.keepers[pr] = *tc.keeper
			}
			p.copied[pr] = tc.copied
			if err := p.repackBlob(ctx, e, tc.data, map[blob.ID]bool{doomed: true}); err != nil {
				t.Fatal(err)
			}
			if stored := p.res.RepackedBlobs == 1; stored != tc.stored {
				t.Errorf("stored %v, want %v", stored, tc.stored)
			}
			if bad := p.res.BadCopies == 1; bad != (tc.name == "false bytes") {
				t.Errorf("bad copies %d", p.res.BadCopies)
			}
		})
	}
}

// TestPruneKeepsTrueListing: a device with the keys stores an index object
// that lists the genuine packs one byte off and supersedes the genuine
// index objects. Prune rewrites the superseded objects; it must keep the
// true listings the header confirms, so that every snapshot still
// restores.
func TestPruneKeepsTrueListing(t *testing.T) {
	f := newFixture(t)
	f.backup(files{"big": content(7, 3<<20)}) // a pack too big to merge: it stays
	r := f.open()
	names, err := r.Names(ctx, store.Index)
	if err != nil {
		t.Fatal(err)
	}
	var shifted []index.Pack
	var sup []blob.ID
	for _, n := range names {
		fl, err := r.LoadIndexFile(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range fl.Packs {
			s := index.Pack{ID: p.ID}
			for _, b := range p.Blobs {
				b.Offset++
				s.Blobs = append(s.Blobs, b)
			}
			shifted = append(shifted, s)
		}
		id, _ := blob.ParseID(n)
		sup = append(sup, id)
	}
	fl := index.File{Packs: shifted, Supersedes: sup}
	if _, err := r.SaveObject(ctx, store.Index, crypt.ADIndex, fl.Encode()); err != nil {
		t.Fatal(err)
	}
	res := f.prune(Options{})
	t.Logf("%+v", *res)
	if res.WrittenIndex != 1 || res.DeletedIndex != len(names) {
		t.Errorf("wrote %d index objects and deleted %d, want 1 and %d", res.WrittenIndex, res.DeletedIndex, len(names))
	}
	f.restoreAll()
}

// countingStore counts reads of each pack.
type countingStore struct {
	store.Store
	mu    sync.Mutex
	reads map[string]int
}

func (c *countingStore) Get(ctx context.Context, kind store.Kind, name string, offset, length int64) (io.ReadCloser, error) {
	if kind == store.Packs {
		c.mu.Lock()
		c.reads[name]++
		c.mu.Unlock()
	}
	return c.Store.Get(ctx, kind, name, offset, length)
}

// TestLyingPackCostsBoundedReads: a pack lying about every one of many
// blobs, and preferred as their keeper, costs prune a few reads in all
// (its header and one blob, or itself whole), not one or more per blob;
// the genuine pack is likewise read a bounded number of times.
func TestLyingPackCostsBoundedReads(t *testing.T) {
	f := newFixture(t)
	seeds := make([]uint64, 60)
	for i := range seeds {
		seeds[i] = uint64(i)
	}
	old := f.backup(set(append(seeds, 100)...))
	f.backup(set(seeds...))
	f.forget(old)
	ids := dataIDs(f.open(), seeds...)
	before := f.packs()
	liar := f.lie(func(b index.Blob) bool { return ids[b.ID] }, hostile.RandomBytes)
	st, err := local.Open(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{Store: st, reads: make(map[string]int)}
	r, err := repo.Open(ctx, cs, f.dev)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := Prune(ctx, r, Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v; reads %v", *res, cs.reads)
	if n := cs.reads[liar.ID.String()]; n > 3 {
		t.Errorf("the lying pack was read %d times for %d blobs", n, len(ids))
	}
	for id := range before {
		if n := cs.reads[id.String()]; n > 4 {
			t.Errorf("genuine pack %s was read %d times", id.Short(), n)
		}
	}
	if res.BadCopies != 1 {
		t.Errorf("%d copies found bad, want 1: the lying pack is untrusted after its first", res.BadCopies)
	}
}
