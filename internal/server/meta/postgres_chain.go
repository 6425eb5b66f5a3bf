package meta

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"
)

// pgReader is what reads need of a pool or a transaction.
type pgReader interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// CreateAccount creates an account whose chain is genesis alone, and logs
// the genesis entry. The new account's row is its first lock.
func (p *Postgres) CreateAccount(ctx context.Context, account string, genesis []byte, c Change) (uint64, error) {
	var index uint64
	err := p.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "INSERT INTO accounts(id, created) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", account, nanos(c.At))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrExists
		}
		index, err = pgAppendEntry(ctx, tx, account, 0, genesis, c)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("creating account %s: %w", account, err)
	}
	return index, nil
}

// AppendChain appends entry number seq if the chain holds seq entries and
// the last one hashes to prev, and logs it, holding the account's row
// from the check to the commit.
func (p *Postgres) AppendChain(ctx context.Context, account string, seq uint64, prev Hash, entry []byte, c Change) (uint64, uint64, error) {
	if seq == 0 {
		return 0, 0, fmt.Errorf("chain of account %s: entry 0 is written only by CreateAccount", account)
	}
	var length, index uint64
	err := p.tx(ctx, func(tx pgx.Tx) error {
		if err := lockAccount(ctx, tx, account); err != nil {
			return err
		}
		var head Hash
		var err error
		if length, head, err = pgLastEntry(ctx, tx, account); err != nil {
			return err
		}
		if length != seq || head != prev {
			return ErrConflict
		}
		index, err = pgAppendEntry(ctx, tx, account, seq, entry, c)
		return err
	})
	if errors.Is(err, ErrConflict) {
		return length, 0, fmt.Errorf("chain of account %s holds %d entries, not %d with that head: %w", account, length, seq, err)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("appending entry %d to the chain of account %s: %w", seq, account, err)
	}
	return seq + 1, index, nil
}

// pgAppendEntry stores chain entry seq, applies its change and logs its
// chain leaf, in its caller's transaction, which holds the account's row.
func pgAppendEntry(ctx context.Context, tx pgx.Tx, account string, seq uint64, entry []byte, c Change) (uint64, error) {
	if entry == nil {
		entry = []byte{}
	}
	if _, err := tx.Exec(ctx, "INSERT INTO chain(account, seq, entry) VALUES ($1, $2, $3)", account, int64(seq), entry); err != nil {
		return 0, err
	}
	for _, r := range c.Revoke {
		if err := pgRevoke(ctx, tx, account, r, c); err != nil {
			return 0, err
		}
	}
	for _, d := range c.Add {
		if err := pgAddPrincipal(ctx, tx, account, d); err != nil {
			return 0, err
		}
	}
	return pgLogChainEntry(ctx, tx, account, seq, entry)
}

// pgDevice reads one principal of an account.
func pgDevice(ctx context.Context, q pgReader, account, id string) (Device, error) {
	d, err := scanDevice(q.QueryRow(ctx, "SELECT "+deviceColumns+" FROM devices WHERE account = $1 AND id = $2", account, id))
	return d, noRows(err)
}

// pgRevoke revokes the active principal r.ID if it plays r's role, and
// drops its tokens and challenges.
func pgRevoke(ctx context.Context, tx pgx.Tx, account string, r Device, c Change) error {
	d, err := pgDevice(ctx, tx, account, r.ID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil || !d.Active() || !sameRole(d.Rights, r.Rights) {
		return err
	}
	if _, err := tx.Exec(ctx, "UPDATE devices SET revoked = $3 WHERE account = $1 AND id = $2", account, r.ID, nanos(c.At)); err != nil {
		return err
	}
	for _, q := range []string{
		"DELETE FROM tokens WHERE account = $1 AND device = $2",
		"DELETE FROM challenges WHERE account = $1 AND device = $2",
	} {
		if _, err := tx.Exec(ctx, q, account, r.ID); err != nil {
			return err
		}
	}
	return nil
}

// pgAddPrincipal makes d an active principal of the account (Change.Add).
func pgAddPrincipal(ctx context.Context, tx pgx.Tx, account string, d Device) error {
	old, err := pgDevice(ctx, tx, account, d.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		_, err = tx.Exec(ctx,
			"INSERT INTO devices(account, id, sign_key, name, rights, added_by, added) VALUES ($1, $2, $3, $4, $5, $6, $7)",
			account, d.ID, nonNil(d.SignKey), d.Name, string(d.Rights), d.AddedBy, nanos(d.Added))
		return err
	case err != nil:
		return err
	case old.Rights.Device() && d.Rights.Device():
		return fmt.Errorf("device %s: %w", d.ID, ErrExists)
	case old.Rights.Device():
		return nil // the key keeps its device role
	}
	_, err = tx.Exec(ctx,
		"UPDATE devices SET sign_key = $1, name = $2, rights = $3, added_by = $4, added = $5, revoked = NULL WHERE account = $6 AND id = $7",
		nonNil(d.SignKey), d.Name, string(d.Rights), d.AddedBy, nanos(d.Added), account, d.ID)
	return err
}

// nonNil returns b, or an empty slice for nil, which pgx would send as
// NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// ChainHead returns the number of entries of an account's chain and the
// SHA-256 of the last one, read in one statement (one snapshot).
func (p *Postgres) ChainHead(ctx context.Context, account string) (uint64, Hash, error) {
	var exists bool
	var seq *int64
	var entry []byte
	err := p.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM accounts WHERE id = $1), c.seq, c.entry
		FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT seq, entry FROM chain WHERE account = $1 ORDER BY seq DESC LIMIT 1) c ON true`,
		account).Scan(&exists, &seq, &entry)
	switch {
	case err != nil:
	case !exists:
		err = ErrNotFound
	case seq == nil:
		return 0, Hash{}, nil
	default:
		return uint64(*seq) + 1, sha256.Sum256(entry), nil
	}
	return 0, Hash{}, fmt.Errorf("chain of account %s: %w", account, err)
}

// pgLastEntry returns the length of an account's chain and the SHA-256 of
// its last entry, (0, zero) for none, whether or not the account exists.
func pgLastEntry(ctx context.Context, q pgReader, account string) (uint64, Hash, error) {
	var seq int64
	var entry []byte
	err := q.QueryRow(ctx, "SELECT seq, entry FROM chain WHERE account = $1 ORDER BY seq DESC LIMIT 1", account).Scan(&seq, &entry)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, Hash{}, nil
	}
	if err != nil {
		return 0, Hash{}, err
	}
	return uint64(seq) + 1, sha256.Sum256(entry), nil
}

// pgAccountExists returns ErrNotFound unless the account exists.
func pgAccountExists(ctx context.Context, q pgReader, account string) error {
	var one int
	return noRows(q.QueryRow(ctx, "SELECT 1 FROM accounts WHERE id = $1", account).Scan(&one))
}

// ChainEntries returns entries from, from+1, … of an account's chain: at
// most maxEntries of them, and no more than maxBytes in all unless the
// first alone is larger.
func (p *Postgres) ChainEntries(ctx context.Context, account string, from uint64, maxEntries, maxBytes int) ([][]byte, error) {
	out, err := p.chainEntries(ctx, account, from, maxEntries, maxBytes)
	if err != nil {
		return nil, fmt.Errorf("chain of account %s from entry %d: %w", account, from, err)
	}
	return out, nil
}

// chainEntries reads the entries in one transaction, so that the account
// check and the entries agree.
func (p *Postgres) chainEntries(ctx context.Context, account string, from uint64, maxEntries, maxBytes int) ([][]byte, error) {
	var out [][]byte
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if err := pgAccountExists(ctx, tx, account); err != nil || from > math.MaxInt64 {
			return err
		}
		rows, err := tx.Query(ctx, "SELECT entry FROM chain WHERE account = $1 AND seq >= $2 ORDER BY seq LIMIT $3", account, int64(from), maxEntries)
		if err != nil {
			return err
		}
		out, err = boundedEntries(rows, maxBytes)
		return err
	})
	return out, err
}

// boundedEntries reads entries from rows until they pass maxBytes, with
// at least one, and closes rows.
func boundedEntries(rows pgx.Rows, maxBytes int) ([][]byte, error) {
	defer rows.Close()
	var out [][]byte
	size := 0
	for rows.Next() {
		var e []byte
		if err := rows.Scan(&e); err != nil {
			return nil, err
		}
		if size += len(e); size > maxBytes && len(out) > 0 {
			break
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Device returns one device of an account.
func (p *Postgres) Device(ctx context.Context, account, id string) (Device, error) {
	d, err := pgDevice(ctx, p.pool, account, id)
	if err != nil {
		return Device{}, fmt.Errorf("device %s of account %s: %w", id, account, err)
	}
	return d, nil
}

// Devices returns every device of an account in order of addition.
func (p *Postgres) Devices(ctx context.Context, account string) ([]Device, error) {
	rows, err := p.pool.Query(ctx, "SELECT "+deviceColumns+" FROM devices WHERE account = $1 AND rights IN ($2, $3) ORDER BY ord",
		account, string(Full), string(AppendOnly))
	if err != nil {
		return nil, fmt.Errorf("devices of account %s: %w", account, err)
	}
	ds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Device, error) { return scanDevice(r) })
	if err != nil {
		return nil, fmt.Errorf("devices of account %s: %w", account, err)
	}
	return ds, nil
}
