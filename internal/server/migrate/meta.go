package migrate

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/coffer-backup/coffer/internal/server/meta"
)

// ErrDiverged means the new database holds data other than the old
// server's: another server's, or the new servers have run on it since.
var ErrDiverged = errors.New("the new metadata database holds other data than the old server's")

// copyMeta imports every row of the old database into the new one in one
// transaction, unless it holds them already, checks that the new
// database is bound to the old log key, and returns the rows.
func (m *migration) copyMeta(ctx context.Context, srcDB meta.DB, vkey string) (*meta.Dump, error) {
	d, err := srcDB.Export(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the old metadata: %w", err)
	}
	err = m.dstDB.Import(ctx, d)
	switch {
	case err == nil:
		m.report.Imported = true
	case errors.Is(err, meta.ErrExists):
		if err := m.sameMeta(ctx, d); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("importing the metadata: %w", err)
	}
	if err := m.dstDB.BindLogKey(ctx, vkey); err != nil {
		return nil, fmt.Errorf("the new database's log key: %w", err)
	}
	return d, nil
}

// sameMeta checks that the new database holds exactly the old rows, as
// after an earlier run.
func (m *migration) sameMeta(ctx context.Context, d *meta.Dump) error {
	have, err := m.dstDB.Export(ctx)
	if err != nil {
		return fmt.Errorf("reading the new metadata: %w", err)
	}
	for _, t := range d.Tables {
		if !reflect.DeepEqual(t.Rows, have.Rows(t.Name)) {
			return fmt.Errorf("table %s differs: %w", t.Name, ErrDiverged)
		}
	}
	return nil
}
