package meta

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"math"
)

// querier is what reads need of a *sql.DB or a *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// CreateAccount creates an account whose chain is genesis alone, and logs
// the genesis entry.
func (s *SQLite) CreateAccount(ctx context.Context, account string, genesis []byte, c Change) (uint64, error) {
	var index uint64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM accounts WHERE id = ?", account).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrExists
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO accounts(id, created) VALUES (?, ?)", account, nanos(c.At)); err != nil {
			return err
		}
		var err error
		index, err = appendEntry(ctx, tx, account, 0, genesis, c)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("creating account %s: %w", account, err)
	}
	return index, nil
}

// AppendChain appends entry number seq if the chain holds seq entries and
// the last one hashes to prev, and logs it.
func (s *SQLite) AppendChain(ctx context.Context, account string, seq uint64, prev Hash, entry []byte, c Change) (uint64, uint64, error) {
	if seq == 0 {
		return 0, 0, fmt.Errorf("chain of account %s: entry 0 is written only by CreateAccount", account)
	}
	var length, index uint64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var head Hash
		var err error
		if length, head, err = chainHead(ctx, tx, account); err != nil {
			return err
		}
		if length != seq || head != prev {
			return ErrConflict
		}
		index, err = appendEntry(ctx, tx, account, seq, entry, c)
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

// appendEntry stores chain entry seq of an account, applies its change to
// the account's principals and appends its chain leaf to the transparency
// log, returning the leaf's index. Every chain entry, the genesis
// included, is written here, inside its caller's transaction, so the
// server never holds an entry it has not logged.
func appendEntry(ctx context.Context, tx *sql.Tx, account string, seq uint64, entry []byte, c Change) (uint64, error) {
	if entry == nil {
		entry = []byte{}
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO chain(account, seq, entry) VALUES (?, ?, ?)", account, int64(seq), entry); err != nil {
		return 0, err
	}
	for _, r := range c.Revoke {
		if err := revoke(ctx, tx, account, r, c); err != nil {
			return 0, err
		}
	}
	for _, d := range c.Add {
		if err := addPrincipal(ctx, tx, account, d); err != nil {
			return 0, err
		}
	}
	return logChainEntry(ctx, tx, account, seq, entry)
}

// sameRole reports whether a row with rights have plays the role want
// names: any device right for a device, else exactly that principal.
func sameRole(have, want Rights) bool { return have == want || have.Device() && want.Device() }

// revoke revokes the active principal r.ID of the account if it plays r's
// role, and drops its tokens and challenges.
func revoke(ctx context.Context, tx *sql.Tx, account string, r Device, c Change) error {
	d, err := scanDevice(tx.QueryRowContext(ctx, "SELECT "+deviceColumns+" FROM devices WHERE account = ? AND id = ?", account, r.ID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil || !d.Active() || !sameRole(d.Rights, r.Rights) {
		return err
	}
	for _, q := range []string{
		"UPDATE devices SET revoked = ?3 WHERE account = ?1 AND id = ?2",
		"DELETE FROM tokens WHERE account = ?1 AND device = ?2",
		"DELETE FROM challenges WHERE account = ?1 AND device = ?2",
	} {
		if _, err := tx.ExecContext(ctx, q, account, r.ID, nanos(c.At)); err != nil {
			return err
		}
	}
	return nil
}

// addPrincipal makes d an active principal of the account (Change.Add).
func addPrincipal(ctx context.Context, tx *sql.Tx, account string, d Device) error {
	old, err := scanDevice(tx.QueryRowContext(ctx, "SELECT "+deviceColumns+" FROM devices WHERE account = ? AND id = ?", account, d.ID))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return insertDevice(ctx, tx, account, d)
	case err != nil:
		return err
	case old.Rights.Device() && d.Rights.Device():
		return fmt.Errorf("device %s: %w", d.ID, ErrExists)
	case old.Rights.Device():
		return nil // the key keeps its device role
	}
	_, err = tx.ExecContext(ctx,
		"UPDATE devices SET sign_key = ?, name = ?, rights = ?, added_by = ?, added = ?, revoked = NULL WHERE account = ? AND id = ?",
		d.SignKey, d.Name, string(d.Rights), d.AddedBy, nanos(d.Added), account, d.ID)
	return err
}

// ChainHead returns the number of entries of an account's chain and the
// SHA-256 of the last one.
func (s *SQLite) ChainHead(ctx context.Context, account string) (uint64, Hash, error) {
	n, h, err := chainHead(ctx, s.db, account)
	if err != nil {
		return 0, Hash{}, fmt.Errorf("chain of account %s: %w", account, err)
	}
	return n, h, nil
}

func chainHead(ctx context.Context, q querier, account string) (uint64, Hash, error) {
	if err := accountExists(ctx, q, account); err != nil {
		return 0, Hash{}, err
	}
	var seq int64
	var entry []byte
	err := q.QueryRowContext(ctx, "SELECT seq, entry FROM chain WHERE account = ? ORDER BY seq DESC LIMIT 1", account).Scan(&seq, &entry)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, Hash{}, nil
	}
	if err != nil {
		return 0, Hash{}, err
	}
	return uint64(seq) + 1, sha256.Sum256(entry), nil
}

// accountExists returns ErrNotFound unless the account exists.
func accountExists(ctx context.Context, q querier, account string) error {
	var n int
	if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM accounts WHERE id = ?", account).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// ChainEntries returns entries from, from+1, … of an account's chain: at
// most maxEntries of them, and no more than maxBytes in all unless the
// first alone is larger.
func (s *SQLite) ChainEntries(ctx context.Context, account string, from uint64, maxEntries, maxBytes int) ([][]byte, error) {
	out, err := s.chainEntries(ctx, account, from, maxEntries, maxBytes)
	if err != nil {
		return nil, fmt.Errorf("chain of account %s from entry %d: %w", account, from, err)
	}
	return out, nil
}

func (s *SQLite) chainEntries(ctx context.Context, account string, from uint64, maxEntries, maxBytes int) ([][]byte, error) {
	if err := accountExists(ctx, s.db, account); err != nil {
		return nil, err
	}
	if from > math.MaxInt64 {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, "SELECT entry FROM chain WHERE account = ? AND seq >= ? ORDER BY seq LIMIT ?", account, int64(from), maxEntries)
	if err != nil {
		return nil, err
	}
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
