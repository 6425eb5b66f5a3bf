package meta

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	xtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/coffer-backup/coffer/internal/tlog"
)

// schemaV3 adds the transparency log (docs/transparency.md): its leaves by
// index, the x/mod stored hashes by storage index (tlog.StoredHashIndex),
// the latest signed checkpoint (one row), and the account names whose name
// leaves it holds.
const schemaV3 = `
CREATE TABLE log_leaves (
	idx  INTEGER PRIMARY KEY,
	leaf BLOB NOT NULL
);
CREATE TABLE log_hashes (
	idx  INTEGER PRIMARY KEY,
	hash BLOB NOT NULL
);
CREATE TABLE log_checkpoint (
	id   INTEGER PRIMARY KEY CHECK (id = 0),
	size INTEGER NOT NULL,
	note BLOB NOT NULL
);
CREATE TABLE names (
	name    TEXT PRIMARY KEY,
	account TEXT NOT NULL REFERENCES accounts(id),
	idx     INTEGER NOT NULL,
	created INTEGER NOT NULL
);
CREATE INDEX names_account ON names(account);
`

// maxHashBatch bounds the indexes of one stored-hash query: a tile's worth.
const maxHashBatch = tlog.TileWidth

// logChainEntry appends the chain leaf of entry seq of an account
// (docs/transparency.md §T.1) to the log.
func logChainEntry(ctx context.Context, tx *sql.Tx, account string, seq uint64, entry []byte) (uint64, error) {
	id, err := tlog.ParseAccountID(account)
	if err != nil {
		return 0, err
	}
	return appendLeaf(ctx, tx, (&tlog.ChainLeaf{Account: id, Seq: seq, EntryHash: sha256.Sum256(entry)}).Marshal())
}

// appendLeaf appends a leaf and its stored hashes to the log and returns
// its index.
func appendLeaf(ctx context.Context, tx *sql.Tx, leaf []byte) (uint64, error) {
	n, err := logSize(ctx, tx)
	if err != nil {
		return 0, err
	}
	hashes, err := xtlog.StoredHashes(int64(n), leaf, hashReader{ctx, tx})
	if err != nil {
		return 0, fmt.Errorf("log leaf %d: %w", n, err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO log_leaves(idx, leaf) VALUES (?, ?)", int64(n), leaf); err != nil {
		return 0, err
	}
	base := xtlog.StoredHashCount(int64(n))
	for i, h := range hashes {
		if _, err := tx.ExecContext(ctx, "INSERT INTO log_hashes(idx, hash) VALUES (?, ?)", base+int64(i), h[:]); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// logStoredChains logs every chain entry stored before the log existed
// (a database upgraded from schema version 2), account by account in
// sequence order.
func logStoredChains(ctx context.Context, tx *sql.Tx) error {
	type row struct {
		account string
		seq     uint64
		entry   []byte
	}
	rows, err := tx.QueryContext(ctx, "SELECT account, seq, entry FROM chain ORDER BY account, seq")
	if err != nil {
		return err
	}
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.account, &r.seq, &r.entry); err != nil {
			rows.Close()
			return err
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range all {
		if _, err := logChainEntry(ctx, tx, r.account, r.seq, r.entry); err != nil {
			return fmt.Errorf("logging entry %d of the stored chain of account %s: %w", r.seq, r.account, err)
		}
	}
	return nil
}

// hashReader reads stored hashes through a querier; it is an x/mod
// tlog.HashReader.
type hashReader struct {
	ctx context.Context
	q   querier
}

// ReadHashes returns the stored hashes at indexes, in order.
func (r hashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	found := make(map[int64]tlog.Hash, len(indexes))
	for start := 0; start < len(indexes); start += maxHashBatch {
		if err := r.readBatch(indexes[start:min(start+maxHashBatch, len(indexes))], found); err != nil {
			return nil, err
		}
	}
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		h, ok := found[x]
		if !ok {
			return nil, fmt.Errorf("stored log hash %d: %w", x, ErrNotFound)
		}
		out[i] = h
	}
	return out, nil
}

// readBatch adds the stored hashes at indexes to found.
func (r hashReader) readBatch(indexes []int64, found map[int64]tlog.Hash) error {
	args := make([]any, len(indexes))
	for i, x := range indexes {
		args[i] = x
	}
	q := "SELECT idx, hash FROM log_hashes WHERE idx IN (?" + strings.Repeat(", ?", len(indexes)-1) + ")"
	rows, err := r.q.QueryContext(r.ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var x int64
		var h []byte
		if err := rows.Scan(&x, &h); err != nil {
			return err
		}
		if len(h) != len(tlog.Hash{}) {
			return fmt.Errorf("stored log hash %d has %d bytes", x, len(h))
		}
		found[x] = tlog.Hash(h)
	}
	return rows.Err()
}

// logSize returns the number of leaves in the log.
func logSize(ctx context.Context, q querier) (uint64, error) {
	var n int64
	err := q.QueryRowContext(ctx, "SELECT COALESCE(MAX(idx) + 1, 0) FROM log_leaves").Scan(&n)
	return uint64(n), err
}

// LogSize returns the number of leaves in the log.
func (s *SQLite) LogSize(ctx context.Context) (uint64, error) {
	n, err := logSize(ctx, s.db)
	if err != nil {
		return 0, fmt.Errorf("size of the transparency log: %w", err)
	}
	return n, nil
}

// LogHashes returns the stored hashes at indexes.
func (s *SQLite) LogHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	return hashReader{ctx, s.db}.ReadHashes(indexes)
}

// LogLeaves returns the n leaves from index start.
func (s *SQLite) LogLeaves(ctx context.Context, start uint64, n int) ([][]byte, error) {
	if start > math.MaxInt64-uint64(n) {
		return nil, fmt.Errorf("log leaves %d+%d: %w", start, n, ErrNotFound)
	}
	rows, err := s.db.QueryContext(ctx, "SELECT leaf FROM log_leaves WHERE idx >= ? AND idx < ? ORDER BY idx", int64(start), int64(start)+int64(n))
	if err != nil {
		return nil, fmt.Errorf("log leaves from %d: %w", start, err)
	}
	defer rows.Close()
	out := make([][]byte, 0, n)
	for rows.Next() {
		var l []byte
		if err := rows.Scan(&l); err != nil {
			return nil, fmt.Errorf("log leaves from %d: %w", start, err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("log leaves from %d: %w", start, err)
	}
	if len(out) != n {
		return nil, fmt.Errorf("log leaves %d to %d: only %d stored: %w", start, start+uint64(n), len(out), ErrNotFound)
	}
	return out, nil
}

// Checkpoint returns the stored checkpoint and its tree size.
func (s *SQLite) Checkpoint(ctx context.Context) (uint64, []byte, error) {
	var size int64
	var note []byte
	err := s.db.QueryRowContext(ctx, "SELECT size, note FROM log_checkpoint WHERE id = 0").Scan(&size, &note)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, fmt.Errorf("log checkpoint: %w", ErrNotFound)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("log checkpoint: %w", err)
	}
	return uint64(size), note, nil
}

// RegisterName maps a name to an account and logs its name leaf.
func (s *SQLite) RegisterName(ctx context.Context, account, name string, max int, at time.Time) (uint64, error) {
	var index uint64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		index, err = registerName(ctx, tx, account, name, max, at)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("registering name %q for account %s: %w", name, account, err)
	}
	return index, nil
}

func registerName(ctx context.Context, tx *sql.Tx, account, name string, max int, at time.Time) (uint64, error) {
	id, err := tlog.ParseAccountID(account)
	if err != nil {
		return 0, err
	}
	var genesis []byte
	err = tx.QueryRowContext(ctx, "SELECT entry FROM chain WHERE account = ? AND seq = 0", account).Scan(&genesis)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	var taken, owned int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM names WHERE name = ?", name).Scan(&taken); err != nil {
		return 0, err
	}
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM names WHERE account = ?", account).Scan(&owned); err != nil {
		return 0, err
	}
	switch {
	case taken > 0:
		return 0, ErrExists
	case owned >= max:
		return 0, ErrQuota
	}
	leaf := &tlog.NameLeaf{NameHash: tlog.NameHash(name), Account: id, GenesisHash: sha256.Sum256(genesis)}
	index, err := appendLeaf(ctx, tx, leaf.Marshal())
	if err != nil {
		return 0, err
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO names(name, account, idx, created) VALUES (?, ?, ?, ?)", name, account, int64(index), nanos(at))
	return index, err
}

// Name returns the account a name maps to and its leaf's index.
func (s *SQLite) Name(ctx context.Context, name string) (string, uint64, error) {
	var account string
	var index int64
	err := s.db.QueryRowContext(ctx, "SELECT account, idx FROM names WHERE name = ?", name).Scan(&account, &index)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, fmt.Errorf("name %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return "", 0, fmt.Errorf("name %q: %w", name, err)
	}
	return account, uint64(index), nil
}
