package meta

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// pgSchemas are the PostgreSQL schema's versions: pgSchemas[i] upgrades
// a database of version i (0: empty) to version i+1. The version is the
// one row of coffer_schema.
var pgSchemas = []string{pgSchemaV1, pgSchemaV2}

// pgSchemaV1 holds what SQLite's schema version 4 does, with a log head
// row that serializes appends to the log and holds its frontier, and an
// order for devices.
// Times are Unix nanoseconds (UTC); hashes are 32-byte BYTEA.
const pgSchemaV1 = `
CREATE TABLE coffer_schema (version INTEGER NOT NULL);
INSERT INTO coffer_schema VALUES (0);
CREATE TABLE accounts (
	id      TEXT PRIMARY KEY,
	created BIGINT NOT NULL,
	objects BIGINT NOT NULL DEFAULT 0,
	bytes   BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE devices (
	account  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	id       TEXT NOT NULL,
	ord      BIGINT GENERATED ALWAYS AS IDENTITY,
	sign_key BYTEA NOT NULL,
	name     TEXT NOT NULL,
	rights   TEXT NOT NULL,
	added_by TEXT NOT NULL,
	added    BIGINT NOT NULL,
	revoked  BIGINT,
	PRIMARY KEY (account, id)
);
CREATE TABLE challenges (
	hash    BYTEA PRIMARY KEY,
	account TEXT NOT NULL,
	device  TEXT NOT NULL,
	expires BIGINT NOT NULL
);
CREATE INDEX challenges_expires ON challenges(expires);
CREATE INDEX challenges_device ON challenges(account, device);
CREATE TABLE tokens (
	hash    BYTEA PRIMARY KEY,
	account TEXT NOT NULL,
	device  TEXT NOT NULL,
	expires BIGINT NOT NULL
);
CREATE INDEX tokens_expires ON tokens(expires);
CREATE INDEX tokens_device ON tokens(account, device);
CREATE TABLE refs (
	account TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name    TEXT NOT NULL,
	value   BYTEA NOT NULL,
	version BIGINT NOT NULL,
	PRIMARY KEY (account, name)
);
CREATE TABLE reservations (
	id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	account TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	bytes   BIGINT NOT NULL,
	started BIGINT NOT NULL
);
CREATE INDEX reservations_account ON reservations(account, started);
CREATE TABLE creators (
	account TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	kind    TEXT NOT NULL,
	name    TEXT NOT NULL,
	device  TEXT NOT NULL,
	PRIMARY KEY (account, kind, name)
);
CREATE TABLE chain (
	account TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	seq     BIGINT NOT NULL,
	entry   BYTEA NOT NULL,
	PRIMARY KEY (account, seq)
);
CREATE TABLE pairings (
	id      TEXT PRIMARY KEY,
	account TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	expires BIGINT NOT NULL
);
CREATE INDEX pairings_account ON pairings(account, expires);
CREATE INDEX pairings_expires ON pairings(expires);
CREATE TABLE pairing_slots (
	id   TEXT NOT NULL REFERENCES pairings(id) ON DELETE CASCADE,
	slot INTEGER NOT NULL,
	body BYTEA NOT NULL,
	PRIMARY KEY (id, slot)
);
CREATE TABLE log_head (
	id       INTEGER PRIMARY KEY CHECK (id = 0),
	size     BIGINT NOT NULL,
	frontier BYTEA[] NOT NULL
);
INSERT INTO log_head VALUES (0, 0, '{}');
CREATE TABLE log_leaves (
	idx  BIGINT PRIMARY KEY,
	leaf BYTEA NOT NULL
);
CREATE TABLE log_hashes (
	idx  BIGINT PRIMARY KEY,
	hash BYTEA NOT NULL
);
CREATE TABLE log_checkpoint (
	id        INTEGER PRIMARY KEY CHECK (id = 0),
	size      BIGINT NOT NULL,
	note      BYTEA NOT NULL,
	published BIGINT NOT NULL
);
CREATE TABLE log_witnesses (
	vkey TEXT PRIMARY KEY,
	size BIGINT NOT NULL
);
CREATE TABLE names (
	name    TEXT PRIMARY KEY,
	account TEXT NOT NULL REFERENCES accounts(id),
	idx     BIGINT NOT NULL,
	created BIGINT NOT NULL
);
CREATE INDEX names_account ON names(account);
CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
`

// migrate creates or upgrades the schema in one transaction holding the
// schema lock, and refuses a database of a newer schema.
func (p *Postgres) migrate(ctx context.Context) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockSchema); err != nil {
			return err
		}
		v, err := schemaVersionOf(ctx, tx)
		if err != nil {
			return err
		}
		if v > len(pgSchemas) {
			return fmt.Errorf("schema version %d, this coffer knows only %d", v, len(pgSchemas))
		}
		for ; v < len(pgSchemas); v++ {
			if _, err := tx.Exec(ctx, pgSchemas[v]); err != nil {
				return fmt.Errorf("upgrading schema version %d: %w", v, err)
			}
		}
		_, err = tx.Exec(ctx, "UPDATE coffer_schema SET version = $1", len(pgSchemas))
		return err
	})
}

// schemaVersionOf returns the database's schema version, 0 if it has none.
func schemaVersionOf(ctx context.Context, tx pgx.Tx) (int, error) {
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT to_regclass('coffer_schema') IS NOT NULL").Scan(&exists); err != nil || !exists {
		return 0, err
	}
	var v int
	err := tx.QueryRow(ctx, "SELECT version FROM coffer_schema").Scan(&v)
	return v, err
}
