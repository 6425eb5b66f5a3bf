package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/coffer-backup/coffer/internal/filelock"
)

// schemaV4 adds the state that server instances sharing the database
// share to publish checkpoints: when the stored checkpoint was published,
// each witness's last cosigned tree size, and the log's verifier key.
const schemaV4 = `
ALTER TABLE log_checkpoint ADD COLUMN published INTEGER NOT NULL DEFAULT 0;
CREATE TABLE log_witnesses (
	vkey TEXT PRIMARY KEY,
	size INTEGER NOT NULL
);
CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
`

// settingLogKey is the settings key of the log's verifier key.
const settingLogKey = "log_vkey"

// publishLockSuffix names, after the database file's path, the file whose
// lock (flock(2)) is the right to publish: held by one handle at a time
// among every process of the host, and released by the kernel when its
// holder dies.
const publishLockSuffix = ".publish"

// lockPoll is how often a handle waiting to publish tries the lock again.
const lockPoll = 5 * time.Millisecond

// lockFile takes an exclusive flock(2) on the file at path, made if
// missing, waiting until ctx is done; it returns the function that
// releases it.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := filelock.TryLock(f, true)
		if err == nil {
			return func() { f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, filelock.ErrLocked) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(lockPoll):
		}
	}
}

// Publish calls fn holding the flock on the file beside the database,
// which one handle at a time holds among the processes of this host, and
// stores the publication it returns in one transaction. fn runs outside
// any transaction, so other writers go on meanwhile.
func (s *SQLite) Publish(ctx context.Context, fn func(context.Context, Publication) (*Publication, error)) error {
	unlock, err := lockFile(ctx, s.path+publishLockSuffix)
	if err != nil {
		return fmt.Errorf("waiting to publish a checkpoint: %w", err)
	}
	defer unlock()
	ctx = context.WithoutCancel(ctx)
	var stored Publication
	stored, err = s.publication(ctx)
	if err != nil {
		return fmt.Errorf("reading the publication state: %w", err)
	}
	next, err := fn(ctx, stored)
	if err != nil || next == nil {
		return err
	}
	if err := s.tx(ctx, func(tx *sql.Tx) error { return storePublication(ctx, tx, next) }); err != nil {
		return fmt.Errorf("storing the log checkpoint of size %d: %w", next.Size, err)
	}
	return nil
}

// publication reads the stored checkpoint and witness sizes.
func (s *SQLite) publication(ctx context.Context) (Publication, error) {
	var p Publication
	var size, at int64
	err := s.db.QueryRowContext(ctx, "SELECT size, note, published FROM log_checkpoint WHERE id = 0").Scan(&size, &p.Note, &at)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return Publication{}, err
	default:
		p.Size, p.At = uint64(size), fromNanos(at)
	}
	p.Witnesses, err = witnessSizes(ctx, s.db)
	return p, err
}

// witnessSizes reads log_witnesses.
func witnessSizes(ctx context.Context, q querier) (map[string]uint64, error) {
	rows, err := q.QueryContext(ctx, "SELECT vkey, size FROM log_witnesses")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]uint64{}
	for rows.Next() {
		var vkey string
		var size int64
		if err := rows.Scan(&vkey, &size); err != nil {
			return nil, err
		}
		m[vkey] = uint64(size)
	}
	return m, rows.Err()
}

// storePublication stores p's checkpoint unless a larger tree's is
// stored, and its witness sizes.
func storePublication(ctx context.Context, tx *sql.Tx, p *Publication) error {
	if p.Size > math.MaxInt64 {
		return fmt.Errorf("log checkpoint of size %d", p.Size)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO log_checkpoint(id, size, note, published) VALUES (0, ?1, ?2, ?3)
		ON CONFLICT(id) DO UPDATE SET size = ?1, note = ?2, published = ?3 WHERE size <= ?1`, int64(p.Size), p.Note, nanos(p.At))
	if err != nil {
		return err
	}
	for vkey, size := range p.Witnesses {
		_, err := tx.ExecContext(ctx, `INSERT INTO log_witnesses(vkey, size) VALUES (?1, ?2)
			ON CONFLICT(vkey) DO UPDATE SET size = ?2`, vkey, int64(size))
		if err != nil {
			return err
		}
	}
	return nil
}

// BindLogKey records the log's verifier key, or checks it against the
// recorded one.
func (s *SQLite) BindLogKey(ctx context.Context, vkey string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING", settingLogKey, vkey); err != nil {
			return err
		}
		var have string
		if err := tx.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = ?", settingLogKey).Scan(&have); err != nil {
			return err
		}
		return checkLogKey(have, vkey)
	})
	if err != nil {
		return fmt.Errorf("log key of the metadata database: %w", err)
	}
	return nil
}

// checkLogKey returns ErrConflict unless the recorded key have is want.
func checkLogKey(have, want string) error {
	if have != want {
		return fmt.Errorf("the database's log is signed by %s, not by %s: %w", have, want, ErrConflict)
	}
	return nil
}
