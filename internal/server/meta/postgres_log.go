package meta

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	xtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/coffer-backup/coffer/internal/tlog"
)

// pgLogChainEntry appends the chain leaf of entry seq of an account to
// the log.
func pgLogChainEntry(ctx context.Context, tx pgx.Tx, account string, seq uint64, entry []byte) (uint64, error) {
	id, err := tlog.ParseAccountID(account)
	if err != nil {
		return 0, err
	}
	return pgAppendLeaf(ctx, tx, (&tlog.ChainLeaf{Account: id, Seq: seq, EntryHash: sha256.Sum256(entry)}).Marshal())
}

// pgAppendLeaf appends a leaf and its stored hashes to the log and
// returns its index. It locks the log head's row, the last lock its
// transaction takes, so appends from every instance take turns and
// indexes follow the order of commits. The row holds the log's frontier,
// the hashes the next append needs, so the lock is held for two round
// trips and the commit.
func pgAppendLeaf(ctx context.Context, tx pgx.Tx, leaf []byte) (uint64, error) {
	var n int64
	var frontier [][]byte
	if err := tx.QueryRow(ctx, "SELECT size, frontier FROM log_head WHERE id = 0 FOR UPDATE").Scan(&n, &frontier); err != nil {
		return 0, fmt.Errorf("log head: %w", err)
	}
	hashes, err := xtlog.StoredHashes(n, leaf, frontierReader{n, frontier, pgHashes{ctx, tx}})
	if err != nil {
		return 0, fmt.Errorf("log leaf %d: %w", n, err)
	}
	base := xtlog.StoredHashCount(n)
	idx := make([]int64, len(hashes))
	hs := make([][]byte, len(hashes))
	for i := range hashes {
		idx[i], hs[i] = base+int64(i), hashes[i][:]
	}
	batch := &pgx.Batch{}
	batch.Queue("INSERT INTO log_leaves(idx, leaf) VALUES ($1, $2)", n, leaf)
	batch.Queue("INSERT INTO log_hashes(idx, hash) SELECT * FROM unnest($1::bigint[], $2::bytea[])", idx, hs)
	batch.Queue("UPDATE log_head SET size = $1, frontier = $2 WHERE id = 0", n+1, nextFrontier(frontier, hashes))
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return 0, err
	}
	return uint64(n), nil
}

// frontierReader reads the stored hashes that appending to a log of n
// leaves needs from the log's frontier: frontier[k], if not empty, is
// the root of the complete subtree of 2^k leaves that bit k of n stands
// for. Others come from the table.
type frontierReader struct {
	n        int64
	frontier [][]byte
	table    xtlog.HashReader
}

// ReadHashes returns the hashes at indexes.
func (r frontierReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		h, ok := r.at(x)
		if !ok {
			return r.table.ReadHashes(indexes)
		}
		out[i] = h
	}
	return out, nil
}

// at returns the frontier's hash at storage index x, if it has it.
func (r frontierReader) at(x int64) (tlog.Hash, bool) {
	for k, h := range r.frontier {
		if len(h) == len(tlog.Hash{}) && r.n>>k&1 == 1 && xtlog.StoredHashIndex(k, r.n>>k-1) == x {
			return tlog.Hash(h), true
		}
	}
	return tlog.Hash{}, false
}

// nextFrontier returns the frontier after an append whose stored hashes
// were hashes: the subtrees of levels below len(hashes)-1 merged into the
// one of that level, whose root is the last hash.
func nextFrontier(frontier [][]byte, hashes []tlog.Hash) [][]byte {
	top := len(hashes) - 1
	next := make([][]byte, max(len(frontier), top+1))
	copy(next[top+1:], frontier[min(top+1, len(frontier)):])
	for k := range top {
		next[k] = []byte{}
	}
	next[top] = hashes[top][:]
	return next
}

// pgHashes reads stored hashes; it is an x/mod tlog.HashReader.
type pgHashes struct {
	ctx context.Context
	q   pgReader
}

// ReadHashes returns the stored hashes at indexes, in order.
func (r pgHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	found := make(map[int64]tlog.Hash, len(indexes))
	rows, err := r.q.Query(r.ctx, "SELECT idx, hash FROM log_hashes WHERE idx = ANY($1)", indexes)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var x int64
		var h []byte
		if err := rows.Scan(&x, &h); err != nil {
			return nil, err
		}
		if len(h) != len(tlog.Hash{}) {
			return nil, fmt.Errorf("stored log hash %d has %d bytes", x, len(h))
		}
		found[x] = tlog.Hash(h)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return inOrder(indexes, found)
}

// inOrder returns found's hashes at indexes, or ErrNotFound for a missing
// one.
func inOrder(indexes []int64, found map[int64]tlog.Hash) ([]tlog.Hash, error) {
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

// LogSize returns the number of leaves in the log.
func (p *Postgres) LogSize(ctx context.Context) (uint64, error) {
	var n int64
	if err := p.pool.QueryRow(ctx, "SELECT size FROM log_head WHERE id = 0").Scan(&n); err != nil {
		return 0, fmt.Errorf("size of the transparency log: %w", err)
	}
	return uint64(n), nil
}

// LogHashes returns the stored hashes at indexes.
func (p *Postgres) LogHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	return pgHashes{ctx, p.pool}.ReadHashes(indexes)
}

// LogLeaves returns the n leaves from index start.
func (p *Postgres) LogLeaves(ctx context.Context, start uint64, n int) ([][]byte, error) {
	if start > math.MaxInt64-uint64(n) {
		return nil, fmt.Errorf("log leaves %d+%d: %w", start, n, ErrNotFound)
	}
	rows, err := p.pool.Query(ctx, "SELECT leaf FROM log_leaves WHERE idx >= $1 AND idx < $2 ORDER BY idx", int64(start), int64(start)+int64(n))
	if err != nil {
		return nil, fmt.Errorf("log leaves from %d: %w", start, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("log leaves from %d: %w", start, err)
	}
	if len(out) != n {
		return nil, fmt.Errorf("log leaves %d to %d: only %d stored: %w", start, start+uint64(n), len(out), ErrNotFound)
	}
	return out, nil
}

// Checkpoint returns the stored checkpoint and its tree size.
func (p *Postgres) Checkpoint(ctx context.Context) (uint64, []byte, error) {
	var size int64
	var note []byte
	err := p.pool.QueryRow(ctx, "SELECT size, note FROM log_checkpoint WHERE id = 0").Scan(&size, &note)
	if err != nil {
		return 0, nil, fmt.Errorf("log checkpoint: %w", noRows(err))
	}
	return uint64(size), note, nil
}

// RegisterName maps a name to an account and logs its name leaf, holding
// the account's row (which serializes the account's names against its
// limit) and then the log head.
func (p *Postgres) RegisterName(ctx context.Context, account, name string, max int, at time.Time) (uint64, error) {
	var index uint64
	err := p.tx(ctx, func(tx pgx.Tx) error {
		var err error
		index, err = pgRegisterName(ctx, tx, account, name, max, at)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("registering name %q for account %s: %w", name, account, err)
	}
	return index, nil
}

func pgRegisterName(ctx context.Context, tx pgx.Tx, account, name string, max int, at time.Time) (uint64, error) {
	id, err := tlog.ParseAccountID(account)
	if err != nil {
		return 0, err
	}
	genesis, err := pgClaimName(ctx, tx, account, name, max, at)
	if err != nil {
		return 0, err
	}
	leaf := &tlog.NameLeaf{NameHash: tlog.NameHash(name), Account: id, GenesisHash: sha256.Sum256(genesis)}
	index, err := pgAppendLeaf(ctx, tx, leaf.Marshal())
	if err != nil {
		return 0, err
	}
	_, err = tx.Exec(ctx, "UPDATE names SET idx = $1 WHERE name = $2", int64(index), name)
	return index, err
}

// pgClaimName locks the account's row, checks that it has a chain and
// fewer than max names, and inserts the name (its leaf index to be set),
// returning the account's genesis entry. The name is claimed before the
// log head is locked: a racer for it waits here for the winner's commit,
// then finds it taken (ErrExists).
func pgClaimName(ctx context.Context, tx pgx.Tx, account, name string, max int, at time.Time) ([]byte, error) {
	if err := lockAccount(ctx, tx, account); err != nil {
		return nil, err
	}
	var genesis []byte
	var owned int
	err := tx.QueryRow(ctx, "SELECT entry, (SELECT COUNT(*) FROM names WHERE account = $1) FROM chain WHERE account = $1 AND seq = 0", account).Scan(&genesis, &owned)
	switch {
	case err != nil:
		return nil, noRows(err)
	case owned >= max:
		return nil, ErrQuota
	}
	tag, err := tx.Exec(ctx, "INSERT INTO names(name, account, idx, created) VALUES ($1, $2, -1, $3) ON CONFLICT (name) DO NOTHING", name, account, nanos(at))
	if err == nil && tag.RowsAffected() == 0 {
		err = ErrExists
	}
	return genesis, err
}

// Name returns the account a name maps to and its leaf's index.
func (p *Postgres) Name(ctx context.Context, name string) (string, uint64, error) {
	var account string
	var index int64
	err := p.pool.QueryRow(ctx, "SELECT account, idx FROM names WHERE name = $1", name).Scan(&account, &index)
	if err != nil {
		return "", 0, fmt.Errorf("name %q: %w", name, noRows(err))
	}
	return account, uint64(index), nil
}
