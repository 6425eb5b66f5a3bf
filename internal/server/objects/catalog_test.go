package objects_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/server/meta/pgtest"
	"github.com/coffer-backup/coffer/internal/server/objects"
	"github.com/coffer-backup/coffer/internal/server/objects/objectstest"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/s3"
	"github.com/coffer-backup/coffer/internal/store/s3/s3test"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// catalogEnv is two Cataloged backends, as two instances, over one new
// PostgreSQL database and one new bucket prefix.
type catalogEnv struct {
	one, two *objects.Cataloged
	db       *meta.Postgres
	srv      *s3test.Server
	loc      s3.Location
}

// raw returns the account's store in the bucket, without the catalog.
func (e catalogEnv) raw(id string) store.Store {
	return s3.New(e.srv.Client(), e.loc.Join(objects.AccountsDir+"/"+id))
}

func newCatalogEnv(t *testing.T, srv *s3test.Server) catalogEnv {
	t.Helper()
	one, two, db, loc := cataloged(t, srv)
	return catalogEnv{one: one, two: two, db: db, srv: srv, loc: loc}
}

// cataloged returns two Cataloged backends over one new database and
// prefix, the database and the prefix.
func cataloged(t *testing.T, srv *s3test.Server) (*objects.Cataloged, *objects.Cataloged, *meta.Postgres, s3.Location) {
	t.Helper()
	db, err := meta.OpenPostgres(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	loc := srv.Location(t, "coffer/server")
	return objects.NewCataloged(newS3(t, loc, srv.Endpoint), db), objects.NewCataloged(newS3(t, loc, srv.Endpoint), db), db, loc
}

// TestCataloged runs the suite on the catalog in PostgreSQL over
// versitygw, two backends sharing both.
func TestCataloged(t *testing.T) {
	srv := s3test.Start(t)
	objectstest.Run(t, func(t *testing.T) (objects.Backend, objects.Backend) {
		a, b, _, _ := cataloged(t, srv)
		return a, b
	})
}

// TestCatalogSweep leaves what crashes leave — a key written under a
// reservation that was never stored, and a delete decided but not done —
// and checks that neither is visible and that Sweep removes both keys
// and rows, and nothing else.
func TestCatalogSweep(t *testing.T) {
	srv := s3test.Start(t)
	e := newCatalogEnv(t, srv)
	c, db := e.one, e.db
	ctx := context.Background()
	id := objectstest.NewAccount()
	st, err := c.Create(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.PutBytes(ctx, st, store.Packs, "kept", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	raw := e.raw(id)
	crashedPut(t, db, raw, id, "orphan")
	crashedDelete(t, db, st, id, "doomed")
	for _, name := range []string{"orphan", "doomed"} {
		if _, err := st.Stat(ctx, store.Packs, name); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s after a crash: %v", name, err)
		}
	}
	if n, err := c.Sweep(ctx, time.Hour); err != nil || n != 1 {
		t.Errorf("Sweep of a young reservation and a deleting row: %d, %v; want only the deleting row", n, err)
	}
	if n, err := c.Sweep(ctx, -time.Second); err != nil || n != 1 {
		t.Errorf("Sweep of the now dead reservation: %d, %v", n, err)
	}
	keys := listKeys(t, raw)
	if len(keys) != 1 {
		t.Errorf("keys after sweeping: %v, want only the kept object's", keys)
	}
	if got, err := store.ReadAll(ctx, st, store.Packs, "kept", 10); err != nil || string(got) != "kept" {
		t.Errorf("the kept object after sweeping: %q, %v", got, err)
	}
}

// crashedPut reserves name and writes its key, as an instance killed
// before storing the row leaves them.
func crashedPut(t *testing.T, db meta.Catalog, raw store.Store, id, name string) {
	t.Helper()
	ctx := context.Background()
	key := name + ".00000000000000000000000000000001"
	o := meta.CatalogObject{Account: id, Kind: string(store.Packs), Name: name, Key: key, Size: 1, At: time.Now()}
	if err := db.ReserveObject(ctx, o); err != nil {
		t.Fatal(err)
	}
	if err := store.PutBytes(ctx, raw, store.Packs, key, []byte("x")); err != nil {
		t.Fatal(err)
	}
}

// crashedDelete stores name and decides its delete without removing the
// key, as an instance killed in between leaves them.
func crashedDelete(t *testing.T, db meta.Catalog, st store.Store, id, name string) {
	t.Helper()
	ctx := context.Background()
	if err := store.PutBytes(ctx, st, store.Packs, name, []byte("doomed")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DoomObject(ctx, id, string(store.Packs), name, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// listKeys lists the raw keys of packs.
func listKeys(t *testing.T, raw store.Store) []string {
	t.Helper()
	var keys []string
	err := raw.List(context.Background(), store.Packs, func(o store.ObjectInfo) error { keys = append(keys, o.Name); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestCatalogRace puts one name through two instances at once, many
// times: exactly one upload wins each time, and no key is left of the
// losers.
func TestCatalogRace(t *testing.T) {
	srv := s3test.Start(t)
	e := newCatalogEnv(t, srv)
	one, two := e.one, e.two
	ctx := context.Background()
	id := objectstest.NewAccount()
	st1, err := one.Create(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	st2, _ := two.Account(id)
	for i := range 8 {
		name := "race-" + string(rune('a'+i))
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j, st := range []store.Store{st1, st2} {
			wg.Go(func() { errs[j] = st.Put(ctx, store.Packs, name, bytes.NewReader([]byte(name)), int64(len(name))) })
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Errorf("%s: %v, %v; want exactly one to succeed", name, errs[0], errs[1])
		}
		for _, err := range errs {
			if err != nil && !errors.Is(err, store.ErrExists) {
				t.Errorf("%s: the loser failed with %v, not ErrExists", name, err)
			}
		}
	}
	if keys := listKeys(t, e.raw(id)); len(keys) != 8 {
		t.Errorf("%d keys after 8 races: %v; want the winners' only", len(keys), keys)
	}
}
