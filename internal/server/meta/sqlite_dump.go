package meta

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Export reads every row a Dump holds in one transaction, which takes
// the write lock, so no writer of any process changes the database while
// it is read.
func (s *SQLite) Export(ctx context.Context) (*Dump, error) {
	d := &Dump{}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, t := range dumpTables {
			rows, err := sqliteRows(ctx, tx, t)
			if err != nil {
				return fmt.Errorf("exporting %s: %w", t.name, err)
			}
			d.Tables = append(d.Tables, TableRows{Name: t.name, Rows: rows})
		}
		return nil
	})
	return d, err
}

// sqliteRows reads every row of one table.
func sqliteRows(ctx context.Context, tx *sql.Tx, t dumpTable) ([][]any, error) {
	rows, err := tx.QueryContext(ctx, t.selectSQL("rowid"))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(t.columns))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i := range vals {
			vals[i] = normalize(vals[i])
		}
		out = append(out, vals)
	}
	return out, rows.Err()
}

// Import writes every row of d into the database in one transaction. It
// fails with ErrExists, writing nothing, if the database holds an
// account, a name or a log; settings it holds already are kept.
func (s *SQLite) Import(ctx context.Context, d *Dump) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := sqliteEmpty(ctx, tx); err != nil {
			return err
		}
		for _, t := range dumpTables {
			if err := sqliteInsert(ctx, tx, t, d.Rows(t.name)); err != nil {
				return fmt.Errorf("importing %s: %w", t.name, err)
			}
		}
		return nil
	})
}

// sqliteEmpty returns ErrExists unless every table of emptyTables is
// empty.
func sqliteEmpty(ctx context.Context, tx *sql.Tx) error {
	for _, table := range emptyTables {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("the database holds %s: %w", table, ErrExists)
		}
	}
	return nil
}

// sqliteInsert inserts rows into one table; a setting that exists is
// kept.
func sqliteInsert(ctx context.Context, tx *sql.Tx, t dumpTable, rows [][]any) error {
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(t.columns)), ", ")
	q := fmt.Sprintf("INSERT INTO %s(%s) VALUES (%s)", t.name, strings.Join(t.columns, ", "), marks)
	if t.name == "settings" {
		q += " ON CONFLICT(key) DO NOTHING"
	}
	stmt, err := tx.PrepareContext(ctx, q)
	if err != nil {
		return err
	}
	defer func() { _ = stmt.Close() }() // a failed insert is the error to report
	for _, r := range rows {
		if _, err := stmt.ExecContext(ctx, r...); err != nil {
			return err
		}
	}
	return nil
}
