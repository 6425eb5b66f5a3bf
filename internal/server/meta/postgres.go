package meta

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Advisory lock keys (pg_advisory_xact_lock) of coffer's database: one
// for creating and upgrading the schema, one for the right to publish.
const (
	lockSchema  int64 = 0x636f666665720001 // "coffer" 0001
	lockPublish int64 = 0x636f666665720002
)

// Session settings of every connection, unless the URL sets them:
// PostgreSQL ends a session idle in a transaction for 30 seconds (a
// frozen publisher holding the right to publish, which holds it for a few
// seconds at most), and probes idle TCP connections so that the session of
// a publisher whose machine died ends, releasing its locks, within a
// minute.
var pgSession = map[string]string{
	"idle_in_transaction_session_timeout": "30000",
	"tcp_keepalives_idle":                 "30",
	"tcp_keepalives_interval":             "10",
	"tcp_keepalives_count":                "3",
	"application_name":                    "coffer",
}

// pgMaxConns is the pool size unless the URL sets pool_max_conns.
const pgMaxConns = 16

// Postgres is the DB on PostgreSQL, which any number of server instances
// may share: every method is one transaction, and transactions that must
// not interleave take row locks in one order (the account's row first,
// the log head's last) or advisory locks.
type Postgres struct {
	pool *pgxpool.Pool
}

var _ DB = (*Postgres)(nil)

// OpenPostgres connects to the database at url (postgres://…) and creates
// or upgrades its schema under an advisory lock, so that instances
// starting together make one schema.
func OpenPostgres(ctx context.Context, url string) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("metadata database URL: %w", err) // pgx leaves the password out
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = pgMaxConns
	}
	for k, v := range pgSession {
		if _, ok := cfg.ConnConfig.RuntimeParams[k]; !ok {
			cfg.ConnConfig.RuntimeParams[k] = v
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to the metadata database: %w", err)
	}
	p := &Postgres{pool: pool}
	if err := p.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("metadata database schema: %w", err)
	}
	return p, nil
}

// Close closes the pool's connections.
func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}

// Ping checks that the database answers a query.
func (p *Postgres) Ping(ctx context.Context) error {
	var one int
	return p.pool.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// maxTries bounds how often tx runs a transaction that PostgreSQL aborted
// as a deadlock victim or a serialization failure.
const maxTries = 5

// tx runs fn in a transaction and commits it if fn succeeds, running it
// again (fn must allow that) if PostgreSQL aborted it to break a deadlock.
func (p *Postgres) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	var err error
	for try := range maxTries {
		if err = pgx.BeginFunc(ctx, p.pool, fn); !retryable(err) {
			return err
		}
		time.Sleep(time.Duration(try+1) * time.Millisecond)
	}
	return err
}

// retryable reports whether err is PostgreSQL's serialization failure or
// deadlock, after which the transaction may simply run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// noRows turns pgx.ErrNoRows into ErrNotFound.
func noRows(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// lockAccount locks the account's row for the rest of the transaction,
// the first lock of any transaction that takes several, and returns
// ErrNotFound if the account does not exist.
func lockAccount(ctx context.Context, tx pgx.Tx, account string) error {
	var one int
	return noRows(tx.QueryRow(ctx, "SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", account).Scan(&one))
}
