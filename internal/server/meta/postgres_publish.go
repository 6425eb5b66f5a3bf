package meta

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Publish calls fn in a transaction that holds the publish advisory lock
// (transaction-scoped: PostgreSQL releases it at commit, at rollback, and
// when the session ends, as it does for a killed publisher, a dead
// machine's (keepalives) or one idle in the transaction too long). fn
// sees the publication stored when the lock was taken, so it can tell
// whether another instance's checkpoint already covers what it needs.
func (p *Postgres) Publish(ctx context.Context, fn func(context.Context, Publication) (*Publication, error)) error {
	work := context.WithoutCancel(ctx)
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("waiting to publish a checkpoint: %w", err)
	}
	defer tx.Rollback(work) //nolint:errcheck // after Commit it does nothing; else the error that led here is the one to report
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockPublish); err != nil {
		return fmt.Errorf("waiting to publish a checkpoint: %w", err)
	}
	stored, err := pgPublication(work, tx)
	if err != nil {
		return fmt.Errorf("reading the publication state: %w", err)
	}
	next, err := fn(work, stored)
	if err != nil || next == nil {
		return err
	}
	if err := pgStorePublication(work, tx, next); err != nil {
		return fmt.Errorf("storing the log checkpoint of size %d: %w", next.Size, err)
	}
	if err := tx.Commit(work); err != nil {
		return fmt.Errorf("storing the log checkpoint of size %d: %w", next.Size, err)
	}
	return nil
}

// pgPublication reads the stored checkpoint and witness sizes.
func pgPublication(ctx context.Context, tx pgx.Tx) (Publication, error) {
	var p Publication
	var size, at int64
	err := tx.QueryRow(ctx, "SELECT size, note, published FROM log_checkpoint WHERE id = 0").Scan(&size, &p.Note, &at)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return Publication{}, err
	default:
		p.Size, p.At = uint64(size), fromNanos(at)
	}
	rows, err := tx.Query(ctx, "SELECT vkey, size FROM log_witnesses")
	if err != nil {
		return Publication{}, err
	}
	p.Witnesses = map[string]uint64{}
	var vkey string
	var wsize int64
	_, err = pgx.ForEachRow(rows, []any{&vkey, &wsize}, func() error {
		p.Witnesses[vkey] = uint64(wsize)
		return nil
	})
	return p, err
}

// pgStorePublication stores p's checkpoint unless a larger tree's is
// stored, and its witness sizes.
func pgStorePublication(ctx context.Context, tx pgx.Tx, p *Publication) error {
	batch := &pgx.Batch{}
	batch.Queue(`INSERT INTO log_checkpoint(id, size, note, published) VALUES (0, $1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET size = $1, note = $2, published = $3 WHERE log_checkpoint.size <= $1`,
		int64(p.Size), nonNil(p.Note), nanos(p.At))
	for vkey, size := range p.Witnesses {
		batch.Queue(`INSERT INTO log_witnesses(vkey, size) VALUES ($1, $2)
			ON CONFLICT (vkey) DO UPDATE SET size = $2`, vkey, int64(size))
	}
	return tx.SendBatch(ctx, batch).Close()
}

// BindLogKey records the log's verifier key, or checks it against the
// recorded one; of instances racing on an empty database, the first to
// commit records its key.
func (p *Postgres) BindLogKey(ctx context.Context, vkey string) error {
	var have string
	err := p.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO settings(key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", settingLogKey, vkey); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "SELECT value FROM settings WHERE key = $1", settingLogKey).Scan(&have)
	})
	if err == nil {
		err = checkLogKey(have, vkey)
	}
	if err != nil {
		return fmt.Errorf("log key of the metadata database: %w", err)
	}
	return nil
}
