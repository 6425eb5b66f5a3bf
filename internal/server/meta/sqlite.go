package meta

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// schemaVersion is stored in SQLite's user_version; a database written by a
// newer schema is refused, and one of an older version is upgraded by
// adding the tables it lacks: version 1 had no device chains (schemaV2),
// version 2 no transparency log (schemaV3, whose upgrade logs the chain
// entries already stored), version 3 no shared publication state
// (schemaV4).
const schemaVersion = 4

// deadReservation is the age after which an upload's quota reservation is
// presumed abandoned by a crashed server (as local temp files are).
const deadReservation = 24 * time.Hour

// schema creates the tables. Times are Unix nanoseconds (UTC); hashes are
// 32-byte blobs.
const schema = `
CREATE TABLE accounts (
	id      TEXT PRIMARY KEY,
	created INTEGER NOT NULL,
	objects INTEGER NOT NULL DEFAULT 0,
	bytes   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE devices (
	account  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	id       TEXT NOT NULL,
	sign_key BLOB NOT NULL,
	name     TEXT NOT NULL,
	rights   TEXT NOT NULL,
	added_by TEXT NOT NULL,
	added    INTEGER NOT NULL,
	revoked  INTEGER,
	PRIMARY KEY (account, id)
);
CREATE TABLE challenges (
	hash    BLOB PRIMARY KEY,
	account TEXT NOT NULL,
	device  TEXT NOT NULL,
	expires INTEGER NOT NULL
);
CREATE INDEX challenges_expires ON challenges(expires);
CREATE TABLE tokens (
	hash    BLOB PRIMARY KEY,
	account TEXT NOT NULL,
	device  TEXT NOT NULL,
	expires INTEGER NOT NULL
);
CREATE INDEX tokens_expires ON tokens(expires);
CREATE INDEX tokens_device ON tokens(account, device);
CREATE TABLE refs (
	account TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name    TEXT NOT NULL,
	value   BLOB NOT NULL,
	version INTEGER NOT NULL,
	PRIMARY KEY (account, name)
);
CREATE TABLE reservations (
	id      INTEGER PRIMARY KEY,
	account TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	bytes   INTEGER NOT NULL,
	started INTEGER NOT NULL
);
CREATE INDEX reservations_account ON reservations(account, started);
CREATE TABLE creators (
	account TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	kind    TEXT NOT NULL,
	name    TEXT NOT NULL,
	device  TEXT NOT NULL,
	PRIMARY KEY (account, kind, name)
);
` + schemaV2 + schemaV3 + schemaV4

// schemaV2 adds the device chain and the pairing mailbox. An account
// registered under version 1 has no chain.
const schemaV2 = `
CREATE TABLE chain (
	account TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	seq     INTEGER NOT NULL,
	entry   BLOB NOT NULL,
	PRIMARY KEY (account, seq)
);
CREATE TABLE pairings (
	id      TEXT PRIMARY KEY,
	account TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	expires INTEGER NOT NULL
);
CREATE INDEX pairings_account ON pairings(account, expires);
CREATE INDEX pairings_expires ON pairings(expires);
CREATE TABLE pairing_slots (
	id   TEXT NOT NULL REFERENCES pairings(id) ON DELETE CASCADE,
	slot INTEGER NOT NULL,
	body BLOB NOT NULL,
	PRIMARY KEY (id, slot)
);
`

// SQLite is the embedded DB: one SQLite file in WAL mode, shared safely by
// the goroutines of one process and by other processes on the same host.
type SQLite struct {
	db *sql.DB
	// writeMu queues this process's writers in Go: SQLite lets one writer
	// in at a time and makes the others sleep in growing steps, which under
	// load cost far more than waiting in line.
	writeMu sync.Mutex
	// path is the database file; the right to publish is a lock on the
	// file beside it (publishLockSuffix).
	path string
}

var _ DB = (*SQLite)(nil)

// OpenSQLite opens or creates the database file at path (WAL journal, full
// sync, a 10-second busy timeout, write transactions that take the write
// lock at once) and creates or checks its schema.
func OpenSQLite(path string) (*SQLite, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("metadata database %s: the path may not contain '?' or '#'", path)
	}
	dsn := path + "?_busy_timeout=10000&_journal_mode=WAL&_synchronous=FULL&_foreign_keys=1&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening metadata database %s: %w", path, err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	s := &SQLite{db: db, path: path}
	if err := s.migrate(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening metadata database %s: %w", path, err)
	}
	return s, nil
}

// migrate creates the schema in an empty database and refuses a database of
// another schema version.
func (s *SQLite) migrate(ctx context.Context) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var v int
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			return err
		}
		switch v {
		case schemaVersion:
			return nil
		case 0, 1, 2, 3:
			return upgrade(ctx, tx, v)
		}
		return fmt.Errorf("schema version %d, this coffer knows only %d", v, schemaVersion)
	})
}

// upgrade brings a database of schema version v (0: empty) to
// schemaVersion; upgrading one without a log logs its stored chains.
func upgrade(ctx context.Context, tx *sql.Tx, v int) error {
	if _, err := tx.ExecContext(ctx, [...]string{schema, schemaV2 + schemaV3 + schemaV4, schemaV3 + schemaV4, schemaV4}[v]); err != nil {
		return err
	}
	if v < 3 {
		if err := logStoredChains(ctx, tx); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion))
	return err
}

// tx runs fn in a write transaction and commits it if fn succeeds.
func (s *SQLite) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback() // fn's error is the one to report
		return err
	}
	return tx.Commit()
}

// Close closes the database.
func (s *SQLite) Close() error { return s.db.Close() }

// Ping checks that the database answers a query.
func (s *SQLite) Ping(ctx context.Context) error {
	var one int
	return s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// affected returns ErrNotFound unless res changed exactly one row.
func affected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return ErrNotFound
	}
	return nil
}
