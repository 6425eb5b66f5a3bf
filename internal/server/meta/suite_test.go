package meta_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/server/meta/metatest"
)

// sqliteDB is a database file of the SQLite implementation.
type sqliteDB struct{ path string }

func (d sqliteDB) Open() (meta.DB, error) { return meta.OpenSQLite(d.path) }

func (d sqliteDB) Rows(table string) (int, error) {
	db, err := sql.Open("sqlite", d.path)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	err = db.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n)
	return n, err
}

// TestSQLite runs the conformance suite on SQLite.
func TestSQLite(t *testing.T) {
	metatest.Run(t, func(t *testing.T) metatest.Database {
		return sqliteDB{filepath.Join(t.TempDir(), "meta.db")}
	})
}
