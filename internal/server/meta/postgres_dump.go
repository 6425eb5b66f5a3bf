package meta

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	xtlog "golang.org/x/mod/sumdb/tlog"
)

// Export reads every row a Dump holds in one repeatable-read transaction,
// a snapshot of the database.
func (p *Postgres) Export(ctx context.Context) (*Dump, error) {
	d := &Dump{}
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err := pgx.BeginTxFunc(ctx, p.pool, opts, func(tx pgx.Tx) error {
		for _, t := range dumpTables {
			rows, err := pgRows(ctx, tx, t)
			if err != nil {
				return fmt.Errorf("exporting %s: %w", t.name, err)
			}
			d.Tables = append(d.Tables, TableRows{Name: t.name, Rows: rows})
		}
		return nil
	})
	return d, err
}

// pgRows reads every row of one table.
func pgRows(ctx context.Context, tx pgx.Tx, t dumpTable) ([][]any, error) {
	rows, err := tx.Query(ctx, t.selectSQL("ord"))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, err
		}
		for i := range vals {
			vals[i] = normalize(vals[i])
		}
		out = append(out, vals)
	}
	return out, rows.Err()
}

// Import writes every row of d into the database in one transaction and
// sets the log head (size and frontier) from the imported hashes. It
// fails with ErrExists, writing nothing, if the database holds an
// account, a name or a log; settings it holds already are kept.
func (p *Postgres) Import(ctx context.Context, d *Dump) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT 1 FROM log_head WHERE id = 0 FOR UPDATE"); err != nil {
			return err
		}
		if err := pgEmpty(ctx, tx); err != nil {
			return err
		}
		for _, t := range dumpTables {
			if err := pgInsert(ctx, tx, t, d.Rows(t.name)); err != nil {
				return fmt.Errorf("importing %s: %w", t.name, err)
			}
		}
		return pgSetLogHead(ctx, tx, int64(len(d.Rows("log_leaves"))))
	})
}

// pgEmpty returns ErrExists unless every table of emptyTables is empty.
func pgEmpty(ctx context.Context, tx pgx.Tx) error {
	for _, table := range emptyTables {
		var n int
		if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("the database holds %s: %w", table, ErrExists)
		}
	}
	return nil
}

// pgInsert copies rows into one table; a setting that exists is kept.
func pgInsert(ctx context.Context, tx pgx.Tx, t dumpTable, rows [][]any) error {
	if t.name == "settings" {
		for _, r := range rows {
			if _, err := tx.Exec(ctx, "INSERT INTO settings(key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", r...); err != nil {
				return err
			}
		}
		return nil
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, t.columns, pgx.CopyFromRows(rows))
	return err
}

// pgSetLogHead stores the size and frontier of a log of n leaves whose
// hashes are stored: frontier[k] is the root of the complete subtree of
// 2^k leaves that bit k of n stands for, at level k and index n>>k - 1.
func pgSetLogHead(ctx context.Context, tx pgx.Tx, n int64) error {
	var frontier [][]byte
	for k := 0; n>>k > 0; k++ {
		if n>>k&1 == 0 {
			frontier = append(frontier, []byte{})
			continue
		}
		var h []byte
		idx := xtlog.StoredHashIndex(k, n>>k-1)
		if err := tx.QueryRow(ctx, "SELECT hash FROM log_hashes WHERE idx = $1", idx).Scan(&h); err != nil {
			return fmt.Errorf("log frontier: stored hash %d: %w", idx, err)
		}
		frontier = append(frontier, h)
	}
	if frontier == nil {
		frontier = [][]byte{}
	}
	_, err := tx.Exec(ctx, "UPDATE log_head SET size = $1, frontier = $2 WHERE id = 0", n, frontier)
	return err
}
