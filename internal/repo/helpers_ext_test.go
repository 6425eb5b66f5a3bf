package repo_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"path/filepath"
	"testing"

	"github.com/coffer-backup/coffer/internal/blob"
	"github.com/coffer-backup/coffer/internal/keys"
	"github.com/coffer-backup/coffer/internal/repo"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/local"
)

var ctx = context.Background()

// fixture is a repository in a local store, with the device that opens it.
type fixture struct {
	st  *local.Store
	dev *keys.Device
	r   *repo.Repo
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := local.Create(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	dev, err := keys.NewDevice("test")
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := repo.Create(ctx, st, dev)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return &fixture{st: st, dev: dev, r: r}
}

// reopen opens the repository again, as another process would: with an
// empty index.
func (f *fixture) reopen(t *testing.T) *repo.Repo {
	t.Helper()
	r, err := repo.Open(ctx, f.st, f.dev)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func save(t *testing.T, r *repo.Repo, typ blob.Type, b []byte) (blob.ID, bool) {
	t.Helper()
	id, added, err := r.SaveBlob(ctx, typ, b)
	if err != nil {
		t.Fatal(err)
	}
	return id, added
}

func flush(t *testing.T, r *repo.Repo) {
	t.Helper()
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func loadIndex(t *testing.T, r *repo.Repo) {
	t.Helper()
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
}

func names(t *testing.T, r *repo.Repo, kind store.Kind) []string {
	t.Helper()
	n, err := r.Names(ctx, kind)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// stored counts, from the pack headers, how many times each blob is in a
// pack.
func stored(t *testing.T, r *repo.Repo) map[blob.ID]int {
	t.Helper()
	sizes, err := r.PackSizes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := make(map[blob.ID]int)
	for id, size := range sizes {
		entries, err := r.PackHeader(ctx, id, size)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			n[e.ID]++
		}
	}
	return n
}

func mustLoad(t *testing.T, r *repo.Repo, typ blob.Type, id blob.ID, want []byte) {
	t.Helper()
	got, err := r.LoadBlob(ctx, typ, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: loaded %d bytes that differ from the %d saved", id.Short(), len(got), len(want))
	}
}

func deleteAll(t *testing.T, st store.Store, kind store.Kind) {
	t.Helper()
	var all []string
	if err := st.List(ctx, kind, func(oi store.ObjectInfo) error { all = append(all, oi.Name); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, n := range all {
		if err := st.Delete(ctx, kind, n); err != nil {
			t.Fatal(err)
		}
	}
}
