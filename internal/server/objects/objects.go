// Package objects keeps the objects of a server's accounts (docs/api.md,
// Objects): the Backend interface the server uses, implemented by a local
// directory (the embedded default, DATA/accounts/) and by a prefix of an S3
// bucket (coffer serve --objects s3://BUCKET/PREFIX). Each account is a
// store.Store with the contract of every store (docs/format.md §4.2), laid
// out as accounts/<account>/ and the local store's layout below it.
//
// Nothing a Backend keeps in memory is needed by another instance: any
// number of server processes may share one directory (on one machine) or
// one bucket, and each sees every object the others wrote. Cataloged
// wraps a backend with an authoritative catalog of its objects in the
// PostgreSQL metadata database: uploads under unique keys reserved first,
// paged listings, and a sweeper of keys whose reservation died
// (docs/operations.md, The object catalog).
package objects

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/coffer-backup/coffer/internal/store"
)

// Backend holds the objects of every account. Its methods are safe for
// concurrent use by goroutines and by server instances sharing the
// storage.
type Backend interface {
	// Create makes the object store of a new account and returns it. It
	// fails if the account holds objects already: those of another
	// account whose database record was lost, or of a concurrent
	// registration.
	Create(ctx context.Context, account string) (store.Store, error)
	// Account returns the object store of an existing account. It need
	// not send a request: the metadata database, not the backend, knows
	// which accounts exist.
	Account(account string) (store.Store, error)
	// Remove deletes the object store of an account and everything in
	// it, as when its registration failed.
	Remove(ctx context.Context, account string) error
	// Ping checks that the storage answers, for /healthz.
	Ping(ctx context.Context) error
	// Close releases the backend's resources.
	Close() error
}

var accountRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// ErrBadAccount means an account ID is not 32 lower-case hex digits, so it
// could name a place outside the accounts' space.
var ErrBadAccount = errors.New("an account ID is 32 lower-case hex digits")

// checkAccount refuses an account ID that is not 32 lower-case hex digits.
func checkAccount(account string) error {
	if !accountRE.MatchString(account) {
		return fmt.Errorf("account %q: %w", account, ErrBadAccount)
	}
	return nil
}

// AccountsDir is the directory (local) or key prefix (S3) under which each
// account's objects lie, in accounts/<account>/.
const AccountsDir = "accounts"
