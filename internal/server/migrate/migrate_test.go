package migrate_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	xtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/coffer-backup/coffer/internal/server"
	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/server/meta/metatest"
	"github.com/coffer-backup/coffer/internal/server/meta/pgtest"
	"github.com/coffer-backup/coffer/internal/server/migrate"
	"github.com/coffer-backup/coffer/internal/server/objects"
	"github.com/coffer-backup/coffer/internal/store"
	"github.com/coffer-backup/coffer/internal/store/s3/s3test"
	"github.com/coffer-backup/coffer/internal/tlog"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var ctx = context.Background()

// packsPerAccount is how many packs embedded gives each account.
const packsPerAccount = 3

// embedded makes the data directory of an embedded server: the accounts
// of metatest.PopulateAll with packs (named by their SHA-256) and
// sessions/s1 of AcctB, their usage recorded, a log key and a checkpoint
// it signed of the whole log.
func embedded(t *testing.T) string {
	t.Helper()
	data := t.TempDir()
	db, err := meta.OpenSQLite(filepath.Join(data, "meta.db"))
	must(t, err)
	defer db.Close()
	metatest.PopulateAll(t, db)
	local, err := objects.NewLocal(filepath.Join(data, objects.AccountsDir))
	must(t, err)
	for _, a := range []string{metatest.AcctA, metatest.AcctB} {
		st, err := local.Create(ctx, a)
		must(t, err)
		for range packsPerAccount {
			putPack(t, db, st, a)
		}
	}
	st, err := local.Account(metatest.AcctB)
	must(t, err)
	must(t, store.PutBytes(ctx, st, store.Sessions, "s1", []byte("0123456789")))
	signLog(t, data, db)
	return data
}

// putPack stores a random pack named by its SHA-256 and records it.
func putPack(t *testing.T, db meta.DB, st store.Store, account string) {
	t.Helper()
	b := make([]byte, 1000)
	rand.Read(b)
	sum := sha256.Sum256(b)
	name := hex.EncodeToString(sum[:])
	must(t, store.PutBytes(ctx, st, store.Packs, name, b))
	r, err := db.Reserve(ctx, account, int64(len(b)), 0, time.Now())
	must(t, err)
	must(t, db.Stored(ctx, account, r, meta.Object{Kind: string(store.Packs), Name: name, Size: int64(len(b))}))
}

// signLog makes DATA/log.key, binds it and publishes a checkpoint of the
// whole log signed with it.
func signLog(t *testing.T, data string, db meta.DB) {
	t.Helper()
	skey, vkey, err := tlog.GenerateLogKey("coffer.log/migrate-test")
	must(t, err)
	must(t, os.WriteFile(filepath.Join(data, "log.key"), []byte(skey+"\n"), 0o600))
	must(t, db.BindLogKey(ctx, vkey))
	n, err := db.LogSize(ctx)
	must(t, err)
	root, err := xtlog.TreeHash(int64(n), hashes{db})
	must(t, err)
	signer, err := tlog.NewLogSigner(skey)
	must(t, err)
	note, err := tlog.Sign(tlog.Checkpoint{Origin: signer.Name(), Size: n, Root: root}.Body(), signer)
	must(t, err)
	must(t, db.Publish(ctx, func(context.Context, meta.Publication) (*meta.Publication, error) {
		return &meta.Publication{Size: n, Note: note, At: time.Now()}, nil
	}))
}

type hashes struct{ db meta.DB }

func (h hashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	return h.db.LogHashes(ctx, indexes)
}

// target is a fresh PostgreSQL database and bucket prefix to copy to.
func target(t *testing.T, data string) migrate.Config {
	t.Helper()
	s3srv := s3test.Start(t)
	return migrate.Config{
		Data: data, DB: pgtest.URL(t), Objects: "s3://" + s3srv.Bucket(t) + "/coffer",
		S3Endpoint: s3srv.Endpoint, LogKeyFile: filepath.Join(t.TempDir(), "log.key"), ReadData: true,
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// allObjects is the number of objects embedded makes.
const allObjects = 2*packsPerAccount + 1

// TestMigrate copies an embedded server in a run cancelled midway, one
// that completes it, and one that changes nothing, and checks the copy:
// the checkpoint byte-identical, the same log key, every object's hash.
func TestMigrate(t *testing.T) {
	data := embedded(t)
	cfg := target(t, data)
	cctx, cancel := context.WithCancel(ctx)
	cfg.Progress = func(r migrate.Report) {
		if r.Copied == 2 {
			cancel()
		}
	}
	first, err := migrate.Run(cctx, cfg)
	if !errors.Is(err, context.Canceled) || first.Copied < 2 || first.Copied >= allObjects {
		t.Fatalf("cancelled run: %+v, %v", first, err)
	}
	cfg.Progress = nil
	r, err := migrate.Run(ctx, cfg)
	must(t, err)
	// An upload that finished as the first run was cancelled is on the
	// target without being in that run's count, so the completing run may
	// copy fewer than the rest; the third run below checks that nothing is
	// missing.
	if r.Copied == 0 || r.Copied > allObjects-first.Copied || !r.Imported || r.Checkpoint != 5 || r.LogSize != 5 || r.ReadObjects != 2*packsPerAccount {
		t.Errorf("completing run: %+v", r)
	}
	r, err = migrate.Run(ctx, cfg)
	must(t, err)
	if r.Copied != 0 || r.Deleted != 0 || r.Imported || r.Objects != allObjects {
		t.Errorf("run again: %+v", r)
	}
	sameCheckpoint(t, data, cfg)
	want, _ := server.LogVerifierKey(filepath.Join(data, "log.key"))
	if got, err := server.LogVerifierKey(cfg.LogKeyFile); err != nil || got != want {
		t.Errorf("copied log key: %s, %v; want %s", got, err, want)
	}
}

// sameCheckpoint checks that the new database's checkpoint is the old
// one's, byte for byte.
func sameCheckpoint(t *testing.T, data string, cfg migrate.Config) {
	t.Helper()
	src, err := meta.OpenSQLite(filepath.Join(data, "meta.db"))
	must(t, err)
	defer src.Close()
	dst, err := meta.OpenPostgres(ctx, cfg.DB)
	must(t, err)
	defer dst.Close()
	_, a, err := src.Checkpoint(ctx)
	must(t, err)
	_, b, err := dst.Checkpoint(ctx)
	must(t, err)
	if string(a) != string(b) {
		t.Errorf("checkpoint %q, want %q", b, a)
	}
}

// TestMigrateServerRunning checks that with a server on the data
// directory only the objects are copied, and that objects deleted before
// the server stops are deleted from the bucket too.
func TestMigrateServerRunning(t *testing.T) {
	data := embedded(t)
	cfg := target(t, data)
	unlock, err := server.LockData(data, false)
	must(t, err)
	r, err := migrate.Run(ctx, cfg)
	if !errors.Is(err, migrate.ErrServerRunning) || r.Copied != allObjects || r.Imported {
		t.Fatalf("with a server running: %+v, %v", r, err)
	}
	deleteSession(t, data)
	unlock()
	r, err = migrate.Run(ctx, cfg)
	must(t, err)
	if r.Copied != 0 || r.Deleted != 1 || !r.Imported {
		t.Errorf("after the server stopped: %+v", r)
	}
}

// deleteSession deletes sessions/s1 of AcctB, as a server would.
func deleteSession(t *testing.T, data string) {
	t.Helper()
	db, err := meta.OpenSQLite(filepath.Join(data, "meta.db"))
	must(t, err)
	defer db.Close()
	local, err := objects.NewLocal(filepath.Join(data, objects.AccountsDir))
	must(t, err)
	st, err := local.Account(metatest.AcctB)
	must(t, err)
	must(t, st.Delete(ctx, store.Sessions, "s1"))
	must(t, db.Deleted(ctx, metatest.AcctB, meta.Object{Kind: string(store.Sessions), Name: "s1", Size: 10}))
}

// TestMigrateOtherKey checks that a --log-key file of another key is
// refused before anything is copied.
func TestMigrateOtherKey(t *testing.T) {
	data := embedded(t)
	cfg := migrate.Config{Data: data, DB: "postgres://unused", Objects: "s3://bucket/p", LogKeyFile: filepath.Join(t.TempDir(), "other.key")}
	skey, _, err := tlog.GenerateLogKey("coffer.log/other")
	must(t, err)
	must(t, os.WriteFile(cfg.LogKeyFile, []byte(skey), 0o600))
	if _, err := migrate.Run(ctx, cfg); err == nil {
		t.Fatal("migrated to another log key")
	}
}

// TestMigrateDiverged checks that a database the new servers appended to
// since the migration is refused, not overwritten.
func TestMigrateDiverged(t *testing.T) {
	data := embedded(t)
	cfg := target(t, data)
	_, err := migrate.Run(ctx, cfg)
	must(t, err)
	db, err := meta.OpenPostgres(ctx, cfg.DB)
	must(t, err)
	defer db.Close()
	n, head, err := db.ChainHead(ctx, metatest.AcctB)
	must(t, err)
	_, _, err = db.AppendChain(ctx, metatest.AcctB, n, head, []byte("appended by a new server"), meta.Change{At: time.Now()})
	must(t, err)
	if _, err := migrate.Run(ctx, cfg); !errors.Is(err, migrate.ErrDiverged) {
		t.Fatalf("migrating onto a database that moved on: %v", err)
	}
}
