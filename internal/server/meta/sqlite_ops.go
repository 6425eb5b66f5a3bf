package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

const deviceColumns = "id, sign_key, name, rights, added_by, added, revoked"

// scanDevice reads the deviceColumns of one row.
func scanDevice(row interface{ Scan(...any) error }) (Device, error) {
	var d Device
	var added int64
	var revoked sql.NullInt64
	if err := row.Scan(&d.ID, &d.SignKey, &d.Name, &d.Rights, &d.AddedBy, &added, &revoked); err != nil {
		return Device{}, err
	}
	d.Added = fromNanos(added)
	if revoked.Valid {
		d.Revoked = fromNanos(revoked.Int64)
	}
	return d, nil
}

func insertDevice(ctx context.Context, tx *sql.Tx, account string, d Device) error {
	_, err := tx.ExecContext(ctx,
		"INSERT INTO devices(account, id, sign_key, name, rights, added_by, added) VALUES (?, ?, ?, ?, ?, ?, ?)",
		account, d.ID, d.SignKey, d.Name, string(d.Rights), d.AddedBy, nanos(d.Added))
	return err
}

// Device returns one device of an account.
func (s *SQLite) Device(ctx context.Context, account, id string) (Device, error) {
	row := s.db.QueryRowContext(ctx, "SELECT "+deviceColumns+" FROM devices WHERE account = ? AND id = ?", account, id)
	d, err := scanDevice(row)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return Device{}, fmt.Errorf("device %s of account %s: %w", id, account, err)
	}
	return d, nil
}

// Devices returns every device of an account in order of addition.
func (s *SQLite) Devices(ctx context.Context, account string) ([]Device, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+deviceColumns+" FROM devices WHERE account = ? AND rights IN (?, ?) ORDER BY rowid",
		account, string(Full), string(AppendOnly))
	if err != nil {
		return nil, fmt.Errorf("devices of account %s: %w", account, err)
	}
	defer rows.Close()
	var ds []Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, fmt.Errorf("devices of account %s: %w", account, err)
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("devices of account %s: %w", account, err)
	}
	return ds, nil
}

// addExpiring inserts a challenge or token hash into table after deleting
// the expired rows of that table.
func (s *SQLite) addExpiring(ctx context.Context, table string, h Hash, account, device string, expires, now time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE expires <= ?", nanos(now)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO "+table+"(hash, account, device, expires) VALUES (?, ?, ?, ?)",
			h[:], account, device, nanos(expires))
		return err
	})
}

// AddChallenge records a challenge.
func (s *SQLite) AddChallenge(ctx context.Context, h Hash, account, device string, expires, now time.Time) error {
	if err := s.addExpiring(ctx, "challenges", h, account, device, expires, now); err != nil {
		return fmt.Errorf("recording a challenge for device %s: %w", device, err)
	}
	return nil
}

// TakeChallenge consumes a live challenge of this account and device.
func (s *SQLite) TakeChallenge(ctx context.Context, h Hash, account, device string, now time.Time) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	err := affected(s.db.ExecContext(ctx, "DELETE FROM challenges WHERE hash = ? AND account = ? AND device = ? AND expires > ?",
		h[:], account, device, nanos(now)))
	if err != nil {
		return fmt.Errorf("challenge for device %s: %w", device, err)
	}
	return nil
}

// AddToken records a token.
func (s *SQLite) AddToken(ctx context.Context, h Hash, account, device string, expires, now time.Time) error {
	if err := s.addExpiring(ctx, "tokens", h, account, device, expires, now); err != nil {
		return fmt.Errorf("recording a token for device %s: %w", device, err)
	}
	return nil
}

// Token returns the account and active device of a live token.
func (s *SQLite) Token(ctx context.Context, h Hash, now time.Time) (string, Device, error) {
	var account string
	row := s.db.QueryRowContext(ctx, `SELECT t.account, d.id, d.sign_key, d.name, d.rights, d.added_by, d.added, d.revoked
		FROM tokens t JOIN devices d ON d.account = t.account AND d.id = t.device
		WHERE t.hash = ? AND t.expires > ? AND d.revoked IS NULL`, h[:], nanos(now))
	d, err := scanDevice(scanFunc(func(dst ...any) error { return row.Scan(append([]any{&account}, dst...)...) }))
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return "", Device{}, fmt.Errorf("token: %w", err)
	}
	return account, d, nil
}

// scanFunc adapts a function to the Scan method scanDevice needs.
type scanFunc func(...any) error

func (f scanFunc) Scan(dst ...any) error { return f(dst...) }

// Ref returns a reference's value and version.
func (s *SQLite) Ref(ctx context.Context, account, name string) ([]byte, int64, error) {
	var value []byte
	var version int64
	err := s.db.QueryRowContext(ctx, "SELECT value, version FROM refs WHERE account = ? AND name = ?", account, name).Scan(&value, &version)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("ref %s: %w", name, err)
	}
	return value, version, nil
}

// SwapRef compares and swaps a reference.
func (s *SQLite) SwapRef(ctx context.Context, account, name string, value []byte, version int64, maxRefs int) (int64, error) {
	if value == nil {
		value = []byte{} // stored as an empty value, not NULL
	}
	var cur int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, "SELECT version FROM refs WHERE account = ? AND name = ?", account, name).Scan(&cur)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			cur = 0
		case err != nil:
			return err
		}
		if cur != version {
			return ErrConflict
		}
		if cur > 0 {
			_, err := tx.ExecContext(ctx, "UPDATE refs SET value = ?, version = ? WHERE account = ? AND name = ?", value, cur+1, account, name)
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM refs WHERE account = ?", account).Scan(&n); err != nil {
			return err
		}
		if n >= maxRefs {
			return fmt.Errorf("%w: the account has %d refs already", ErrQuota, n)
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO refs(account, name, value, version) VALUES (?, ?, ?, 1)", account, name, value)
		return err
	})
	if errors.Is(err, ErrConflict) {
		return cur, fmt.Errorf("ref %s: version is %d, not %d: %w", name, cur, version, err)
	}
	if err != nil {
		return 0, fmt.Errorf("ref %s: %w", name, err)
	}
	return cur + 1, nil
}

// Reserve sets aside quota for an upload.
func (s *SQLite) Reserve(ctx context.Context, account string, size, quota int64, now time.Time) (int64, error) {
	var id int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		dead := nanos(now.Add(-deadReservation))
		if _, err := tx.ExecContext(ctx, "DELETE FROM reservations WHERE account = ? AND started <= ?", account, dead); err != nil {
			return err
		}
		if quota > 0 {
			var stored, reserved int64
			err := tx.QueryRowContext(ctx, `SELECT bytes, (SELECT COALESCE(SUM(bytes), 0) FROM reservations WHERE account = ?1)
				FROM accounts WHERE id = ?1`, account).Scan(&stored, &reserved)
			if err != nil {
				return err
			}
			if stored+reserved+size > quota {
				return fmt.Errorf("%w: %d bytes stored, %d being uploaded, %d more would exceed %d", ErrQuota, stored, reserved, size, quota)
			}
		}
		res, err := tx.ExecContext(ctx, "INSERT INTO reservations(account, bytes, started) VALUES (?, ?, ?)", account, size, nanos(now))
		if err != nil {
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("reserving %d bytes for account %s: %w", size, account, err)
	}
	return id, nil
}

// Release drops a reservation.
func (s *SQLite) Release(ctx context.Context, account string, reservation int64) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if _, err := s.db.ExecContext(ctx, "DELETE FROM reservations WHERE id = ? AND account = ?", reservation, account); err != nil {
		return fmt.Errorf("releasing a reservation of account %s: %w", account, err)
	}
	return nil
}

// Stored turns a reservation into usage.
func (s *SQLite) Stored(ctx context.Context, account string, reservation int64, o Object) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM reservations WHERE id = ? AND account = ?", reservation, account); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE accounts SET objects = objects + 1, bytes = bytes + ? WHERE id = ?", o.Size, account); err != nil {
			return err
		}
		if o.Creator == "" {
			return nil
		}
		_, err := tx.ExecContext(ctx, "INSERT OR REPLACE INTO creators(account, kind, name, device) VALUES (?, ?, ?, ?)",
			account, o.Kind, o.Name, o.Creator)
		return err
	})
	if err != nil {
		return fmt.Errorf("recording %s/%s of account %s: %w", o.Kind, o.Name, account, err)
	}
	return nil
}

// Deleted subtracts a deleted object from the usage.
func (s *SQLite) Deleted(ctx context.Context, account string, o Object) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE accounts SET objects = MAX(objects - 1, 0), bytes = MAX(bytes - ?, 0) WHERE id = ?", o.Size, account); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "DELETE FROM creators WHERE account = ? AND kind = ? AND name = ?", account, o.Kind, o.Name)
		return err
	})
	if err != nil {
		return fmt.Errorf("recording the deletion of %s/%s of account %s: %w", o.Kind, o.Name, account, err)
	}
	return nil
}

// Creator returns the recorded creator of an object.
func (s *SQLite) Creator(ctx context.Context, account, kind, name string) (string, error) {
	var dev string
	err := s.db.QueryRowContext(ctx, "SELECT device FROM creators WHERE account = ? AND kind = ? AND name = ?", account, kind, name).Scan(&dev)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("creator of %s/%s: %w", kind, name, err)
	}
	return dev, nil
}

// Usage returns every account's usage.
func (s *SQLite) Usage(ctx context.Context) (map[string]Usage, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT id, objects, bytes FROM accounts")
	if err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	defer rows.Close()
	m := make(map[string]Usage)
	for rows.Next() {
		var id string
		var u Usage
		if err := rows.Scan(&id, &u.Objects, &u.Bytes); err != nil {
			return nil, fmt.Errorf("usage: %w", err)
		}
		m[id] = u
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	return m, nil
}
