package migrate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"

	"github.com/coffer-backup/coffer/internal/store"
)

var accountRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// accounts lists the accounts that have a directory of objects.
func (m *migration) accounts() ([]string, error) {
	entries, err := os.ReadDir(m.src.Dir(""))
	if err != nil {
		return nil, fmt.Errorf("listing the accounts' objects: %w", err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && accountRE.MatchString(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// copyObjects copies every object of every account that the bucket lacks,
// skipping those it holds with the same size, and with prune deletes
// from the bucket the objects the old server no longer has. It counts
// the old server's objects afresh in the report.
func (m *migration) copyObjects(ctx context.Context, prune bool) error {
	accts, err := m.accounts()
	if err != nil {
		return err
	}
	m.report.Accounts, m.report.Objects, m.report.Bytes = len(accts), 0, 0
	return eachAccount(ctx, accts, func(ctx context.Context, a string) error {
		if err := m.copyAccount(ctx, a, prune); err != nil {
			return fmt.Errorf("copying the objects of account %s: %w", a, err)
		}
		return nil
	})
}

// copyAccount copies one account's objects, kind by kind.
func (m *migration) copyAccount(ctx context.Context, account string, prune bool) error {
	from, to, err := m.stores(account)
	if err != nil {
		return err
	}
	for _, kind := range store.Kinds {
		have, err := list(ctx, from, kind)
		if err != nil {
			return err
		}
		if err := m.copyKind(ctx, from, to, kind, have); err != nil {
			return err
		}
		if prune {
			if err := m.prune(ctx, to, kind, have); err != nil {
				return err
			}
		}
	}
	return nil
}

// stores returns the old and the new store of an account.
func (m *migration) stores(account string) (from, to store.Store, err error) {
	if from, err = m.src.Account(account); err != nil {
		return nil, nil, err
	}
	to, err = m.dst.Account(account)
	return from, to, err
}

// list returns the size of every object of a kind by name.
func list(ctx context.Context, st store.Store, kind store.Kind) (map[string]int64, error) {
	out := map[string]int64{}
	err := st.List(ctx, kind, func(o store.ObjectInfo) error {
		out[o.Name] = o.Size
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", kind, err)
	}
	return out, nil
}

// copyKind copies the objects of one kind that the new store lacks.
func (m *migration) copyKind(ctx context.Context, from, to store.Store, kind store.Kind, have map[string]int64) error {
	for name, size := range have {
		copied, err := copyObject(ctx, from, to, kind, name, size)
		if err != nil {
			return err
		}
		m.count(func(r *Report) {
			r.Objects++
			r.Bytes += size
			if copied {
				r.Copied++
				r.CopiedBytes += size
				if m.cfg.Progress != nil {
					m.cfg.Progress(*r)
				}
			}
		})
	}
	return nil
}

// copyObject copies one object unless the new store holds it with the
// same size, and reports whether it did. An object of another size there
// is an error: objects never change, so one of them is damaged.
func copyObject(ctx context.Context, from, to store.Store, kind store.Kind, name string, size int64) (bool, error) {
	info, err := to.Stat(ctx, kind, name)
	switch {
	case err == nil && info.Size == size:
		return false, nil
	case err == nil:
		return false, fmt.Errorf("%s/%s is %d bytes in the bucket, %d in the old server", kind, name, info.Size, size)
	case !errors.Is(err, store.ErrNotFound):
		return false, err
	}
	r, err := from.Get(ctx, kind, name, 0, -1)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil // deleted since it was listed
	}
	if err != nil {
		return false, err
	}
	defer r.Close()
	if err := to.Put(ctx, kind, name, r, size); err != nil {
		return false, fmt.Errorf("copying %s/%s: %w", kind, name, err)
	}
	return true, nil
}

// prune deletes from the new store the objects of a kind the old one no
// longer has (sessions ended, packs pruned since the first copy).
func (m *migration) prune(ctx context.Context, to store.Store, kind store.Kind, have map[string]int64) error {
	there, err := list(ctx, to, kind)
	if err != nil {
		return err
	}
	for name := range there {
		if _, ok := have[name]; ok {
			continue
		}
		if err := to.Delete(ctx, kind, name); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("deleting %s/%s: %w", kind, name, err)
		}
		m.count(func(r *Report) { r.Deleted++ })
	}
	return nil
}
