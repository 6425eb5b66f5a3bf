package meta

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgForgetExpired deletes the expired rows of table (challenges, tokens or
// pairings), skipping rows another transaction holds, which is deleting
// them or about to use them.
func pgForgetExpired(ctx context.Context, tx pgx.Tx, table, key string, now time.Time) error {
	_, err := tx.Exec(ctx, "DELETE FROM "+table+" WHERE "+key+" IN (SELECT "+key+" FROM "+table+" WHERE expires <= $1 FOR UPDATE SKIP LOCKED)", nanos(now))
	return err
}

// addExpiring inserts a challenge or token hash into table after deleting
// the expired rows of that table.
func (p *Postgres) addExpiring(ctx context.Context, table string, h Hash, account, device string, expires, now time.Time) error {
	return p.tx(ctx, func(tx pgx.Tx) error {
		if err := pgForgetExpired(ctx, tx, table, "hash", now); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO "+table+"(hash, account, device, expires) VALUES ($1, $2, $3, $4)", h[:], account, device, nanos(expires))
		return err
	})
}

// AddChallenge records a challenge.
func (p *Postgres) AddChallenge(ctx context.Context, h Hash, account, device string, expires, now time.Time) error {
	if err := p.addExpiring(ctx, "challenges", h, account, device, expires, now); err != nil {
		return fmt.Errorf("recording a challenge for device %s: %w", device, err)
	}
	return nil
}

// TakeChallenge consumes a live challenge of this account and device: of
// racing takers, the first deletes the row and the others find none.
func (p *Postgres) TakeChallenge(ctx context.Context, h Hash, account, device string, now time.Time) error {
	tag, err := p.pool.Exec(ctx, "DELETE FROM challenges WHERE hash = $1 AND account = $2 AND device = $3 AND expires > $4", h[:], account, device, nanos(now))
	if err == nil && tag.RowsAffected() != 1 {
		err = ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("challenge for device %s: %w", device, err)
	}
	return nil
}

// AddToken records a token.
func (p *Postgres) AddToken(ctx context.Context, h Hash, account, device string, expires, now time.Time) error {
	if err := p.addExpiring(ctx, "tokens", h, account, device, expires, now); err != nil {
		return fmt.Errorf("recording a token for device %s: %w", device, err)
	}
	return nil
}

// Token returns the account and active device of a live token.
func (p *Postgres) Token(ctx context.Context, h Hash, now time.Time) (string, Device, error) {
	var account string
	row := p.pool.QueryRow(ctx, `SELECT t.account, d.id, d.sign_key, d.name, d.rights, d.added_by, d.added, d.revoked
		FROM tokens t JOIN devices d ON d.account = t.account AND d.id = t.device
		WHERE t.hash = $1 AND t.expires > $2 AND d.revoked IS NULL`, h[:], nanos(now))
	d, err := scanDevice(scanFunc(func(dst ...any) error { return row.Scan(append([]any{&account}, dst...)...) }))
	if err != nil {
		return "", Device{}, fmt.Errorf("token: %w", noRows(err))
	}
	return account, d, nil
}

// Ref returns a reference's value and version.
func (p *Postgres) Ref(ctx context.Context, account, name string) ([]byte, int64, error) {
	var value []byte
	var version int64
	err := p.pool.QueryRow(ctx, "SELECT value, version FROM refs WHERE account = $1 AND name = $2", account, name).Scan(&value, &version)
	if err != nil {
		return nil, 0, fmt.Errorf("ref %s: %w", name, noRows(err))
	}
	return value, version, nil
}

// SwapRef compares and swaps a reference. An update is one conditional
// statement; a creation holds the account's row while it counts the refs.
func (p *Postgres) SwapRef(ctx context.Context, account, name string, value []byte, version int64, maxRefs int) (int64, error) {
	var cur int64
	err := p.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if version > 0 {
			cur, err = pgUpdateRef(ctx, tx, account, name, nonNil(value), version)
		} else {
			cur, err = pgCreateRef(ctx, tx, account, name, nonNil(value), maxRefs)
		}
		return err
	})
	if errors.Is(err, ErrConflict) {
		return cur, fmt.Errorf("ref %s: version is %d, not %d: %w", name, cur, version, err)
	}
	if err != nil {
		return 0, fmt.Errorf("ref %s: %w", name, err)
	}
	return cur + 1, nil
}

// pgUpdateRef sets the ref if it has the version, or returns its version
// (0 if none) and ErrConflict.
func pgUpdateRef(ctx context.Context, tx pgx.Tx, account, name string, value []byte, version int64) (int64, error) {
	tag, err := tx.Exec(ctx, "UPDATE refs SET value = $1, version = version + 1 WHERE account = $2 AND name = $3 AND version = $4", value, account, name, version)
	if err != nil || tag.RowsAffected() == 1 {
		return version, err
	}
	return pgRefVersion(ctx, tx, account, name)
}

// pgRefVersion returns a ref's version (0 if none) and ErrConflict.
func pgRefVersion(ctx context.Context, tx pgx.Tx, account, name string) (int64, error) {
	var cur int64
	err := tx.QueryRow(ctx, "SELECT version FROM refs WHERE account = $1 AND name = $2", account, name).Scan(&cur)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, err
	}
	return cur, ErrConflict
}

// pgCreateRef creates the ref at version 1 unless it exists (ErrConflict)
// or the account has maxRefs refs (ErrQuota).
func pgCreateRef(ctx context.Context, tx pgx.Tx, account, name string, value []byte, maxRefs int) (int64, error) {
	if err := lockAccount(ctx, tx, account); err != nil {
		return 0, err
	}
	var n int
	var exists bool
	err := tx.QueryRow(ctx, "SELECT COUNT(*), COALESCE(bool_or(name = $2), false) FROM refs WHERE account = $1", account, name).Scan(&n, &exists)
	switch {
	case err != nil:
		return 0, err
	case exists:
		return pgRefVersion(ctx, tx, account, name)
	case n >= maxRefs:
		return 0, fmt.Errorf("%w: the account has %d refs already", ErrQuota, n)
	}
	_, err = tx.Exec(ctx, "INSERT INTO refs(account, name, value, version) VALUES ($1, $2, $3, 1)", account, name, value)
	return 0, err
}

// Reserve sets aside quota for an upload, holding the account's row while
// it adds up stored and reserved bytes.
func (p *Postgres) Reserve(ctx context.Context, account string, size, quota int64, now time.Time) (int64, error) {
	var id int64
	err := p.tx(ctx, func(tx pgx.Tx) error {
		var stored int64
		if err := tx.QueryRow(ctx, "SELECT bytes FROM accounts WHERE id = $1 FOR UPDATE", account).Scan(&stored); err != nil {
			return noRows(err)
		}
		if _, err := tx.Exec(ctx, "DELETE FROM reservations WHERE account = $1 AND started <= $2", account, nanos(now.Add(-deadReservation))); err != nil {
			return err
		}
		if err := pgCheckQuota(ctx, tx, account, stored, size, quota); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "INSERT INTO reservations(account, bytes, started) VALUES ($1, $2, $3) RETURNING id", account, size, nanos(now)).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("reserving %d bytes for account %s: %w", size, account, err)
	}
	return id, nil
}

// pgCheckQuota returns ErrQuota if quota > 0 and stored bytes, live
// reservations and size exceed it.
func pgCheckQuota(ctx context.Context, tx pgx.Tx, account string, stored, size, quota int64) error {
	if quota <= 0 {
		return nil
	}
	var reserved int64
	if err := tx.QueryRow(ctx, "SELECT COALESCE(SUM(bytes), 0)::bigint FROM reservations WHERE account = $1", account).Scan(&reserved); err != nil {
		return err
	}
	if stored+reserved+size > quota {
		return fmt.Errorf("%w: %d bytes stored, %d being uploaded, %d more would exceed %d", ErrQuota, stored, reserved, size, quota)
	}
	return nil
}

// Release drops a reservation.
func (p *Postgres) Release(ctx context.Context, account string, reservation int64) error {
	if _, err := p.pool.Exec(ctx, "DELETE FROM reservations WHERE id = $1 AND account = $2", reservation, account); err != nil {
		return fmt.Errorf("releasing a reservation of account %s: %w", account, err)
	}
	return nil
}

// Stored turns a reservation into usage.
func (p *Postgres) Stored(ctx context.Context, account string, reservation int64, o Object) error {
	err := p.tx(ctx, func(tx pgx.Tx) error {
		batch := &pgx.Batch{}
		batch.Queue("UPDATE accounts SET objects = objects + 1, bytes = bytes + $1 WHERE id = $2", o.Size, account)
		batch.Queue("DELETE FROM reservations WHERE id = $1 AND account = $2", reservation, account)
		if o.Creator != "" {
			batch.Queue(`INSERT INTO creators(account, kind, name, device) VALUES ($1, $2, $3, $4)
				ON CONFLICT (account, kind, name) DO UPDATE SET device = excluded.device`, account, o.Kind, o.Name, o.Creator)
		}
		return tx.SendBatch(ctx, batch).Close()
	})
	if err != nil {
		return fmt.Errorf("recording %s/%s of account %s: %w", o.Kind, o.Name, account, err)
	}
	return nil
}

// Deleted subtracts a deleted object from the usage.
func (p *Postgres) Deleted(ctx context.Context, account string, o Object) error {
	err := p.tx(ctx, func(tx pgx.Tx) error {
		batch := &pgx.Batch{}
		batch.Queue("UPDATE accounts SET objects = GREATEST(objects - 1, 0), bytes = GREATEST(bytes - $1, 0) WHERE id = $2", o.Size, account)
		batch.Queue("DELETE FROM creators WHERE account = $1 AND kind = $2 AND name = $3", account, o.Kind, o.Name)
		return tx.SendBatch(ctx, batch).Close()
	})
	if err != nil {
		return fmt.Errorf("recording the deletion of %s/%s of account %s: %w", o.Kind, o.Name, account, err)
	}
	return nil
}

// Creator returns the recorded creator of an object.
func (p *Postgres) Creator(ctx context.Context, account, kind, name string) (string, error) {
	var dev string
	err := p.pool.QueryRow(ctx, "SELECT device FROM creators WHERE account = $1 AND kind = $2 AND name = $3", account, kind, name).Scan(&dev)
	if err != nil {
		return "", fmt.Errorf("creator of %s/%s: %w", kind, name, noRows(err))
	}
	return dev, nil
}

// Usage returns every account's usage.
func (p *Postgres) Usage(ctx context.Context) (map[string]Usage, error) {
	rows, err := p.pool.Query(ctx, "SELECT id, objects, bytes FROM accounts")
	if err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	defer rows.Close()
	m := make(map[string]Usage)
	for rows.Next() {
		var id string
		var u Usage
		if err := rows.Scan(&id, &u.Objects, &u.Bytes); err != nil {
			return nil, fmt.Errorf("usage: %w", err)
		}
		m[id] = u
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	return m, nil
}
