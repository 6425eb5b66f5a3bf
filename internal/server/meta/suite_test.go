package meta_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"reflect"
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

// TestExportSQLiteToPostgres checks that a dump of SQLite imported into
// PostgreSQL exports equal and appends after the copied log.
func TestExportSQLiteToPostgres(t *testing.T) {
	src, err := meta.OpenSQLite(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	metatest.PopulateAll(t, src)
	d, err := src.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := pgDB{pgtest.URL(t)}.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if err := dst.Import(ctx, d); err != nil {
		t.Fatal(err)
	}
	d2, err := dst.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d, d2) {
		t.Errorf("PostgreSQL export differs:\n%v\nwant\n%v", d2, d)
	}
}
