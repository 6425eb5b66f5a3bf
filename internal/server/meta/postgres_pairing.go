package meta

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// CreatePairing opens a pairing mailbox, after forgetting expired ones,
// holding the account's row while it counts the live ones.
func (p *Postgres) CreatePairing(ctx context.Context, id, account string, expires, now time.Time, max int) error {
	err := p.tx(ctx, func(tx pgx.Tx) error {
		if err := lockAccount(ctx, tx, account); err != nil {
			return err
		}
		if err := pgForgetExpired(ctx, tx, "pairings", "id", now); err != nil {
			return err
		}
		var live int
		if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM pairings WHERE account = $1 AND expires > $2", account, nanos(now)).Scan(&live); err != nil {
			return err
		}
		if live >= max {
			return fmt.Errorf("%w: the account has %d live pairings", ErrQuota, live)
		}
		return pgInsertPairing(ctx, tx, id, account, expires)
	})
	if err != nil {
		return fmt.Errorf("creating pairing %s: %w", id, err)
	}
	return nil
}

// pgInsertPairing inserts a pairing, or returns ErrExists if its id is
// taken: of racers for one id, those after the first wait for its commit
// and find the id taken.
func pgInsertPairing(ctx context.Context, tx pgx.Tx, id, account string, expires time.Time) error {
	tag, err := tx.Exec(ctx, "INSERT INTO pairings(id, account, expires) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING", id, account, nanos(expires))
	if err == nil && tag.RowsAffected() == 0 {
		return ErrExists
	}
	return err
}

// PutPairing writes a slot of a live pairing, once. The pairing's row is
// held (FOR SHARE) so that it is not forgotten meanwhile.
func (p *Postgres) PutPairing(ctx context.Context, id string, slot int, account string, body []byte, now time.Time) error {
	err := p.tx(ctx, func(tx pgx.Tx) error {
		var owner string
		err := tx.QueryRow(ctx, "SELECT account FROM pairings WHERE id = $1 AND expires > $2 FOR SHARE", id, nanos(now)).Scan(&owner)
		if err != nil {
			return noRows(err)
		}
		if account != "" && owner != account {
			return ErrNotFound
		}
		tag, err := tx.Exec(ctx, "INSERT INTO pairing_slots(id, slot, body) VALUES ($1, $2, $3) ON CONFLICT (id, slot) DO NOTHING", id, slot, nonNil(body))
		if err == nil && tag.RowsAffected() == 0 {
			return ErrExists
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("slot %d of pairing %s: %w", slot, id, err)
	}
	return nil
}

// PairingSlot reads a slot of a live pairing.
func (p *Postgres) PairingSlot(ctx context.Context, id string, slot int, now time.Time) ([]byte, bool, error) {
	var body []byte
	var written bool
	err := p.pool.QueryRow(ctx, `SELECT s.body, s.slot IS NOT NULL FROM pairings p
		LEFT JOIN pairing_slots s ON s.id = p.id AND s.slot = $1 WHERE p.id = $2 AND p.expires > $3`, slot, id, nanos(now)).Scan(&body, &written)
	if err != nil {
		return nil, false, fmt.Errorf("slot %d of pairing %s: %w", slot, id, noRows(err))
	}
	return body, written, nil
}
