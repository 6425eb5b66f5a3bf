package repo_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/crypt"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/snapshot"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/local"
)

// crashed leaves a repository as a backup that crashed after uploading its
// packs but before writing its index would: packs in the store, in no
// index object. It returns the blobs saved.
// TestReaderIndexesUnindexedPackUntrusted: a reader (no session) reads
// an unindexed pack's header only: its blobs read, but a writer would not
// deduplicate against them without reading the pack.
func TestReaderIndexesUnindexedPackUntrusted(t *testing.T) {
	f := newFixture(t)
	saved := crashed(t, f)
	r := f.reopen(t)
	loadIndex(t, r)
	for id, b := range saved {
		mustLoad(t, r, blob.Data, id, b)
		if r.Index.Has(id) {
			t.Fatalf("blob %s of an unindexed pack trusted from its header alone", id.Short())
		}
	}
}

func crashed(t *testing.T, f *fixture) map[blob.ID][]byte {
	t.Helper()
	saved := map[blob.ID][]byte{}
	for i := range 20 {
		b := randomBytes(t, 1000+i)
		id, _ := save(t, f.r, blob.Data, b)
		saved[id] = b
	}
	flush(t, f.r)
	deleteAll(t, f.st, store.Index)
	return saved
}

// TestRecoverUnindexedPack checks that LoadIndex in a writer (a backup,
// its session started) reads packs that are in no index object whole,
// that their authentic blobs are reused and not uploaded again, and that
// the next Flush indexes them.
func TestRecoverUnindexedPack(t *testing.T) {
	f := newFixture(t)
	saved := crashed(t, f)
	packs := names(t, f.r, store.Packs)
	r := f.reopen(t)
	sess, err := r.StartSession(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer sess.End(ctx)
	loadIndex(t, r)
	for id, b := range saved {
		mustLoad(t, r, blob.Data, id, b)
		if _, added := save(t, r, blob.Data, b); added {
			t.Fatalf("blob %s of an unindexed pack uploaded again", id.Short())
		}
	}
	flush(t, r)
	if now := names(t, r, store.Packs); !slices.Equal(now, packs) {
		t.Fatalf("packs %v, were %v", now, packs)
	}
	idx := names(t, r, store.Index)
	if len(idx) != 1 {
		t.Fatalf("Flush after recovery wrote %d index objects", len(idx))
	}
	file, err := r.LoadIndexFile(ctx, idx[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(file.Packs) != len(packs) {
		t.Fatalf("recovered index lists %d packs, want %d", len(file.Packs), len(packs))
	}
	r3 := f.reopen(t)
	loadIndex(t, r3)
	for id, b := range saved {
		mustLoad(t, r3, blob.Data, id, b)
	}
}

// TestRecoverTwice calls LoadIndex twice on one handle while a pack is
// unindexed, then flushes: the index written must still be readable.
func TestRecoverTwice(t *testing.T) {
	f := newFixture(t)
	saved := crashed(t, f)
	r := f.reopen(t)
	loadIndex(t, r)
	loadIndex(t, r)
	flush(t, r)
	r3 := f.reopen(t)
	loadIndex(t, r3)
	for id, b := range saved {
		mustLoad(t, r3, blob.Data, id, b)
	}
}

// TestPrunePlanExcludesPacks checks that packs a pending prune plan will
// delete are left out of a writer's index, even when no index object lists
// them, so their blobs are stored afresh; readers still see indexed ones.
func TestPrunePlanExcludesPacks(t *testing.T) {
	for _, indexed := range []bool{true, false} {
		f := newFixture(t)
		b := []byte("doomed")
		id, _ := save(t, f.r, blob.Data, b)
		flush(t, f.r)
		packs := names(t, f.r, store.Packs)
		if !indexed {
			deleteAll(t, f.st, store.Index)
		}
		pid, err := blob.ParseID(packs[0])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.r.SavePrunePlan(ctx, &repo.PrunePlan{Created: time.Now(), Packs: []blob.ID{pid}}); err != nil {
			t.Fatal(err)
		}
		reader := f.reopen(t)
		loadIndex(t, reader)
		if reader.Index.Has(id) != indexed {
			t.Fatalf("indexed %v: a reader sees the planned pack's blob: %v", indexed, !indexed)
		}
		r := f.reopen(t)
		sess, err := r.StartSession(ctx, "writer")
		if err != nil {
			t.Fatal(err)
		}
		defer sess.End(ctx)
		loadIndex(t, r)
		if r.Index.Has(id) {
			t.Fatalf("indexed %v: a blob of a pack planned for deletion is in the index", indexed)
		}
		if _, added := save(t, r, blob.Data, b); !added {
			t.Fatalf("indexed %v: blob not stored afresh", indexed)
		}
		flush(t, r)
		if n := names(t, r, store.Packs); len(n) != 2 {
			t.Fatalf("indexed %v: %d packs", indexed, len(n))
		}
		mustLoad(t, r, blob.Data, id, b)
		if loc, _ := r.Index.Lookup(id); loc.Pack == pid {
			t.Fatalf("indexed %v: blob still read from the planned pack", indexed)
		}
	}
}

// TestLoadIndexDropsMissingPacks checks that entries for a pack that is no
// longer in the store are left out, so the blob is stored again.
func TestLoadIndexDropsMissingPacks(t *testing.T) {
	f := newFixture(t)
	b := []byte("lost")
	id, _ := save(t, f.r, blob.Data, b)
	flush(t, f.r)
	deleteAll(t, f.st, store.Packs)
	r := f.reopen(t)
	loadIndex(t, r)
	if r.Index.Has(id) {
		t.Fatal("blob of a missing pack is in the index")
	}
	if _, added := save(t, r, blob.Data, b); !added {
		t.Fatal("blob of a missing pack not stored again")
	}
}

func TestLoadIndexRefusesDamagedIndex(t *testing.T) {
	f := newFixture(t)
	save(t, f.r, blob.Data, []byte("x"))
	flush(t, f.r)
	idx := names(t, f.r, store.Index)[0]
	env, err := store.ReadAll(ctx, f.st, store.Index, idx, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	// The same bytes under another name, and other bytes under its name.
	other := crypt.ContentID(append(bytes.Clone(env), 0))
	if err := f.st.Put(ctx, store.Index, other.String(), bytes.NewReader(env), int64(len(env))); err != nil {
		t.Fatal(err)
	}
	if err := f.r.LoadIndex(ctx); err == nil || !strings.Contains(err.Error(), "does not match its name") {
		t.Fatalf("LoadIndex with a renamed index object: %v", err)
	}
}

// TestObjects covers SaveObject and LoadObject: name, associated data and
// size limit.
func TestObjects(t *testing.T) {
	f := newFixture(t)
	pt := []byte(`{"some":"plaintext"}`)
	id, err := f.r.SaveObject(ctx, store.Snapshots, crypt.ADSnapshot, pt)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.r.LoadObject(ctx, store.Snapshots, id.String(), crypt.ADSnapshot, 1<<10)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("LoadObject: %q, %v", got, err)
	}
	env, err := store.ReadAll(ctx, f.st, store.Snapshots, id.String(), 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	if crypt.ContentID(env) != id {
		t.Fatal("object not named by the SHA-256 of its bytes")
	}
	renamed := blob.ID{1, 2, 3}
	if err := f.st.Put(ctx, store.Snapshots, renamed.String(), bytes.NewReader(env), int64(len(env))); err != nil {
		t.Fatal(err)
	}
	// The envelope copied into another kind under its true name.
	if err := f.st.Put(ctx, store.Index, id.String(), bytes.NewReader(env), int64(len(env))); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		kind  store.Kind
		obj   string
		label string
		limit int64
		is    error
	}{
		{"bytes that do not hash to the name", store.Snapshots, renamed.String(), crypt.ADSnapshot, 1 << 10, nil},
		{"another kind's label", store.Index, id.String(), crypt.ADIndex, 1 << 10, crypt.ErrAuth},
		{"over the limit", store.Snapshots, id.String(), crypt.ADSnapshot, int64(len(pt)) - 1, nil},
		{"missing", store.Snapshots, blob.ID{9}.String(), crypt.ADSnapshot, 1 << 10, store.ErrNotFound},
		{"not an ID", store.Snapshots, "config", crypt.ADSnapshot, 1 << 10, blob.ErrBadID},
	} {
		_, err := f.r.LoadObject(ctx, c.kind, c.obj, c.label, c.limit)
		if err == nil || (c.is != nil && !errors.Is(err, c.is)) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestReadPackRangeRefusesHugeReads(t *testing.T) {
	f := newFixture(t)
	for _, n := range []int64{-1, 1 << 40} {
		if _, err := f.r.ReadPackRange(ctx, blob.ID{1}, 0, n); err == nil {
			t.Errorf("read of %d bytes accepted", n)
		}
	}
}

// TestOpen covers opening: the same device, another device, and stores
// that are not repositories of this version.
func TestOpen(t *testing.T) {
	f := newFixture(t)
	r := f.reopen(t)
	if !reflect.DeepEqual(r.Config(), f.r.Config()) || *r.Gear() != *f.r.Gear() || r.Hash(blob.Data, nil) != f.r.Hash(blob.Data, nil) {
		t.Fatal("a second handle has other keys or config")
	}
	other, err := keys.NewDevice("other")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Open(ctx, f.st, other); !errors.Is(err, repo.ErrNoDeviceKey) {
		t.Errorf("open with another device: %v", err)
	}
	cfg := f.r.Config()
	for _, c := range []struct {
		name   string
		config []byte // nil: no config object
		is     error
	}{
		{"no config", nil, repo.ErrNotRepo},
		{"config not JSON", []byte("not json"), repo.ErrNotRepo},
		{"version 2", configJSON(t, repo.Config{Version: 2, Account: cfg.Account, Created: cfg.Created}), repo.ErrVersion},
		{"version 0", configJSON(t, repo.Config{Account: cfg.Account, Created: cfg.Created}), repo.ErrVersion},
		{"short account", configJSON(t, repo.Config{Version: repo.Version, Account: "abc"}), repo.ErrNotRepo},
		{"upper-case account", configJSON(t, repo.Config{Version: repo.Version, Account: strings.ToUpper(cfg.Account), Created: cfg.Created}), repo.ErrNotRepo},
		{"account not hex", configJSON(t, repo.Config{Version: repo.Version, Account: "0123456789abcdef0123456789abcdeg", Created: cfg.Created}), repo.ErrNotRepo},
	} {
		st, err := local.Create(t.TempDir() + "/s")
		if err != nil {
			t.Fatal(err)
		}
		if c.config != nil {
			if err := st.Put(ctx, store.Config, "config", bytes.NewReader(c.config), int64(len(c.config))); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := repo.Open(ctx, st, f.dev); !errors.Is(err, c.is) {
			t.Errorf("%s: %v, want %v", c.name, err, c.is)
		}
	}
}

func configJSON(t *testing.T, c repo.Config) []byte {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSnapshots(t *testing.T) {
	f := newFixture(t)
	base := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	var ids []blob.ID
	for i := range 3 {
		id, err := f.r.SaveSnapshot(ctx, &snapshot.Snapshot{Time: base.Add(time.Duration(i) * time.Hour),
			Hostname: "h", Paths: []string{"/p"}, Tree: blob.ID{byte(i + 1)}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	r := f.reopen(t)
	all, err := r.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[0].ID != ids[0] || all[2].ID != ids[2] || all[1].Tree != (blob.ID{2}) {
		t.Fatalf("snapshots %+v", all)
	}
	latest, err := r.FindSnapshot(ctx, "latest")
	if err != nil || latest.ID != ids[2] {
		t.Fatalf("latest: %v, %v", latest.ID, err)
	}
	if err := r.DeleteSnapshot(ctx, ids[2]); err != nil {
		t.Fatal(err)
	}
	if latest, err = r.FindSnapshot(ctx, "latest"); err != nil || latest.ID != ids[1] {
		t.Fatalf("latest after delete: %v, %v", latest.ID, err)
	}
	if _, err := r.LoadSnapshot(ctx, ids[2]); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted snapshot: %v", err)
	}
	// An object of another kind in the snapshots directory fails the listing.
	idxID, err := f.r.SaveObject(ctx, store.Snapshots, crypt.ADIndex, []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Snapshots(ctx); !errors.Is(err, crypt.ErrAuth) {
		t.Fatalf("listing with index-labelled object %s: %v", idxID.Short(), err)
	}
}
