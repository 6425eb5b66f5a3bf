package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// CreatePairing opens a pairing mailbox, after forgetting expired ones.
func (s *SQLite) CreatePairing(ctx context.Context, id, account string, expires, now time.Time, max int) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM pairings WHERE expires <= ?", nanos(now)); err != nil {
			return err
		}
		var taken, live int
		err := tx.QueryRowContext(ctx, "SELECT (SELECT COUNT(*) FROM pairings WHERE id = ?), (SELECT COUNT(*) FROM pairings WHERE account = ?)",
			id, account).Scan(&taken, &live)
		switch {
		case err != nil:
			return err
		case taken > 0:
			return ErrExists
		case live >= max:
			return fmt.Errorf("%w: the account has %d live pairings", ErrQuota, live)
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO pairings(id, account, expires) VALUES (?, ?, ?)", id, account, nanos(expires))
		return err
	})
	if err != nil {
		return fmt.Errorf("creating pairing %s: %w", id, err)
	}
	return nil
}

// PutPairing writes a slot of a live pairing, once.
func (s *SQLite) PutPairing(ctx context.Context, id string, slot int, account string, body []byte, now time.Time) error {
	if body == nil {
		body = []byte{}
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var owner string
		var written int
		err := tx.QueryRowContext(ctx, `SELECT account, (SELECT COUNT(*) FROM pairing_slots WHERE id = ?1 AND slot = ?2)
			FROM pairings WHERE id = ?1 AND expires > ?3`, id, slot, nanos(now)).Scan(&owner, &written)
		switch {
		case errors.Is(err, sql.ErrNoRows) || err == nil && account != "" && owner != account:
			return ErrNotFound
		case err != nil:
			return err
		case written > 0:
			return ErrExists
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO pairing_slots(id, slot, body) VALUES (?, ?, ?)", id, slot, body)
		return err
	})
	if err != nil {
		return fmt.Errorf("slot %d of pairing %s: %w", slot, id, err)
	}
	return nil
}

// PairingSlot reads a slot of a live pairing.
func (s *SQLite) PairingSlot(ctx context.Context, id string, slot int, now time.Time) ([]byte, bool, error) {
	var body []byte
	var written bool
	err := s.db.QueryRowContext(ctx, `SELECT s.body, s.slot IS NOT NULL FROM pairings p
		LEFT JOIN pairing_slots s ON s.id = p.id AND s.slot = ? WHERE p.id = ? AND p.expires > ?`, slot, id, nanos(now)).Scan(&body, &written)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return nil, false, fmt.Errorf("slot %d of pairing %s: %w", slot, id, err)
	}
	return body, written, nil
}
