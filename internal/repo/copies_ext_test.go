package repo_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/hostile"
	"github.com/coffer-backup/coffer/internal/index"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
)

// TestOpenBlobChecksID: an envelope that authenticates under a blob's type
// and ID but holds other plaintext, as a device with the keys can seal, is
// refused (docs/format.md §3.0).
func TestOpenBlobChecksID(t *testing.T) {
	f := newFixture(t)
	id := f.r.Hash(blob.Data, []byte("genuine"))
	var env []byte
	if _, err := f.r.SealBlob(blob.Data, id, []byte("forged"), func(e []byte) error { env = bytes.Clone(e); return nil }); err != nil {
		t.Fatal(err)
	}
	_, err := f.r.OpenBlob(nil, blob.Data, id, env, len("forged"))
	if !errors.Is(err, repo.ErrBadCopy) || !strings.Contains(err.Error(), "does not match its ID") {
		t.Fatalf("OpenBlob of other content under the ID: %v", err)
	}
	if _, err := f.r.OpenBlob(nil, blob.Tree, id, env, len("forged")); !errors.Is(err, crypt.ErrAuth) || !errors.Is(err, repo.ErrBadCopy) {
		t.Fatalf("OpenBlob as the other type: %v", err)
	}
}

// storeBlobs saves n random data blobs and one tree and flushes them; it
// returns their contents by ID.
func storeBlobs(t *testing.T, r *repo.Repo, n int) map[blob.ID][]byte {
	t.Helper()
	want := make(map[blob.ID][]byte)
	for i := range n {
		b := randomBytes(t, 500+i*37)
		id, _ := save(t, r, blob.Data, b)
		want[id] = b
	}
	tr := []byte("a tree, as far as this test cares")
	id, _ := save(t, r, blob.Tree, tr)
	want[id] = tr
	flush(t, r)
	return want
}

// shifted lists the pack's blobs one byte later than they are: an index
// object that lies about a genuine pack.
func shifted(p index.Pack) index.Pack {
	out := index.Pack{ID: p.ID}
	for _, b := range p.Blobs {
		b.Offset++
		out.Blobs = append(out.Blobs, b)
	}
	return out
}

// relisted lists the pack's blobs changed by change.
func relisted(p index.Pack, change func(*index.Blob)) index.Pack {
	out := index.Pack{ID: p.ID}
	for _, b := range p.Blobs {
		change(&b)
		out.Blobs = append(out.Blobs, b)
	}
	return out
}

// lies are the ways a device with the keys can list false copies of every
// blob the repository holds. Each returns the false listings it stored.
var lies = []struct {
	name string
	tell func(t *testing.T, r *repo.Repo, genuine []index.Pack, listed []index.Blob) []index.Pack
}{
	{"pack of random bytes", func(t *testing.T, r *repo.Repo, _ []index.Pack, listed []index.Blob) []index.Pack {
		return []index.Pack{mustLie(t, r, listed, hostile.RandomBytes)}
	}},
	{"pack of other content under the IDs", func(t *testing.T, r *repo.Repo, _ []index.Pack, listed []index.Blob) []index.Pack {
		return []index.Pack{mustLie(t, r, listed, hostile.OtherContent)}
	}},
	{"index shifting the genuine packs", func(t *testing.T, r *repo.Repo, genuine []index.Pack, _ []index.Blob) []index.Pack {
		return mustIndex(t, r, genuine, shifted)
	}},
	{"index with wrong raw lengths", func(t *testing.T, r *repo.Repo, genuine []index.Pack, _ []index.Blob) []index.Pack {
		return mustIndex(t, r, genuine, func(p index.Pack) index.Pack {
			return relisted(p, func(b *index.Blob) { b.RawLength++ })
		})
	}},
	{"index with swapped types", func(t *testing.T, r *repo.Repo, genuine []index.Pack, _ []index.Blob) []index.Pack {
		return mustIndex(t, r, genuine, func(p index.Pack) index.Pack {
			return relisted(p, func(b *index.Blob) { b.Type = 3 - b.Type })
		})
	}},
}

func mustLie(t *testing.T, r *repo.Repo, listed []index.Blob, lie hostile.Lie) index.Pack {
	t.Helper()
	p, err := hostile.Pack(ctx, r, listed, lie)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustIndex(t *testing.T, r *repo.Repo, genuine []index.Pack, lie func(index.Pack) index.Pack) []index.Pack {
	t.Helper()
	var out []index.Pack
	for _, p := range genuine {
		out = append(out, lie(p))
	}
	if _, err := hostile.Index(ctx, r, out...); err != nil {
		t.Fatal(err)
	}
	return out
}

// genuinePacks returns the listings of every index object in the store.
func genuinePacks(t *testing.T, r *repo.Repo) []index.Pack {
	t.Helper()
	names, err := r.Names(ctx, store.Index)
	if err != nil {
		t.Fatal(err)
	}
	var out []index.Pack
	for _, n := range names {
		f, err := r.LoadIndexFile(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f.Packs...)
	}
	return out
}

// lieFirst gives r an index holding the false listings before the true
// ones, so that every read meets a false copy first.
func lieFirst(t *testing.T, r *repo.Repo, lies []index.Pack) {
	t.Helper()
	r.Index = index.NewMaster()
	for _, p := range lies {
		r.Index.AddPack(p)
	}
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestReadsFallBack: whatever false copies a device with the keys lists,
// and even when they come first, every blob reads back intact through
// Repo.LoadBlob and the WindowReader.
func TestReadsFallBack(t *testing.T) {
	for _, lie := range lies {
		t.Run(lie.name, func(t *testing.T) {
			f := newFixture(t)
			want := storeBlobs(t, f.r, 30)
			attacker := f.reopen(t)
			listed, err := hostile.Listed(ctx, attacker)
			if err != nil {
				t.Fatal(err)
			}
			lying := lie.tell(t, attacker, genuinePacks(t, attacker), listed)
			r := f.reopen(t)
			lieFirst(t, r, lying)
			wr, err := r.NewWindowReader(ctx, 1<<16, 4)
			if err != nil {
				t.Fatal(err)
			}
			for id, b := range want {
				typ := blob.Data
				if strings.HasPrefix(string(b), "a tree") {
					typ = blob.Tree
				}
				if n := len(r.Index.Copies(id)); n < 2 {
					t.Fatalf("blob %s has %d copies in the index, want the false one too", id.Short(), n)
				}
				for name, load := range map[string]func(context.Context, blob.Type, blob.ID, []byte) ([]byte, error){"Repo": r.LoadBlob, "WindowReader": wr.LoadBlob} {
					got, err := load(ctx, typ, id, nil)
					if err != nil || !bytes.Equal(got, b) {
						t.Fatalf("%s.LoadBlob(%s): %v", name, id.Short(), err)
					}
				}
			}
		})
	}
}

// TestNoCopyAuthenticates: when every copy is false, the error names each.
func TestNoCopyAuthenticates(t *testing.T) {
	f := newFixture(t)
	id, _ := save(t, f.r, blob.Data, []byte("the only copy"))
	flush(t, f.r)
	attacker := f.reopen(t)
	genuine := genuinePacks(t, attacker)
	lying := mustIndex(t, attacker, genuine, shifted)
	r := f.reopen(t)
	r.Index = index.NewMaster()
	for _, p := range lying {
		r.Index.AddPack(p)
	}
	_, err := r.LoadBlob(ctx, blob.Data, id, nil)
	if !errors.Is(err, repo.ErrBadCopy) {
		t.Fatalf("LoadBlob with only a false copy: %v", err)
	}
	r.Index.AddPack(shifted(lying[0]))
	_, err = r.LoadBlob(ctx, blob.Data, id, nil)
	if err == nil || !strings.Contains(err.Error(), "none of its 2 copies authenticates") {
		t.Fatalf("LoadBlob with two false copies: %v", err)
	}
}

// countingStore counts the reads of each object.
type countingStore struct {
	store.Store
	mu    sync.Mutex
	reads map[string]int
}

func (c *countingStore) Get(ctx context.Context, kind store.Kind, name string, offset, length int64) (io.ReadCloser, error) {
	c.mu.Lock()
	c.reads[string(kind)+"/"+name]++
	c.mu.Unlock()
	return c.Store.Get(ctx, kind, name, offset, length)
}

func (c *countingStore) packReads(id blob.ID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads["packs/"+id.String()]
}

func (c *countingStore) total(kind store.Kind) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k, v := range c.reads {
		if strings.HasPrefix(k, string(kind)+"/") {
			n += v
		}
	}
	return n
}

// TestLyingPackCostsOneRead: a pack lying about every blob, met first for
// each, costs one failed read in all, not one per blob: once it has lied,
// it is tried last.
func TestLyingPackCostsOneRead(t *testing.T) {
	f := newFixture(t)
	want := storeBlobs(t, f.r, 200)
	attacker := f.reopen(t)
	listed, err := hostile.Listed(ctx, attacker)
	if err != nil {
		t.Fatal(err)
	}
	liar := mustLie(t, attacker, listed, hostile.RandomBytes)
	for _, windowed := range []bool{false, true} {
		cs := &countingStore{Store: f.st, reads: make(map[string]int)}
		r, err := repo.Open(ctx, cs, f.dev)
		if err != nil {
			t.Fatal(err)
		}
		lieFirst(t, r, []index.Pack{liar})
		load := r.LoadBlob
		if windowed {
			wr, err := r.NewWindowReader(ctx, 1<<16, 4)
			if err != nil {
				t.Fatal(err)
			}
			load = wr.LoadBlob
		}
		base := cs.total(store.Packs)
		for id := range want {
			typ := blob.Data
			if strings.HasPrefix(string(want[id]), "a tree") {
				typ = blob.Tree
			}
			if _, err := load(ctx, typ, id, nil); err != nil {
				t.Fatal(err)
			}
		}
		if n := cs.packReads(liar.ID); n != 1 {
			t.Errorf("windowed %v: the lying pack was read %d times for %d blobs, want once", windowed, n, len(want))
		}
		if n := cs.total(store.Packs) - base; !windowed && n != len(want)+1 {
			t.Errorf("%d pack reads for %d blobs, want one each and one failure", n, len(want))
		}
		r.Close()
	}
}
