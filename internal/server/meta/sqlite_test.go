package meta_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/server/meta/metatest"
)

var ctx = context.Background()

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// execSQLite runs statements on a database file behind the DB's back.
func execSQLite(t *testing.T, path, stmts string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	must(t, err)
	defer db.Close()
	_, err = db.Exec(stmts)
	must(t, err)
}

func TestSQLiteSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	db, err := meta.OpenSQLite(path)
	must(t, err)
	db.Close()
	execSQLite(t, path, "PRAGMA user_version = 99")
	if db, err := meta.OpenSQLite(path); err == nil {
		db.Close()
		t.Error("opened a database of schema version 99")
	}
	if _, err := meta.OpenSQLite(filepath.Join(t.TempDir(), "a?b")); err == nil {
		t.Error("accepted a path with '?'")
	}
}

// TestSQLiteUpgrade opens databases of schema versions 1 to 3: they get
// the tables they lack, the chain entries of a version 2 database are
// logged, account by account, and those of a version 3 database, logged
// already, are not logged again.
func TestSQLiteUpgrade(t *testing.T) {
	const (
		dropV4 = "DROP TABLE settings; DROP TABLE log_witnesses; ALTER TABLE log_checkpoint DROP COLUMN published;"
		dropV3 = dropV4 + "DROP TABLE names; DROP TABLE log_checkpoint; DROP TABLE log_hashes; DROP TABLE log_leaves;"
	)
	for _, tc := range []struct {
		version   int
		drop      string
		populated bool // whether the database holds accounts, logged after the upgrade
	}{
		{1, dropV3 + "DROP TABLE pairing_slots; DROP TABLE pairings; DROP TABLE chain;", false},
		{2, dropV3, true},
		{3, dropV4, true},
	} {
		path := filepath.Join(t.TempDir(), "meta.db")
		db, err := meta.OpenSQLite(path)
		must(t, err)
		if tc.populated {
			metatest.Populate(t, db)
		}
		db.Close()
		execSQLite(t, path, fmt.Sprintf("%s PRAGMA user_version = %d", tc.drop, tc.version))
		db, err = meta.OpenSQLite(path)
		must(t, err)
		defer db.Close()
		var want [][]byte
		if tc.populated {
			want = metatest.PopulatedLeaves(t)
		}
		metatest.CheckLog(t, db, want)
		if _, err := db.CreateAccount(ctx, fmt.Sprintf("%032x", 3), []byte("g"), meta.Change{}); err != nil {
			t.Errorf("version %d upgraded: %v", tc.version, err)
		}
		must(t, db.BindLogKey(ctx, "log.test+01234567+AAAA"))
	}
}
