package meta

import (
	"context"
	"time"
)

// States of an object in the catalog.
const (
	// ObjectReserved: its upload is in progress (or died); its key may
	// hold bytes, which no reader sees.
	ObjectReserved = "reserved"
	// ObjectStored: the object, whose bytes are at its key. At most one
	// row per account, kind and name is in this state.
	ObjectStored = "stored"
	// ObjectDeleting: its delete was decided; its key is being removed.
	ObjectDeleting = "deleting"
)

// CatalogObject is one row of the object catalog.
type CatalogObject struct {
	Account, Kind, Name string
	// Key is the object's key in the wrapped backend's account store,
	// unique among all rows ever made (a new one per upload).
	Key     string
	Size    int64
	Creator string // the principal that uploaded it, "" if unknown
	State   string
	At      time.Time // when it was reserved, or its delete decided
}

// Catalog is the authoritative record of the objects a server keeps in a
// bucket (objects.Cataloged): which key holds which name, so that
// listings are consistent and paged, a delete is decided by one
// transaction, and a crash leaves only keys recorded in dead rows, which
// a sweeper removes. Every method is one transaction.
type Catalog interface {
	// ReserveObject records o as reserved. It fails with ErrExists if a
	// stored object of that account, kind and name exists.
	ReserveObject(ctx context.Context, o CatalogObject) error
	// CommitObject makes the reserved row of key the stored object of its
	// name. If another row of the name was stored first it fails with
	// ErrExists and leaves the row reserved (for the caller to drop).
	CommitObject(ctx context.Context, key string) error
	// LookupObject returns the stored object of a name, or ErrNotFound.
	LookupObject(ctx context.Context, account, kind, name string) (CatalogObject, error)
	// ListObjects returns up to limit stored objects of a kind whose
	// names sort after after, in name order.
	ListObjects(ctx context.Context, account, kind, after string, limit int) ([]CatalogObject, error)
	// DoomObject moves the stored object of a name to deleting at now and
	// returns it, or fails with ErrNotFound.
	DoomObject(ctx context.Context, account, kind, name string, now time.Time) (CatalogObject, error)
	// DoomAccount moves every row of the account to deleting at now.
	DoomAccount(ctx context.Context, account string, now time.Time) error
	// HasObjects reports whether the account has any row.
	HasObjects(ctx context.Context, account string) (bool, error)
	// ForgetAccount deletes the account's deleting rows, once its keys
	// are removed.
	ForgetAccount(ctx context.Context, account string) error
	// ForgetObject deletes the row of key, whatever its state.
	ForgetObject(ctx context.Context, key string) error
	// DeadObjects returns up to limit rows whose keys may be removed:
	// deleting ones, and reserved ones from before before.
	DeadObjects(ctx context.Context, before time.Time, limit int) ([]CatalogObject, error)
}
