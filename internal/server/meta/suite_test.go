package meta_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-backup/coffer/internal/server/meta"
	"github.com/coffer-backup/coffer/internal/server/meta/metatest"
	"github.com/coffer-backup/coffer/internal/server/meta/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

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

// pgDB is a database of a throwaway PostgreSQL cluster.
type pgDB struct{ url string }

func (d pgDB) Open() (meta.DB, error) { return meta.OpenPostgres(ctx, d.url) }

func (d pgDB) Rows(table string) (int, error) {
	conn, err := pgx.Connect(ctx, d.url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n)
	return n, err
}

// TestPostgres runs the conformance suite on PostgreSQL.
func TestPostgres(t *testing.T) {
	metatest.Run(t, func(t *testing.T) metatest.Database { return pgDB{pgtest.URL(t)} })
}
