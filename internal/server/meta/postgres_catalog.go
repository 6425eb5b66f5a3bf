package meta

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pgSchemaV2 adds the object catalog (Catalog). The partial unique index
// lets many reserved rows of a name race and one of them be stored.
const pgSchemaV2 = `
CREATE TABLE object_catalog (
	key     TEXT PRIMARY KEY,
	account TEXT NOT NULL,
	kind    TEXT NOT NULL,
	name    TEXT NOT NULL,
	size    BIGINT NOT NULL,
	creator TEXT NOT NULL,
	state   TEXT NOT NULL CHECK (state IN ('reserved', 'stored', 'deleting')),
	at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX object_catalog_stored ON object_catalog(account, kind, name) WHERE state = 'stored';
CREATE INDEX object_catalog_account ON object_catalog(account);
CREATE INDEX object_catalog_dead ON object_catalog(state, at) WHERE state <> 'stored';
`

var _ Catalog = (*Postgres)(nil)

const catalogColumns = "key, account, kind, name, size, creator, state, at"

// ReserveObject implements Catalog.
func (p *Postgres) ReserveObject(ctx context.Context, o CatalogObject) error {
	return p.tx(ctx, func(tx pgx.Tx) error {
		switch _, err := lookupObject(ctx, tx, o.Account, o.Kind, o.Name); {
		case err == nil:
			return fmt.Errorf("%s/%s: %w", o.Kind, o.Name, ErrExists)
		case !errors.Is(err, ErrNotFound):
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO object_catalog ("+catalogColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
			o.Key, o.Account, o.Kind, o.Name, o.Size, o.Creator, ObjectReserved, o.At.UnixNano())
		return err
	})
}

// CommitObject implements Catalog.
func (p *Postgres) CommitObject(ctx context.Context, key string) error {
	tag, err := p.pool.Exec(ctx, "UPDATE object_catalog SET state = 'stored' WHERE key = $1 AND state = 'reserved'", key)
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && pe.Code == "23505": // unique_violation
		return fmt.Errorf("committing %s: %w", key, ErrExists)
	case err != nil:
		return fmt.Errorf("committing %s: %w", key, err)
	case tag.RowsAffected() != 1:
		return fmt.Errorf("committing %s: no reservation: %w", key, ErrNotFound)
	}
	return nil
}

// LookupObject implements Catalog.
func (p *Postgres) LookupObject(ctx context.Context, account, kind, name string) (CatalogObject, error) {
	var o CatalogObject
	err := p.tx(ctx, func(tx pgx.Tx) (err error) {
		o, err = lookupObject(ctx, tx, account, kind, name)
		return err
	})
	return o, err
}

// lookupObject returns the stored row of a name, or ErrNotFound.
func lookupObject(ctx context.Context, tx pgx.Tx, account, kind, name string) (CatalogObject, error) {
	row := tx.QueryRow(ctx, "SELECT "+catalogColumns+" FROM object_catalog WHERE account = $1 AND kind = $2 AND name = $3 AND state = 'stored'",
		account, kind, name)
	o, err := scanObject(row)
	return o, noRows(err)
}

// scanObject reads one row of catalogColumns.
func scanObject(row pgx.Row) (CatalogObject, error) {
	var o CatalogObject
	var at int64
	err := row.Scan(&o.Key, &o.Account, &o.Kind, &o.Name, &o.Size, &o.Creator, &o.State, &at)
	o.At = time.Unix(0, at)
	return o, err
}

// ListObjects implements Catalog.
func (p *Postgres) ListObjects(ctx context.Context, account, kind, after string, limit int) ([]CatalogObject, error) {
	return p.queryObjects(ctx, "SELECT "+catalogColumns+" FROM object_catalog WHERE account = $1 AND kind = $2 AND name > $3 AND state = 'stored' ORDER BY name LIMIT $4",
		account, kind, after, limit)
}

// queryObjects returns the rows a query of catalogColumns selects.
func (p *Postgres) queryObjects(ctx context.Context, sql string, args ...any) ([]CatalogObject, error) {
	rows, err := p.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (CatalogObject, error) { return scanObject(r) })
}

// DoomObject implements Catalog.
func (p *Postgres) DoomObject(ctx context.Context, account, kind, name string, now time.Time) (CatalogObject, error) {
	row := p.pool.QueryRow(ctx, "UPDATE object_catalog SET state = 'deleting', at = $4 WHERE account = $1 AND kind = $2 AND name = $3 AND state = 'stored' RETURNING "+catalogColumns,
		account, kind, name, now.UnixNano())
	o, err := scanObject(row)
	return o, noRows(err)
}

// DoomAccount implements Catalog.
func (p *Postgres) DoomAccount(ctx context.Context, account string, now time.Time) error {
	_, err := p.pool.Exec(ctx, "UPDATE object_catalog SET state = 'deleting', at = $2 WHERE account = $1", account, now.UnixNano())
	return err
}

// HasObjects implements Catalog.
func (p *Postgres) HasObjects(ctx context.Context, account string) (bool, error) {
	var has bool
	err := p.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM object_catalog WHERE account = $1)", account).Scan(&has)
	return has, err
}

// ForgetAccount implements Catalog.
func (p *Postgres) ForgetAccount(ctx context.Context, account string) error {
	_, err := p.pool.Exec(ctx, "DELETE FROM object_catalog WHERE account = $1 AND state = 'deleting'", account)
	return err
}

// ForgetObject implements Catalog.
func (p *Postgres) ForgetObject(ctx context.Context, key string) error {
	_, err := p.pool.Exec(ctx, "DELETE FROM object_catalog WHERE key = $1", key)
	return err
}

// DeadObjects implements Catalog.
func (p *Postgres) DeadObjects(ctx context.Context, before time.Time, limit int) ([]CatalogObject, error) {
	return p.queryObjects(ctx, "SELECT "+catalogColumns+" FROM object_catalog WHERE state = 'deleting' OR state = 'reserved' AND at < $1 ORDER BY at LIMIT $2",
		before.UnixNano(), limit)
}
